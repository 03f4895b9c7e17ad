"""The README's main job really learns the density."""

from flowkit.examples import two_moons


def test_two_moons_beats_gaussian_baseline(tmp_path):
    ll = two_moons.main(steps=300, out=tmp_path / "m.png")
    test = two_moons.two_moons(4096)
    # the flow must clearly beat the best single Gaussian on held-out points
    assert ll > two_moons.gaussian_baseline(test) + 0.5
