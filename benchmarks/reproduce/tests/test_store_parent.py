"""benchmarks.reproduce.store_parent: a run's final weights in float16 under parents/ with their lineage record,
checked against the run, never overwritten, bad input refused in one line."""

import json
import shutil

import pytest
import torch

from benchmarks.reproduce import common, ship_weights, store_parent
from flowkit.models import build, load_model
from flowkit.train.checkpoint import save_checkpoint

CONFIG = {"seed": 1, "iterations": 4, "batch_size": 2, "patch_size": 128, "lr": 5e-5}


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(store_parent, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(ship_weights, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(common, "STORED_PARENTS", tmp_path / "parents")
    monkeypatch.setattr(store_parent, "weights_path", lambda model, scale: tmp_path / "shipped" / "none.safetensors")
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
            train_config=CONFIG,
        )
    return model


def test_stores_the_newest_weights_in_float16_and_recognises_them(run, tmp_path, capsys):
    assert not common.holds_last_weights("g4")
    store_parent.main(["g4"])
    target = tmp_path / "parents" / "g4.safetensors"
    assert f"stored step-00000004.safetensors of g4 as {target}" in capsys.readouterr().out
    stored = load_model(target, expect_model="fgrn", expect_scale=2)
    for key, value in run.state_dict().items():  # float16 of the newest checkpoint, cast back to float32
        expected = value.to(torch.float16).to(value.dtype) if value.is_floating_point() else value
        torch.testing.assert_close(stored.state_dict()[key], expected, rtol=0, atol=0)
    assert common.holds_last_weights("g4")
    assert not common.holds_last_weights("other")  # no such file, no such run


def test_the_lineage_record_outlives_the_run_folder(run, tmp_path, capsys):
    store_parent.main(["g4"])
    record = common.parent_record("g4")
    started = "g4's step-00000004 stored in float16 as parents/g4.safetensors (not shipped)"
    assert record["sha256"] == common.file_metadata(tmp_path / "parents" / "g4.safetensors")["flowkit.sha256"]
    assert record["started_from"] == started and record["shipped_sha256"] is None
    assert [(e["run"], e["iterations"], e["started_from"]) for e in record["ledger"]] == [
        ("g4", 4, "random initialisation")
    ]
    from_folder = ship_weights.parent_lineage("g4", None, ship_weights.SOURCES)
    shutil.rmtree(tmp_path / "runs" / "g4")  # a new machine: the run folder is gone, the committed files are not
    assert not common.holds_last_weights("g4")
    assert ship_weights.parent_lineage("g4", None, ship_weights.SOURCES) == from_folder == (record["ledger"], started)
    # a record of other weights is not this file's
    (tmp_path / "parents" / "g4.json").write_text(json.dumps(record | {"sha256": "0" * 64}))
    assert common.parent_record("g4") is None and ship_weights.parent_lineage("g4", None, ship_weights.SOURCES) is None


def test_a_parent_stored_without_a_record_gets_one_while_its_run_folder_holds_it(run, tmp_path, capsys):
    store_parent.main(["g4"])
    target = tmp_path / "parents" / "g4.safetensors"
    before, record = target.read_bytes(), (tmp_path / "parents" / "g4.json").read_text()
    (tmp_path / "parents" / "g4.json").unlink()  # as the parents stored before records existed
    store_parent.main(["g4"])
    assert "already holds the final weights of g4; its lineage record is added" in capsys.readouterr().out
    assert target.read_bytes() == before and (tmp_path / "parents" / "g4.json").read_text() == record


def test_a_file_that_is_not_the_runs_last_weights_is_not_recognised(run, tmp_path):
    store_parent.main(["g4"])
    (tmp_path / "runs" / "g4" / "checkpoints" / "step-00000004.safetensors").unlink()  # the run's newest is now step 2
    (tmp_path / "runs" / "g4" / "checkpoints" / "step-00000004.json").unlink()
    assert not common.holds_last_weights("g4")


def test_never_overwrites_and_refuses_a_run_without_weights(run, tmp_path, capsys):
    store_parent.main(["g4"])
    target = tmp_path / "parents" / "g4.safetensors"
    before, record = target.read_bytes(), target.with_suffix(".json").read_bytes()
    for name, message in [("g4", "exists; not overwritten"), ("absent", "no checkpoint or weight average of run")]:
        with pytest.raises(SystemExit) as exc:
            store_parent.main([name])
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
    assert target.read_bytes() == before and target.with_suffix(".json").read_bytes() == record
    target.with_suffix(".json").unlink()  # a file that is not the run's final weights gets no record either
    (tmp_path / "runs" / "g4" / "checkpoints" / "step-00000004.safetensors").unlink()
    (tmp_path / "runs" / "g4" / "checkpoints" / "step-00000004.json").unlink()
    with pytest.raises(SystemExit):
        store_parent.main(["g4"])
    assert "exists; not overwritten" in capsys.readouterr().err and not target.with_suffix(".json").exists()
