"""Two trainings never write into one run folder (flowkit.train.lock)."""

import errno
import json
import os
import signal
import subprocess
import sys

import pytest

from flowkit.cli import main
from flowkit.train import RunFolderBusy, Trainer, load_config, lock
from flowkit.train.lock import LOCK_NAME, RunLock

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the holder process is started with POSIX signals")


FIELDS = {
    "model": "fgrn",
    "scale": 2,
    "model_config": {"channels": 8, "gd_blocks": 1, "gu_blocks": 1, "flow_cells": 1, "flow_growth": 4},
    "patch_size": 16,
    "batch_size": 2,
    "iterations": 4,
    "workers": 0,
    "log_every": 2,
    "val_every": 4,
    "checkpoint_every": 2,
    "val_holdout": 1,
}


QUIET = {"progress": False, "tensorboard": False}


def _config(small_train_dir, **extra):
    fields = {**FIELDS, "train_dirs": [str(small_train_dir)], **extra}
    return load_config(None, [f"{k}={json.dumps(v)}" for k, v in fields.items()])


def test_a_second_trainer_on_a_held_folder_is_refused_before_it_writes(tmp_path, small_train_dir):
    run = tmp_path / "run"
    first = Trainer.from_config(_config(small_train_dir, seed=1), run, **QUIET)
    written = (run / "config.json").read_text()
    with pytest.raises(RunFolderBusy, match="another trainer of this process"):
        Trainer.from_config(_config(small_train_dir, seed=2), run, **QUIET)
    assert (run / "config.json").read_text() == written  # the refused trainer wrote nothing
    first.close()
    second = Trainer.from_config(_config(small_train_dir, seed=2), run, **QUIET)
    assert json.loads((run / "config.json").read_text())["seed"] == 2
    second.close()


def test_run_gives_the_folder_back_and_takes_it_again(tmp_path, small_train_dir):
    run = tmp_path / "run"
    first = Trainer.from_config(_config(small_train_dir), run, **QUIET)
    first.run()  # not closed: its run has ended, so the folder is free
    resumed = Trainer.from_config(_config(small_train_dir, iterations=6), run, resume=True, **QUIET)
    with pytest.raises(RunFolderBusy):
        first.run()  # the folder is the resumed trainer's now
    assert resumed.run()["step"] == 6
    with pytest.raises(RunFolderBusy, match="moved on"):
        first.run()  # free, but ahead of the first trainer: it must not overwrite the resumed run's files
    assert json.loads((run / "final_metrics.json").read_text())["step"] == 6
    again = Trainer.from_config(_config(small_train_dir, iterations=8), run, resume=True, **QUIET)
    again.close()  # and free once the resumed run has ended


def test_the_lock_is_released_once_and_reports_itself(tmp_path):
    held = RunLock(tmp_path)
    assert held.held and (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    held.release()
    held.release()
    assert not held.held
    RunLock(tmp_path).release()  # free for the next one


def _holder(folder):
    """A process that holds ``folder``'s lock until it is killed."""
    code = (
        "import sys, time; from flowkit.train.lock import RunLock; "
        f"lock = RunLock({str(folder)!r}); print('ready', flush=True); time.sleep(600)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_the_command_line_refuses_a_folder_another_process_trains_in(tmp_path, small_train_dir, capsys):
    run = tmp_path / "run"
    run.mkdir()
    config = tmp_path / "config.json"
    config.write_text(json.dumps(FIELDS))
    argv = ["train", "--config", str(config), "--train-dir", str(small_train_dir), "--out", str(run), "--quiet"]
    holder = _holder(run)
    try:
        for extra in ([], ["--resume"]):  # refused before it reads the folder, too
            assert main(argv + extra) == 1
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and f"in use by another training (process {holder.pid})" in err
        assert not (run / "config.json").exists() and not (run / "checkpoints").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # a killed holder leaves the file, not the lock
    assert (run / LOCK_NAME).exists()
    assert main(argv) == 0
    assert (run / "checkpoints").is_dir()
    # a finished folder is not trained into again without --resume
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already has checkpoints: pass --resume" in err
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before


def test_a_file_system_without_locks_warns_and_trains_unguarded(tmp_path, monkeypatch):
    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(lock.fcntl, "flock", no_locks)
    with pytest.warns(UserWarning, match="does not lock files"):
        unguarded = RunLock(tmp_path)
    assert unguarded.held
    unguarded.release()
    assert not unguarded.held


def test_a_fresh_run_never_writes_over_a_users_files(tmp_path, small_train_dir, capsys):
    # a folder of the user's that holds names a run writes: refused before anything is written
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "settings"}')
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(ValueError, match=r"holds config.json but is not a run folder \(no train.lock\)"):
        Trainer.from_config(_config(small_train_dir), mine, **QUIET)
    assert (mine / "config.json").read_text() == '{"my": "settings"}'
    assert sorted(p.name for p in mine.iterdir()) == ["config.json", "notes.txt"]
    # the command line says it in one line
    config = tmp_path / "fields.json"
    config.write_text(json.dumps(FIELDS))
    argv = ["train", "--config", str(config), "--train-dir", str(small_train_dir), "--quiet"]
    assert main([*argv, "--out", str(mine)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a run folder" in err
    # a file as the run folder: refused the same way
    (tmp_path / "a-file").write_text("x")
    assert main([*argv, "--out", str(tmp_path / "a-file")]) == 1
    assert "is a file" in capsys.readouterr().err and (tmp_path / "a-file").read_text() == "x"
    # a folder with other files only, and a run's own folder (its lock file), are trained into
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep")
    Trainer.from_config(_config(small_train_dir), tmp_path / "other", **QUIET).close()
    assert (tmp_path / "other" / "notes.txt").read_text() == "keep"
    Trainer.from_config(_config(small_train_dir, seed=2), tmp_path / "other", **QUIET).close()
    assert json.loads((tmp_path / "other" / "config.json").read_text())["seed"] == 2
