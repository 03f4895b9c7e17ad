"""The study's runs at an equal budget sized to a lent GPU, all trained side by side on it.

``python -m benchmarks.reproduce.gpu_budget --seconds 300 [--batch 16] [--patch 144] [--runs ...]
[--cuda-graph] [--set KEY=VALUE ...] [--max-iterations N] [--tag T]``

1. Times one training step of each run alone on the GPU (random patches, after a warm-up:
   :func:`benchmarks.training_speed.steps_per_second`).
2. Picks the largest iteration count N, a multiple of 100, with N x (the sum of those step
   times) within ``--seconds`` x ``--safety`` (at most ``--max-iterations``): every run gets
   the same N, batch and patch, so the budget is equal whatever each model costs
   (``--iterations N`` skips this). With ``--cuda-graph`` the steps are timed and trained with
   ``cuda_graph=true`` (:mod:`flowkit.train.cuda_graph`): at small batches a GPU step is
   bound by kernel launches, which the graphs remove.
3. Trains the runs at once on the one GPU (``train_run`` subprocesses, logs in
   ``runs/<name>.out``), each with its CPU config's optimiser and the learning rate halved
   at N/2 and 3N/4 as in the CPU budget.
   Runs still going at ``--deadline`` are interrupted (each saves its last step) and
   reported as failed.
4. Appends this call's record (N, step times, wall times, machine) to the list in
   ``runs/gpu_budget[-<tag>].json``, so calls that share a tag (one run at a time) keep
   every call's wall times, and, with
   ``--export DIR``, each run's final checkpoint with its weights only
   (:func:`flowkit.train.checkpoint.strip_checkpoint`), its log and timing under
   ``DIR/<name>/``, to bring home and unpack into ``runs/``; with ``--export-small`` only the
   weights the evaluation reads (the averaged ones where the run kept them) in float16, a
   quarter of that. Before any run starts, the export's size is worked out from the runs'
   networks: over ``--export-limit`` (MiB; the default leaves room for the benchmark tables
   within the 64 MiB a lent-GPU call brings back) the export is made small, with a line that
   says so, and a small export still over it stops the call before it trains.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks.common import description, machine
from benchmarks.reproduce.common import CONFIGS, RUNS
from benchmarks.reproduce.records import GPU_DEFAULT_RUNS, GPU_RUNS
from benchmarks.training_speed import steps_per_second
from flowkit.atomic import atomic_write
from flowkit.models import build
from flowkit.train import TrainConfig, load_config
from flowkit.train.checkpoint import latest_checkpoint, strip_checkpoint
from flowkit.train.trainer import continued_architecture

EXPORT_LIMIT_MIB = 48.0  # of the 64 MiB a lent-GPU call brings back; the rest for the tables, logs and tests


def budget_overrides(iterations: int, batch: int, patch: int, workers: int, device: str = "cuda") -> list[str]:
    """The overrides that put a CPU study config on the GPU budget."""
    return [
        f"iterations={iterations}",
        f"batch_size={batch}",
        f"patch_size={patch}",
        f"device={device}",
        f"lr_milestones=[{iterations // 2},{3 * iterations // 4}]",
        f"workers={workers}",
        f"val_every={max(iterations // 4, 1)}",
        f"checkpoint_every={max(iterations // 4, 1)}",
        "log_every=50",
    ]


def pick_iterations(step_seconds: dict[str, float], seconds: float, safety: float) -> int:
    """The largest multiple of 100 whose summed step time fits ``seconds * safety``.

    >>> pick_iterations({"a": 0.01, "b": 0.04}, 300, 0.75)
    4500
    """
    n = int(seconds * safety / sum(step_seconds.values()) // 100 * 100)
    if n < 100:
        raise ValueError(f"{seconds} s fit fewer than 100 steps of these runs ({step_seconds})")
    return n


def export_mib(configs: list[TrainConfig], small: bool) -> float:
    """The size in MiB of what ``--export`` writes for runs of these configs: each run's network
    (the one a run that continues weights builds) as a weights-only checkpoint, its weights and its
    averaged weights in float32, or with ``small`` the served weights alone in float16."""
    total = 0
    for c in configs:
        model = build(c.model, c.scale, **continued_architecture(c, RUNS))  # RUNS: read only on resume
        numel = sum(t.numel() for t in model.state_dict().values())
        total += numel * 2 if small else numel * 4 * (2 if c.ema_decay else 1)
    return total / 2**20


def append_record(path: Path, record: dict) -> None:
    """Add one call's ``record`` to the JSON list in ``path`` (started if absent), atomically."""
    records = json.loads(path.read_text()) if path.exists() else []
    atomic_write(path, lambda f: f.write(json.dumps([*records, record], indent=1).encode()))


