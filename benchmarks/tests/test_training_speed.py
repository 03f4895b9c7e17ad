"""``benchmarks.training_speed``: the trainer's step, timed alone or paired with other overrides."""

import pytest
import torch

from benchmarks import training_speed

SMALL = ["batch_size=2", "patch_size=16", "model_config.channels=8", "model_config.flow_cells=1"]


def test_make_step_takes_the_trainers_autocast():
    step, c = training_speed.make_step("cpu-small-x2", "cpu", [*SMALL, "amp=true"])
    seen = []
    hook = torch.nn.Conv2d.forward

    def spy(self, x):
        out = hook(self, x)
        seen.append(out.dtype)
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.nn.Conv2d, "forward", spy)
        step()
    assert c.amp and torch.bfloat16 in seen


def test_paired_times_both_and_gives_the_ratio_of_pairs(tmp_path):
    args = ["--configs", "cpu-small-x2", "--steps", "2", "--device", "cpu", "--out", str(tmp_path)]
    (r,) = training_speed.main([*args, "--override", *SMALL, "--vs", "amp=true"])
    assert r["vs"]["overrides"] == ["amp=true"] and r["it_per_s"] > 0 and r["vs"]["it_per_s"] > 0 and r["speedup"] > 0
    header = (tmp_path / "training_speed.md").read_text().splitlines()[0]
    assert "it/s with amp=true" in header and "speed-up (median of pairs)" in header
