"""benchmarks.reproduce.cycle: one parent per cycle, resume or skip each child, the scoring order of the
line's rules, and no start while another training holds a child's folder."""

import json
import threading
import time

import pytest
import torch

from benchmarks.reproduce import common, cycle
from benchmarks.reproduce.common import CONFIGS
from flowkit.models import build
from flowkit.models.pretrained import weights_path
from flowkit.train.checkpoint import save_checkpoint
from flowkit.train.lock import RunLock


@pytest.fixture
def runs(tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    monkeypatch.setattr(cycle, "RUNS", folder)
    monkeypatch.setattr(common, "RUNS", folder)
    return folder


def _config(folder, name, **fields):
    base = {"model": "fgrn", "scale": 2, "iterations": 8, "init_weights": "runs/parent/parent.safetensors"}
    path = folder / f"{name}.json"
    path.write_text(json.dumps({**base, **fields}))
    return str(path)


def _checkpoint(runs, name, step):
    model = build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1)
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    save_checkpoint(
        runs / name / "checkpoints", step, model=model, optimizer=optimizer, scheduler=scheduler, train_config={}
    )


def test_the_committed_eighth_cycle_continues_the_seventh_average_and_is_judged_against_the_shipped_file():
    planned = cycle.plan(["fast-fgrn-x4-gd8g8-s156", "fast-fgrn-x4-gd8g8-s157"], "fgrn-x4-gd8-gen8-pair")
    assert [c.name for c in planned.children] == ["fast-fgrn-x4-gd8g8-s156", "fast-fgrn-x4-gd8g8-s157"]
    assert {c.iterations for c in planned.children} == {8000}
    assert planned.children[0].config == CONFIGS / "fast-fgrn-x4-gd8g8-s156.json"
    assert planned.parent == common.RUNS / "fgrn-x4-gd8-gen7-pair" / "fgrn-x4-gd8-gen7-pair.safetensors"
    assert planned.against == weights_path("fgrn", 4)
    assert planned.pair == cycle.RUNS / "fgrn-x4-gd8-gen8-pair" / "fgrn-x4-gd8-gen8-pair.safetensors"


def test_a_cycle_needs_two_children_of_one_parent_model_and_scale(tmp_path):
    a = _config(tmp_path, "a")
    with pytest.raises(ValueError, match="at least two"):
        cycle.plan([a], "pair")
    with pytest.raises(ValueError, match="different files"):
        cycle.plan([a, _config(tmp_path, "b", init_weights="runs/other/other.safetensors")], "pair")
    with pytest.raises(ValueError, match="different models or scales"):
        cycle.plan([a, _config(tmp_path, "c", scale=4)], "pair")
    with pytest.raises(ValueError, match="continues no file"):
        cycle.plan([a, _config(tmp_path, "d", init_weights=None)], "pair")
    with pytest.raises(ValueError, match="no config"):
        cycle.plan([a, "no-such-config"], "pair")


def test_children_resume_or_are_skipped_and_the_scores_keep_the_rules_order(tmp_path, runs, capsys):
    planned = cycle.plan([_config(tmp_path, "done"), _config(tmp_path, "half"), _config(tmp_path, "new")], "pair")
    _checkpoint(runs, "done", 8)
    _checkpoint(runs, "half", 4)
    cycle.train(planned, tmp_path / "train", dry_run=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "done: finished (step 8 reached)"
    assert lines[1].endswith(f"--out {runs / 'half'} --resume")
    assert lines[2].endswith(f"--out {runs / 'new'}")
    assert len(lines) == 3

    cycle.average_and_score(planned, dry_run=True)
    soup, score = capsys.readouterr().out.splitlines()
    finals = [str(runs / n / "checkpoints" / "step-00000008.safetensors") for n in ("done", "half", "new")]
    assert soup.split()[-4:] == [str(planned.pair), *finals]
    assert score.split()[-6:] == [str(planned.against), str(planned.parent), *finals, str(planned.pair)]

    planned.pair.parent.mkdir(parents=True)
    planned.pair.write_bytes(b"")
    cycle.average_and_score(planned, dry_run=True)
    kept, score = capsys.readouterr().out.splitlines()
    assert kept == f"{planned.pair}: kept" and "validate_weights" in score


def test_unfinished_children_are_not_averaged_and_a_missing_parent_stops_training(tmp_path, runs):
    planned = cycle.plan([_config(tmp_path, "a"), _config(tmp_path, "b")], "pair")
    _checkpoint(runs, "a", 8)
    with pytest.raises(RuntimeError, match="not finished: b"):
        cycle.average_and_score(planned)
    with pytest.raises(RuntimeError, match="does not exist yet"):
        cycle.train(planned, tmp_path / "train")


def test_a_held_folder_is_waited_for(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cycle, "POLL", 0.05)
    lock = RunLock(tmp_path)
    threading.Timer(0.3, lock.release).start()
    start = time.perf_counter()
    cycle._wait_free(tmp_path)
    assert time.perf_counter() - start >= 0.25
    assert "waiting:" in capsys.readouterr().out
    cycle._wait_free(tmp_path / "absent")  # nothing to wait for