def small_export(args: argparse.Namespace, common: list[str]) -> bool:
    """Whether the call's export must be small to stay within ``args.export_limit``; exits,
    before anything trains, when even a small one would not."""
    configs = []
    for name in args.runs:
        base, extra, _ = GPU_RUNS[name]
        overrides = [*extra, *budget_overrides(100, args.batch, args.patch, args.workers, args.device), *common]
        configs.append(load_config(CONFIGS / f"{base}.json", overrides))
    full, small = export_mib(configs, False), export_mib(configs, True)
    if small > args.export_limit:
        sys.exit(
            f"gpu_budget: even a small export of these runs is {small:.1f} MiB, over --export-limit "
            f"{args.export_limit:g}: run fewer at once"
        )
    if not args.export_small and full > args.export_limit:
        print(
            f"export: {full:.1f} MiB of weights is over --export-limit {args.export_limit:g}; "
            f"exporting the served weights in float16 instead ({small:.1f} MiB)",
            flush=True,
        )
        return True
    return args.export_small


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--seconds", type=float, default=300, help="training wall time to fill")
    parser.add_argument("--safety", type=float, default=0.75)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=144)
    parser.add_argument("--workers", type=int, default=2, help="data-loading processes per run")
    parser.add_argument("--runs", nargs="+", default=GPU_DEFAULT_RUNS, choices=list(GPU_RUNS))
    parser.add_argument("--iterations", type=int, help="skip the timing and use this N")
    parser.add_argument("--max-iterations", type=int, help="cap the N that the timing picks")
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        dest="extra",
        help="training-config overrides for every run, e.g. tf32=false",
    )
    parser.add_argument(
        "--cuda-graph", action="store_true", help="time and train with cuda_graph=true (for launch-bound small batches)"
    )
    parser.add_argument("--tag", default="", help="appended to the run names (runs/<name>-<tag>)")
    parser.add_argument(
        "--deadline", type=float, help="interrupt runs still going after this many seconds (default: twice --seconds)"
    )
    parser.add_argument("--device", default="cuda", help="cpu: a smoke run of this script (tiny budgets)")
    parser.add_argument("--export", help="folder for the weights-only copies of the finished runs")
    parser.add_argument(
        "--export-small",
        action="store_true",
        help="export only the weights load_model reads, in float16 (a quarter of the weights-only size)",
    )
    parser.add_argument(
        "--export-limit",
        type=float,
        default=EXPORT_LIMIT_MIB,
        metavar="MIB",
        help=f"largest export in MiB: a larger one is made small (default: {EXPORT_LIMIT_MIB:g})",
    )
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_budget: no CUDA device (--device cpu for a smoke run)")
    common = (["cuda_graph=true"] if args.cuda_graph else []) + args.extra  # for the timing and every run
    shape = [f"batch_size={args.batch}", f"patch_size={args.patch}", *common]
    if args.export:
        args.export_small = small_export(args, common)
    step_s = {}
    if args.iterations is None:
        for name in args.runs:
            base, extra, _ = GPU_RUNS[name]
            r = steps_per_second(str(CONFIGS / f"{base}.json"), 8, args.device, extra + shape)
            step_s[name] = 1 / r["it_per_s"]
            print(f"{name}: {1000 * step_s[name]:.1f} ms/step alone", flush=True)
        if args.device == "cuda":
            torch.cuda.empty_cache()
    n = args.iterations or min(pick_iterations(step_s, args.seconds, args.safety), args.max_iterations or 10**9)
    print(f"budget: {n} steps, batch {args.batch}, HR patch {args.patch}", flush=True)
    RUNS.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"OMP_NUM_THREADS": "2", "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    procs = {}
    names = {name: f"{name}-{args.tag}" if args.tag else name for name in args.runs}
    for key, name in names.items():
        base, extra, _ = GPU_RUNS[key]
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.reproduce.train_run",
            name,
            base,
            *extra,
            *budget_overrides(n, args.batch, args.patch, args.workers, args.device),
            *common,
        ]
        with open(RUNS / f"{name}.out", "w") as out:  # the child keeps its own copy of the handle
            procs[name] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = args.deadline or 2 * args.seconds
    wall, failed = {}, []
    while len(wall) < len(procs):
        time.sleep(1)
        late = time.perf_counter() - start > deadline
        for name, proc in procs.items():
            if name in wall:
                continue
            if late and proc.poll() is None:  # the trainer saves a checkpoint of its last step on SIGINT
                proc.send_signal(signal.SIGINT)
                print(f"{name}: past the {deadline:.0f} s deadline, interrupted", flush=True)
            if late or proc.poll() is not None:
                if proc.wait() != 0:
                    failed.append(name)
                wall[name] = time.perf_counter() - start
                print(f"{name}: {'FAILED' if name in failed else 'done'} after {wall[name]:.0f} s", flush=True)
    record = {
        "iterations": n,
        "batch": args.batch,
        "patch": args.patch,
        "cuda_graph": args.cuda_graph,
        "overrides": args.extra,
        "seconds_asked": args.seconds,
        "safety": args.safety,
        "step_seconds_alone": step_s,
        "wall_seconds_side_by_side": wall,
        "failed": failed,
        "machine": machine(),
    }
    record_name = f"gpu_budget{'-' + args.tag if args.tag else ''}.json"
    append_record(RUNS / record_name, record)
    if args.export:
        for name in names.values():
            ckpt = latest_checkpoint(RUNS / name / "checkpoints")
            if ckpt is None:
                continue
            small = {"served_only": True, "dtype": torch.float16} if args.export_small else {}
            strip_checkpoint(ckpt.path, f"{args.export}/{name}/checkpoints", **small)
            for f in ("config.json", "log.jsonl", "final_metrics.json", "wall_time.json"):
                if (RUNS / name / f).exists():
                    shutil.copy(RUNS / name / f, f"{args.export}/{name}/{f}")
            shutil.copy(RUNS / f"{name}.out", f"{args.export}/{name}.out")
        shutil.copy(RUNS / record_name, f"{args.export}/{record_name}")
    for name in failed:
        print(f"--- {name}.out (end)\n" + "\n".join((RUNS / f"{name}.out").read_text().splitlines()[-15:]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
