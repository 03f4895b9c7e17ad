"""The study's evaluation cache: one file per set, each set seeded alike, so evaluating the
sets in separate processes (``benchmarks.reproduce.eval_run``) gives one pass's numbers."""

import torch

from benchmarks.reproduce import common
from flowkit.models import build, save_model
from flowkit.testing import perturb_parameters


def test_sets_evaluated_apart_give_the_numbers_of_one_pass(tmp_path, shared_data, monkeypatch):
    monkeypatch.setattr(common, "RUNS", tmp_path)
    monkeypatch.setenv("FLOWKIT_DATA", str(shared_data))
    torch.manual_seed(0)
    weights = tmp_path / "irn-x2.safetensors"
    save_model(perturb_parameters(build("irn", 2, blocks=1, growth=4), 0.05), weights)  # samples z: seeds matter

    together = common.evaluate_run("together", weights, "irn", 2, sets=("Set5", "Set14"), draws=2)
    torch.manual_seed(123)  # whatever state another process starts in, and the other order
    apart = common.evaluate_run("apart", weights, "irn", 2, sets=("Set14",), draws=2)
    apart |= common.evaluate_run("apart", weights, "irn", 2, sets=("Set5",), draws=2)
    assert apart == together
    assert together["Set14"]["draws"] == 2 and together["Set5"]["images"] == 5
    assert sorted(p.name for p in (tmp_path / "apart" / "eval-draws2").iterdir()) == ["Set14.json", "Set5.json"]

    # cached sets are read back, not evaluated again (the weights are gone now)
    weights.unlink()
    assert common.evaluate_run("apart", weights, "irn", 2, sets=("Set5", "Set14"), draws=2) == together
