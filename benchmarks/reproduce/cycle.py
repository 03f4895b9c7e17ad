"""One cycle of a continuation line: train its children side by side, average them, score the average.

Usage::

    python -m benchmarks.reproduce.cycle --pair NAME CONFIG CONFIG [CONFIG ...] [--against FILE] [--dry-run]

Each ``CONFIG`` names ``benchmarks/reproduce/configs/CONFIG.json`` (or is a path to a config
file); its run trains into ``runs/<config name>/`` with ``flowkit train`` on
``$FLOWKIT_DATA/train``, every child in its own process on one thread at ``nice`` 10, side by
side, its output appended to ``runs/<config name>.log``. A child is resumed from its newest
checkpoint (``--resume``) when it has one, skipped when it has reached its ``iterations``, and
waited for while another training holds its folder (:mod:`flowkit.train.lock`). The children
must continue one weights file (``init_weights``: the parent) at one model and scale.

When all have ended, their newest checkpoints' EMA weights are averaged uniformly into
``runs/NAME/NAME.safetensors`` (:mod:`benchmarks.reproduce.soup`; an existing file is kept),
and one call of :mod:`benchmarks.reproduce.validate_weights` ``--digits 4 --decide`` scores,
in this order, the file judged against (``--against``; by default the shipped weights of the
children's model and scale, as they are when the call starts), the parent, each child and the
average, and prints which file the shipping rule would ship. It ships nothing:
:mod:`benchmarks.reproduce.ship_weights` does that once a decision is recorded. Every command
is printed before it runs; ``--dry-run`` prints them only.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import REPO, description
from benchmarks.reproduce.common import CONFIGS, RUNS, data_root, final_weights, finished
from flowkit.models.pretrained import resolve_weights, weights_path
from flowkit.train import load_config
from flowkit.train.checkpoint import checkpoint_stem, latest_checkpoint
from flowkit.train.lock import RunFolderBusy, RunLock

#: Seconds between two looks at a folder another training holds, or at running children.
POLL = 30.0


@dataclass(frozen=True)
class Child:
    """One run of the cycle: its name (the config's), config file and iteration count."""

    name: str
    config: Path
    iterations: int


@dataclass(frozen=True)
class Cycle:
    """What one cycle trains, averages and scores."""

    children: tuple[Child, ...]
    parent: Path
    pair: Path
    against: Path


def _config_path(spec: str) -> Path:
    path = Path(spec)
    if path.suffix == ".json" or path.is_file():
        return path
    return CONFIGS / f"{spec}.json"


def _weights(spec: str, scale: int) -> Path:
    """The file ``spec`` names: a path (relative to the repository; it may not exist yet, as the
    previous cycle's average) or a shipped model's name."""
    if "/" in spec or spec.endswith(".safetensors"):
        path = Path(spec)
        return path if path.is_absolute() else REPO / path
    return resolve_weights(spec, scale)


def plan(configs: list[str], pair: str, against: str | None = None) -> Cycle:
    """The cycle of ``configs`` whose average is run ``pair``.

    Raises:
        ValueError: fewer than two configs, a config that is missing or names no ``init_weights``,
            or children of different models, scales or parents.
    """
    if len(configs) < 2:
        raise ValueError("a cycle averages two or more children: give at least two configs")
    children, kinds, parents = [], set(), set()
    for spec in configs:
        path = _config_path(spec)
        if not path.is_file():
            raise ValueError(f"{spec}: no config {path}")
        config = load_config(path)
        if not config.init_weights:
            raise ValueError(f"{path}: sets no init_weights, so it continues no file")
        kinds.add((config.model, config.scale))
        parents.add(_weights(config.init_weights, config.scale))
        children.append(Child(path.stem, path, config.iterations))
    if len(kinds) > 1:
        raise ValueError(f"the children are of different models or scales: {sorted(kinds)}")
    if len(parents) > 1:
        raise ValueError(f"the children continue different files: {sorted(map(str, parents))}")
    if len({c.name for c in children}) < len(children):
        raise ValueError("a config is named twice")
    (model, scale), parent = kinds.pop(), parents.pop()
    target = _weights(against, scale) if against else weights_path(model, scale)
    return Cycle(tuple(children), parent, RUNS / pair / f"{pair}.safetensors", target)


def train_command(child: Child, train_dir: Path) -> list[str]:
    """``flowkit train`` for ``child``, with ``--resume`` when its folder has a checkpoint."""
    out = RUNS / child.name
    command = [sys.executable, "-m", "flowkit", "train", "--config", str(child.config)]
    command += ["--train-dir", str(train_dir), "--out", str(out)]
    if latest_checkpoint(out / "checkpoints") is not None:
        command.append("--resume")
    return command


def soup_command(cycle: Cycle, finals: list[Path]) -> list[str]:
    return [sys.executable, "-m", "benchmarks.reproduce.soup", "--out", str(cycle.pair), *map(str, finals)]


def score_command(cycle: Cycle, finals: list[Path]) -> list[str]:
    files = [cycle.against, cycle.parent, *finals, cycle.pair]
    return [sys.executable, "-m", "benchmarks.reproduce.validate_weights", "--digits", "4", "--decide"] + [
        str(f) for f in files
    ]


def _wait_free(folder: Path) -> None:
    """Return once no training holds ``folder`` (at once when it does not exist)."""
    said = False
    while folder.is_dir():
        try:
            RunLock(folder).release()
            return
        except RunFolderBusy as exc:
            if not said:
                print(f"waiting: {exc}", flush=True)
                said = True
            time.sleep(POLL)


def _child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env.setdefault("FLOWKIT_DATA", str(data_root()))
    return env


def train(cycle: Cycle, train_dir: Path, *, threads: int = 1, niceness: int = 10, dry_run: bool = False) -> None:
    """Train every unfinished child of ``cycle``, side by side, and wait for them all.

    Raises:
        RuntimeError: the parent file is missing, or a child's training failed.
    """
    todo = []
    for child in cycle.children:
        if not dry_run:
            _wait_free(RUNS / child.name)
        if finished(child.name, child.iterations):
            print(f"{child.name}: finished (step {child.iterations} reached)", flush=True)
        else:
            todo.append(child)
    if todo and not dry_run and not cycle.parent.is_file():
        raise RuntimeError(f"the parent {cycle.parent} does not exist yet")
    running = []
    for child in todo:
        command = train_command(child, train_dir)
        print(shlex.join(command), flush=True)
        if dry_run:
            continue
        RUNS.mkdir(parents=True, exist_ok=True)
        with open(RUNS / f"{child.name}.log", "a") as log:
            running.append(
                (
                    child,
                    subprocess.Popen(
                        command,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=_child_env(threads),
                        cwd=REPO,
                        preexec_fn=(lambda: os.nice(niceness)) if niceness else None,
                    ),
                )
            )
    failed = [(child.name, proc.wait()) for child, proc in running]
    failed = [(name, code) for name, code in failed if code != 0]
    if failed:
        raise RuntimeError(
            "training failed: " + ", ".join(f"{name} (exit {code}, see {RUNS / name}.log)" for name, code in failed)
        )


def average_and_score(cycle: Cycle, *, dry_run: bool = False) -> None:
    """Average the children's newest weights into ``cycle.pair`` (kept if it exists) and score.

    Raises:
        RuntimeError: a child has not reached its iterations, or a command failed.
    """
    if dry_run:
        finals = [
            RUNS / c.name / "checkpoints" / f"{checkpoint_stem(c.iterations)}.safetensors" for c in cycle.children
        ]
    else:
        unfinished = [c.name for c in cycle.children if not finished(c.name, c.iterations)]
        if unfinished:
            raise RuntimeError(f"not finished: {', '.join(unfinished)}")
        finals = [final_weights(c.name) for c in cycle.children]
    commands = [score_command(cycle, finals)]
    if cycle.pair.is_file():
        print(f"{cycle.pair}: kept", flush=True)
    else:
        commands.insert(0, soup_command(cycle, finals))
    for command in commands:
        print(shlex.join(command), flush=True)
        if not dry_run:
            done = subprocess.run(command, cwd=REPO, env=dict(os.environ, FLOWKIT_DATA=str(data_root())))
            if done.returncode != 0:
                raise RuntimeError(f"exit {done.returncode}: {shlex.join(command)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("configs", nargs="+", help="the children's configs (names in configs/ or paths)")
    parser.add_argument("--pair", required=True, help="run name of the children's average")
    parser.add_argument("--against", help="the file to judge against (default: the shipped weights)")
    parser.add_argument("--threads", type=int, default=1, help="threads per child (default 1)")
    parser.add_argument("--nice", type=int, default=10, help="niceness added to each child (default 10)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    try:
        cycle = plan(args.configs, args.pair, args.against)
        train(cycle, data_root() / "train", threads=args.threads, niceness=args.nice, dry_run=args.dry_run)
        average_and_score(cycle, dry_run=args.dry_run)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"cycle: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
