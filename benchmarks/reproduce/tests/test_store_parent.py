"""benchmarks.reproduce.store_parent: a run's final weights in float16 under parents/, checked against the
run, never overwritten, bad input refused in one line."""

import pytest
import torch

from benchmarks.reproduce import common, store_parent
from flowkit.models import build, load_model
from flowkit.train.checkpoint import save_checkpoint


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(store_parent, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(store_parent, "STORED_PARENTS", tmp_path / "parents")
    torch.manual_seed(0)
    model = build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1, flow_cells=1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    for step in (2, 4):  # the newest checkpoint is the one stored
        with torch.no_grad():
            next(model.parameters()).add_(0.01)
        save_checkpoint(
            tmp_path / "runs" / "g4" / "checkpoints",
            step,
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            train_config={"seed": 1},
        )
    return model


def test_stores_the_newest_weights_in_float16_and_recognises_them(run, tmp_path, capsys):
    assert not store_parent.holds_last_weights("g4")
    store_parent.main(["g4"])
    target = tmp_path / "parents" / "g4.safetensors"
    assert f"stored step-00000004.safetensors of g4 as {target}" in capsys.readouterr().out
    stored = load_model(target, expect_model="fgrn", expect_scale=2)
    for key, value in run.state_dict().items():  # float16 of the newest checkpoint, cast back to float32
        expected = value.to(torch.float16).to(value.dtype) if value.is_floating_point() else value
        torch.testing.assert_close(stored.state_dict()[key], expected, rtol=0, atol=0)
    assert store_parent.holds_last_weights("g4")
    assert not store_parent.holds_last_weights("other")  # no such file, no such run


def test_a_file_that_is_not_the_runs_last_weights_is_not_recognised(run, tmp_path):
    store_parent.main(["g4"])
    (tmp_path / "runs" / "g4" / "checkpoints" / "step-00000004.safetensors").unlink()  # the run's newest is now step 2
    (tmp_path / "runs" / "g4" / "checkpoints" / "step-00000004.json").unlink()
    assert not store_parent.holds_last_weights("g4")


def test_never_overwrites_and_refuses_a_run_without_weights(run, tmp_path, capsys):
    store_parent.main(["g4"])
    target = tmp_path / "parents" / "g4.safetensors"
    before = target.read_bytes()
    for name, message in [("g4", "exists; not overwritten"), ("absent", "no checkpoint or weight average of run")]:
        with pytest.raises(SystemExit) as exc:
            store_parent.main([name])
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
    assert target.read_bytes() == before
