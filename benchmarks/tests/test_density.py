"""benchmarks.density: both Glows score the same data in the same units, train, and report."""

import json

import pytest
import torch

from benchmarks import density


def test_both_glows_have_the_same_shape_of_latents_and_score_in_nats():
    ours = density.Glow((1, 8, 8), levels=2, steps=1, hidden=8, bins=17)
    theirs = density.normflows_glow((1, 8, 8), levels=2, steps=1, hidden=8)
    assert ours.base.shape == theirs.q0[0].shape  # the coarsest scale's latent
    x = torch.randint(0, 17, (4, 1, 8, 8)).float()
    for model in (ours, theirs):
        value = density.bpd(model, x, bins=17, draws=2)
        assert torch.isfinite(value) and 0 < value < 20


def test_a_short_run_reports_both_libraries(tmp_path):
    pytest.importorskip("sklearn")
    density.main(["--data", "digits", "--steps", "3", "--seeds", "0", "--hidden", "8", "--glow-steps", "1"]
                 + ["--out", str(tmp_path), "--name", "d"])  # fmt: skip
    report = json.loads((tmp_path / "d.json").read_text())
    assert report["rule"] == density.RULE and report["budget"]["steps"] == 3
    (run,) = report["runs"]
    for key in ("flowkit", "normflows"):
        assert run[key]["test_bpd"] > 0 and run[key]["ms_per_step"] > 0
        samples = density.from_levels(run[key]["samples"]["1.0"], (1, 8, 8))
        assert samples.shape == (density.SAMPLES, 1, 8, 8) and 0 <= samples.min() and samples.max() <= 16
    assert (tmp_path / "d.md").read_text().startswith("| data | seed |")


def test_model_selection_keeps_training_images_apart_and_records_the_step(tmp_path):
    pytest.importorskip("sklearn")
    density.main(["--data", "digits", "--steps", "4", "--seeds", "0", "--hidden", "8", "--glow-steps", "1"]
                 + ["--select-every", "2", "--out", str(tmp_path), "--name", "s"])  # fmt: skip
    report = json.loads((tmp_path / "s.json").read_text())
    (run,) = report["runs"]
    assert report["rule"] == density.SELECT_RULE and run["train"] == 1500 - 150  # 10 % kept for selection
    for key in ("flowkit", "normflows"):
        assert run[key]["selected_step"] in (2, 4) and run[key]["selection_bpd"] > 0
