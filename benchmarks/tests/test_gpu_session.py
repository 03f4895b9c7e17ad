"""The lent-GPU script (``benchmarks/gpu_session.sh``) against the modules it calls.

A GPU is lent rarely and for minutes, so a flag renamed in a benchmark or an override a config
no longer takes would cost a lease. Here the script runs under bash with every branch on
(``BENCH=1``, study speeds, the evaluation sets present) and a stand-in ``python3`` that records
its arguments instead of running; each recorded ``python3 -m benchmarks...`` call must then parse
with its module's own argument parser, the configs and overrides it names must load, and the runs'
export must fit what a call brings back. The
extra arguments are those of the next-lease command documented in the Reproducing guide."""

import argparse
import importlib
import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.common import REPO
from benchmarks.reproduce.carry_images import working_tree_mib
from benchmarks.reproduce.gpu_budget import small_export
from flowkit.train import load_config

SCRIPT = REPO / "benchmarks" / "gpu_session.sh"
GUIDE = REPO / "docs" / "guides" / "reproducing" / "rerun.md"


class _Parsed(Exception):
    def __init__(self, namespace: argparse.Namespace):
        self.namespace = namespace


def documented_command() -> list[str]:
    """The last ``gpu_session.sh`` command of the Reproducing guide, as words after ``OUT``."""
    lines = GUIDE.read_text().replace("\\\n", " ").splitlines()
    commands = [line for line in lines if "bash benchmarks/gpu_session.sh" in line and "OUT" in line]
    assert commands, f"{GUIDE} documents no gpu_session.sh command"
    words = shlex.split(commands[-1])
    return words[words.index("OUT") + 1 :]


def _stand_in(folder: Path, name: str, body: str) -> None:
    """An executable ``name`` in ``folder`` that runs the Python ``body`` with the caller's arguments."""
    (folder / f"{name}.py").write_text(f"import json, sys\n{body}\n")
    path = folder / name
    path.write_text(f'#!/usr/bin/env bash\nexec {shlex.quote(sys.executable)} "$0.py" "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture(scope="module")
def calls(tmp_path_factory) -> list[list[str]]:
    """Every ``python3 -m`` call of one run of the script, each as its argument list."""
    tmp = tmp_path_factory.mktemp("gpu_session")
    bin_dir, data, out = tmp / "bin", tmp / "data", tmp / "out"
    for folder in (bin_dir, data / "eval" / "Set5", data / "train", out):
        folder.mkdir(parents=True)
    log = tmp / "calls.jsonl"
    _stand_in(
        bin_dir,
        "python3",
        f"with open({str(log)!r}, 'a') as f:\n    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1:3] == ['-m', 'pytest']:\n    print('1 passed')",
    )
    _stand_in(bin_dir, "nvidia-smi", "print('a stand-in GPU, 80 GiB')")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FLOWKIT_DATA": str(data)}
    env.update(BENCH="1", STUDY_SPEED="1")
    run = subprocess.run(
        ["bash", str(SCRIPT), str(out), *documented_command()],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    recorded = [json.loads(line) for line in log.read_text().splitlines()]
    return [call for call in recorded if call[0] == "-m"]  # not the version print (python3 -c)


def parse(module_name: str, argv: list[str], monkeypatch) -> argparse.Namespace:
    """``argv`` as ``python -m module_name`` parses it, without running the module."""
    original = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, args=None, namespace=None):
        raise _Parsed(original(self, args, namespace))

    module = importlib.import_module(module_name)
    with monkeypatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "parse_args", parse_and_stop)
        with pytest.raises(_Parsed) as parsed:
            module.main(argv)
    return parsed.value.namespace


def test_the_script_runs_the_cuda_tests_then_every_benchmark(calls):
    modules = [c[1] for c in calls]
    assert modules[0] == "pytest" and "tests/test_cuda.py" in calls[0]
    assert modules[1] == "benchmarks.reproduce.gpu_budget"
    expected = {"training_speed", "precision", "inference", "folder_speed", "data_speed", "profile"}
    assert {m.removeprefix("benchmarks.") for m in modules[2:]} == expected


def test_every_call_parses_and_names_configs_that_load(calls, monkeypatch):
    checked = 0
    for call in calls:
        if call[:2] == ["-m", "pytest"]:
            continue
        assert call[1].startswith("benchmarks."), call
        args = parse(call[1], call[2:], monkeypatch)
        assert getattr(args, "device", "cuda") == "cuda", call
        if call[1] == "benchmarks.training_speed":
            for name in args.configs:
                load_config(name, [*args.override, *(args.vs or [])])
        elif call[1] == "benchmarks.reproduce.gpu_budget":
            assert args.export and args.seconds > 0 and args.deadline > args.seconds
            small_export(args, args.extra)  # loads each run's config with its overrides; exits if no export fits
        elif call[1] == "benchmarks.profile":
            load_config(REPO / args.config)
        checked += 1
    assert checked == len(calls) - 1


def test_a_renamed_flag_fails_here(monkeypatch):
    with pytest.raises(SystemExit):
        parse("benchmarks.inference", ["--device", "cuda", "--no-such-flag"], monkeypatch)


def test_the_working_tree_leaves_room_for_the_training_images():
    """A lent-GPU call carries the working tree and the training images it trains on
    (``benchmarks.reproduce.carry_images``), 64 MiB in all: the tree may take at most 40 of them."""
    mib = working_tree_mib()
    if mib is None:
        pytest.skip("not a git checkout")
    assert mib <= 40, (
        f"the working tree is {mib:.1f} MiB: retire stored parents (benchmarks/reproduce/parents/README.md)"
    )
