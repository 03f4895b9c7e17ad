"""Training throughput: optimiser steps per second and samples per second per config.

Times ``training_losses`` + backward + Adam step on random patches of each config's
batch and patch size (data loading excluded), after warm-up steps.

Usage::

    python -m benchmarks.training_speed [--configs cpu-small-x2 cpu-small-x4 paper-fgrn-x4 irn-official-x4]
        [--steps 3] [--name training_speed]   # results file name
        [--override cuda_graph=true]          # config overrides for every config
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.common import markdown_table, write_outputs
from flowkit.image import imresize
from flowkit.models import build
from flowkit.train import load_config
from flowkit.train.cuda_graph import graphed_objective


def steps_per_second(config_name: str, steps: int, device: str, overrides: list[str] = ()) -> dict:
    """Time ``steps`` optimiser steps of a config (a bundled name or a JSON path, plus
    ``key=value`` overrides) on random patches after one warm-up step."""
    c = load_config(config_name, overrides)
    if device == "cuda":
        torch.backends.cudnn.allow_tf32 = c.tf32
    torch.manual_seed(0)
    model = build(c.model, c.scale, **c.model_config).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=c.lr, fused=device == "cuda")  # as the trainer
    hr = torch.rand(c.batch_size, 3, c.patch_size, c.patch_size, device=device)
    lr = imresize(hr, 1 / c.scale)
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if c.amp and device == "cuda"
        else torch.autocast("cpu", enabled=False)
    )
    objective = graphed_objective(model, hr, lr) if c.cuda_graph else model.training_losses
    if c.compile:  # as the trainer does
        objective = torch.compile(objective)

    def step():
        with autocast:
            loss = objective(hr, lr)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    it_s = steps / (time.perf_counter() - start)
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


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    args = parser.parse_args(argv)
    results, rows = [], []
    for name in args.configs:
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
        print(" | ".join(rows[-1]))
    table = markdown_table(["config", "model", "batch x patch", "it/s", "samples/s"], rows)
    payload = {"results": results, "device": args.device, "overrides": args.override}
    json_path, md_path = write_outputs(args.name, payload, table, args.out)
    print(f"\n{table}\n\nwrote {json_path} and {md_path}")
    return results


if __name__ == "__main__":
    main()
