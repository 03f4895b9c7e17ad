"""Training faults with real processes: kill -9 while a checkpoint is being written, then resume."""

import json
import os
import signal
import subprocess
import sys
import time

from flowkit.train.checkpoint import latest_checkpoint

SETTINGS = {
    "model": "fgrn",
    "scale": 2,
    "patch_size": 16,
    "batch_size": 4,
    "iterations": 6,
    "lr": 1e-3,
    "workers": 0,
    "log_every": 1,
    "val_every": 0,
    "checkpoint_every": 2,
    "val_holdout": 0,
    "model_config": {"channels": 8, "gd_blocks": 1, "gu_blocks": 1, "flow_cells": 1, "flow_growth": 4},
}

# Runs `flowkit train`; with SLOW_FSYNC set, every fsync announces itself and takes 2 s, so the
# parent can kill the process in the middle of a checkpoint write.
DRIVER = """
import os, sys, time
if os.environ.get("SLOW_FSYNC"):
    real = os.fsync
    def slow(fd):
        print("FSYNC", flush=True)
        time.sleep(2)
        real(fd)
    os.fsync = slow
from flowkit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _command(out, train_dir, resume=False):
    cmd = [
        sys.executable,
        "-c",
        DRIVER,
        "train",
        "--train-dir",
        str(train_dir),
        "--out",
        str(out),
        "--quiet",
        "--no-tensorboard",
    ]
    for k, v in SETTINGS.items():
        cmd += ["--set", f"{k}={json.dumps(v)}"]
    return cmd + (["--resume"] if resume else [])


def _env(**extra):
    return {**os.environ, "OMP_NUM_THREADS": "1", **extra}


def _losses(out):
    return [json.loads(line)["total"] for line in (out / "log.jsonl").read_text().splitlines()]


def test_kill_during_checkpoint_write_then_resume(tmp_path, small_train_dir):
    train_dir = small_train_dir
    reference = tmp_path / "reference"
    assert subprocess.run(_command(reference, train_dir), env=_env(), capture_output=True).returncode == 0

    run = tmp_path / "killed"
    proc = subprocess.Popen(_command(run, train_dir), env=_env(SLOW_FSYNC="1"), stdout=subprocess.PIPE, text=True)
    first = run / "checkpoints" / "step-00000002.json"
    deadline = time.time() + 300
    after_commit = 0
    for line in proc.stdout:  # each FSYNC line: a file is being flushed right now
        if line.strip() == "FSYNC" and first.exists():
            after_commit += 1  # 1: step 2's folder sync; 2: step 4's weights, written under a temporary name
            if after_commit == 2:
                break
        assert time.time() < deadline, "training did not reach its second checkpoint"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    ckpt = latest_checkpoint(run / "checkpoints")  # loads and verifies: the kill left it intact
    assert ckpt.step == 2
    assert any(p.name.endswith(".tmp") for p in (run / "checkpoints").iterdir())  # the interrupted write

    resumed = subprocess.run(_command(run, train_dir, resume=True), env=_env(), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert _losses(run) == _losses(reference)  # the resumed run reproduces the uninterrupted one exactly
    assert not any(p.name.endswith(".tmp") for p in (run / "checkpoints").iterdir())
