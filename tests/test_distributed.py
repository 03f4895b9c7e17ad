"""Multi-process training with torchrun (gloo on the CPU): the ranks stay identical."""

import json
import os
import shutil
import subprocess
import sys
import warnings

import pytest
import torch

from flowkit.train.checkpoint import latest_checkpoint

SETTINGS = [
    "model_config.channels=8",
    "model_config.gd_blocks=1",
    "model_config.gu_blocks=1",
    "model_config.flow_cells=1",
    "model_config.flow_growth=4",
    "patch_size=16",
    "batch_size=4",
    "iterations=6",
    "workers=0",
    "log_every=1",
    "val_every=0",
    "checkpoint_every=6",
    "val_holdout=0",
]


def _launch(cmd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    if os.path.exists("/sys/class/net/lo"):  # Linux: ranks on one machine talk over loopback, whatever the
        env["GLOO_SOCKET_IFNAME"] = "lo"  # host name resolves to
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600, env=env)


def _excerpt(stderr: str) -> str:
    """The start (where a rank prints why it aborted) and the end (torchrun's summary) of stderr."""
    return stderr if len(stderr) <= 5000 else stderr[:3000] + "\n[...]\n" + stderr[-2000:]


def _train(out, train_dir, nproc):
    launcher = (
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
        if nproc > 1
        else [sys.executable]
    )
    cmd = launcher + [
        "-m",
        "flowkit",
        "train",
        "--config",
        "cpu-small-x2",
        "--train-dir",
        str(train_dir),
        "--out",
        str(out),
        "--quiet",
        "--no-tensorboard",
    ]
    for item in SETTINGS:
        cmd += ["--set", item]
    result = _launch(cmd)
    if nproc > 1 and result.returncode != 0 and "(SIGABRT) received by PID" in result.stderr:
        # Both ranks once died of SIGABRT in CI where this passes locally every time: gloo aborts
        # a process when one of its TCP connections fails (e.g. pytorch/pytorch#188266), which is the
        # transport, not the training (a Python error exits with 1). Start again once, from scratch, and say
        # so; a second failure, or any other failure, fails the test.
        warnings.warn(
            "torchrun ranks aborted (SIGABRT); retried once. First attempt:\n" + _excerpt(result.stderr), stacklevel=1
        )
        shutil.rmtree(out, ignore_errors=True)
        result = _launch(cmd)
    assert result.returncode == 0, _excerpt(result.stderr)
    return result


def test_two_cpu_processes_agree_and_match_one_process(tmp_path, small_train_dir):
    train_dir = small_train_dir
    _train(tmp_path / "ddp", train_dir, nproc=2)
    metrics = json.loads((tmp_path / "ddp" / "final_metrics.json").read_text())
    assert metrics["step"] == 6
    assert metrics["ranks_max_abs_diff"] == 0.0  # every rank holds the same weights
    _train(tmp_path / "single", train_dir, nproc=1)
    # two processes with half the batch each follow the single-process run (gradients are averaged)
    a = latest_checkpoint(tmp_path / "ddp" / "checkpoints")
    b = latest_checkpoint(tmp_path / "single" / "checkpoints")
    for k in a.tensors:
        if k.startswith("model."):
            torch.testing.assert_close(a.tensors[k], b.tensors[k], rtol=1e-4, atol=1e-5)
    losses = [
        [json.loads(line)["total"] for line in (tmp_path / run / "log.jsonl").read_text().splitlines()]
        for run in ("ddp", "single")
    ]
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)
