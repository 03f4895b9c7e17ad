"""Training throughput: optimiser steps per second and samples per second per config.

Times ``training_losses`` + backward + Adam step on random patches of each config's
batch and patch size (data loading excluded), after warm-up steps.

Usage::

    python -m benchmarks.training_speed [--configs cpu-small-x2 cpu-small-x4 paper-fgrn-x4 irn-official-x4]
        [--steps 3] [--name training_speed]   # results file name
        [--override cuda_graph=true]          # config overrides for every config
        [--vs amp=true]                       # and each config with these too, a step of each in turn
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from benchmarks.common import description, markdown_table, write_outputs
from flowkit.image import imresize
from flowkit.models import build
from flowkit.train import TrainConfig, load_config
from flowkit.train.cuda_graph import graphed_objective


def make_step(config_name: str, device: str, overrides: list[str] = ()) -> tuple[Callable[[], None], TrainConfig]:
    """One optimiser step of a config (a bundled name or a JSON path, plus ``key=value``
    overrides) on a fixed batch of random patches, as the trainer takes it (the same Adam,
    autocast, CUDA graph and compile options), and the config."""
    c = load_config(config_name, overrides)
    if device == "cuda":
        torch.backends.cudnn.allow_tf32 = c.tf32
    torch.manual_seed(0)
    model = build(c.model, c.scale, **c.model_config).to(device, memory_format=c.memory_format)  # as the trainer
    opt = torch.optim.Adam(model.parameters(), lr=c.lr, fused=device == "cuda")  # as the trainer
    hr = torch.rand(c.batch_size, 3, c.patch_size, c.patch_size, device=device)
    lr = imresize(hr, 1 / c.scale)
    hr, lr = hr.contiguous(memory_format=c.memory_format), lr.contiguous(memory_format=c.memory_format)
    with c.loss_precision(model, device):  # a graph records the autocast kernels it is captured under
        objective = graphed_objective(model, hr, lr) if c.cuda_graph else model.training_losses
    if c.compile:  # as the trainer does
        objective = torch.compile(objective)

    def step() -> None:
        with c.loss_precision(model, device):  # as the trainer
            loss = objective(hr, lr)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()

    return step, c


def _row(config_name: str, c: TrainConfig, it_s: float, steps: int) -> dict:
    return {
        "config": config_name,
        "model": c.model,
        "scale": c.scale,
        "batch": c.batch_size,
        "patch": c.patch_size,
        "it_per_s": it_s,
        "samples_per_s": it_s * c.batch_size,
        "steps_timed": steps,
    }


def steps_per_second(config_name: str, steps: int, device: str, overrides: list[str] = ()) -> dict:
    """Time ``steps`` optimiser steps of a config plus overrides after one warm-up step."""
    step, c = make_step(config_name, device, overrides)
    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return _row(config_name, c, steps / (time.perf_counter() - start), steps)


def paired(config_name: str, steps: int, device: str, overrides: list[str], vs: list[str]) -> dict:
    """The config with ``overrides`` (A) and with ``overrides`` + ``vs`` (B), one step of each
    in turn after a warm-up step of each, so both see the same machine: each one's it/s from
    its median step, and ``speedup``, the median over the pairs of A's step time / B's."""
    a, ca = make_step(config_name, device, overrides)
    b, _ = make_step(config_name, device, [*overrides, *vs])
    a()
    b()
    times: dict[str, list[float]] = {"a": [], "b": []}
    for _ in range(steps):
        for key, fn in (("a", a), ("b", b)):
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    row = _row(config_name, ca, 1 / statistics.median(times["a"]), steps)
    row["vs"] = {"overrides": list(vs), "it_per_s": 1 / statistics.median(times["b"])}
    row["speedup"] = statistics.median(ta / tb for ta, tb in zip(times["a"], times["b"], strict=True))
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument(
        "--configs", nargs="+", default=["cpu-small-x2", "cpu-small-x4", "paper-fgrn-x4", "irn-official-x4"]
    )
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default=None)
    parser.add_argument("--name", default="training_speed", help="results file name (default: training_speed)")
    parser.add_argument(
        "--override",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides applied to every config, e.g. cuda_graph=true",
    )
    parser.add_argument(
        "--vs",
        nargs="+",
        default=None,
        metavar="KEY=VALUE",
        help="also time each config with these overrides too, a step of each in turn, e.g. amp=true",
    )
    args = parser.parse_args(argv)
    results, rows = [], []
    header = ["config", "model", "batch x patch", "it/s", "samples/s"]
    if args.vs:
        header += [f"it/s with {' '.join(args.vs)}", "speed-up (median of pairs)"]
    for name in args.configs:
        if args.vs:
            r = paired(name, args.steps, args.device, args.override, args.vs)
        else:
            r = steps_per_second(name, args.steps, args.device, args.override)
        results.append(r)
        rows.append(
            [
                name,
                f"{r['model']} x{r['scale']}",
                f"{r['batch']} x {r['patch']}²",
                f"{r['it_per_s']:.3f}",
                f"{r['samples_per_s']:.2f}",
            ]
        )
        if args.vs:
            rows[-1] += [f"{r['vs']['it_per_s']:.3f}", f"{r['speedup']:.2f}x"]
        print(" | ".join(rows[-1]))
    table = markdown_table(header, rows)
    payload = {"results": results, "device": args.device, "overrides": args.override, "vs": args.vs}
    json_path, md_path = write_outputs(args.name, payload, table, args.out)
    print(f"\n{table}\n\nwrote {json_path} and {md_path}")
    return results


if __name__ == "__main__":
    main()
