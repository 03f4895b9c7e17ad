"""The README's main job really learns the density."""

import pytest
import torch

from flowkit.examples import two_moons
from flowkit.image.io import read_png_metadata, save_png


def test_two_moons_beats_gaussian_baseline(tmp_path):
    ll = two_moons.main(steps=300, out=tmp_path / "m.png")
    test = two_moons.two_moons(4096)
    # the flow must clearly beat the best single Gaussian on held-out points
    assert ll > two_moons.gaussian_baseline(test) + 0.5


def test_two_moons_replaces_its_own_plot_and_never_a_users_file(tmp_path):
    plot = tmp_path / "m.png"
    two_moons.main(steps=2, out=plot)
    assert read_png_metadata(plot)[two_moons.MOONS_MARK] == "1"
    two_moons.main(steps=2, out=plot)  # its own plot: replaced
    save_png(tmp_path / "photo.png", torch.rand(3, 4, 4))
    mine = (tmp_path / "photo.png").read_bytes()
    with pytest.raises(ValueError, match="was not written by `flowkit moons`"):
        two_moons.main(steps=2, out=tmp_path / "photo.png")
    assert (tmp_path / "photo.png").read_bytes() == mine
    with pytest.raises(ValueError, match="give --out a .png name"):
        two_moons.main(steps=2, out=tmp_path / "plot.jpg")
    assert not (tmp_path / "plot.jpg").exists()
    with pytest.raises(ValueError, match="no such folder"):
        two_moons.main(steps=2, out=tmp_path / "nowhere" / "plot.png")
