"""Where the time goes: ``torch.profiler`` on training steps (data loading included) and on
round trips, by operator and by module.

Usage::

    python -m benchmarks.profile [--config benchmarks/reproduce/configs/fgrn-x4.json] [--steps 3]
        [--image-size 512] [--device cpu|cuda] [--name profile_cpu]

The module table comes from ranges opened by forward hooks on every layer and subnet
(named by class), around ``imresize`` and around the data loader's batch; a range's time
includes what runs inside it (forward only: the backward pass is counted by operator).
Writes ``benchmarks/results/<name>.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from contextlib import contextmanager

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

from benchmarks.common import description, markdown_table, write_outputs
from benchmarks.reproduce.common import data_root
from flowkit.image import bicubic as bicubic_module
from flowkit.models import build
from flowkit.train import load_config
from flowkit.train.data import PatchDataset, find_images

#: Range labels start with this, so the tables can tell them from operators.
MARK = "region: "


def _hook_modules(model: nn.Module) -> list:
    """Open a profiler range named after each flowkit submodule's class around its forward."""
    handles = []
    for module in model.modules():
        if module is model or not type(module).__module__.startswith("flowkit"):
            continue
        label = MARK + type(module).__name__

        def pre(mod, args, label=label):
            mod._profile_range = record_function(label)
            mod._profile_range.__enter__()

        def post(mod, args, output):
            mod._profile_range.__exit__(None, None, None)

        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    return handles


@contextmanager
def _imresize_range():
    """Count every ``imresize`` call (Gd/Gu's bicubic skip, the data's LR) as a region."""
    original = bicubic_module.imresize

    def wrapped(*args, **kwargs):
        with record_function(MARK + "imresize"):
            return original(*args, **kwargs)

    targets = [
        m
        for m in list(sys.modules.values())
        if m is not None
        and getattr(m, "__name__", "").startswith("flowkit")
        and getattr(m, "imresize", None) is original
    ]
    for m in targets:
        m.imresize = wrapped
    try:
        yield
    finally:
        for m in targets:
            m.imresize = original


def _tables(prof, total_us: float, top: int = 15) -> tuple[list[list], list[list]]:
    events = prof.key_averages()
    ops = sorted((e for e in events if not e.key.startswith(MARK)), key=lambda e: -e.self_cpu_time_total)
    op_rows = [
        [e.key, e.count, f"{e.self_cpu_time_total / 1e3:.1f}", f"{100 * e.self_cpu_time_total / total_us:.1f}"]
        for e in ops[:top]
    ]
    regions = defaultdict(lambda: [0, 0.0])
    for e in events:
        if e.key.startswith(MARK):
            regions[e.key[len(MARK) :]][0] += e.count
            regions[e.key[len(MARK) :]][1] += e.cpu_time_total
    region_rows = [
        [name, count, f"{us / 1e3:.1f}", f"{100 * us / total_us:.1f}"]
        for name, (count, us) in sorted(regions.items(), key=lambda kv: -kv[1][1])
    ]
    return op_rows, region_rows


def _profiled(model: nn.Module, device: torch.device, run, times: int, warm_up) -> tuple[float, list, list]:
    """Warm up, then profile ``run(k)`` for ``k < times`` with the module and ``imresize``
    ranges in place; returns the wall time and the two tables."""
    handles = _hook_modules(model)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    try:
        with _imresize_range():
            warm_up()
            start = time.perf_counter()
            with profile(activities=activities) as prof:
                for k in range(times):
                    run(k)
                if device.type == "cuda":
                    torch.cuda.synchronize()
            wall = time.perf_counter() - start
    finally:
        for h in handles:
            h.remove()
    ops, regions = _tables(prof, wall * 1e6)
    return wall, ops, regions


def profile_training(config: str, steps: int, device: torch.device) -> dict:
    c = load_config(config, ["workers=0"])
    torch.manual_seed(0)
    model = build(c.model, c.scale, **c.model_config).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=c.lr)
    data = PatchDataset(
        find_images([data_root() / "train"]),
        c.patch_size,
        c.scale,
        c.seed,
        (steps + 1) * c.batch_size,
        by_area=c.sample_by_area,
    )

    def step(k: int) -> None:
        with record_function(MARK + "data: one batch of PatchDataset"):
            hr, lr = (
                torch.stack(t).to(device)
                for t in zip(*(data[k * c.batch_size + i] for i in range(c.batch_size)), strict=True)
            )
        loss = model.training_losses(hr, lr)["total"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    wall, ops, regions = _profiled(model, device, lambda k: step(k + 1), steps, warm_up=lambda: step(0))
    return {
        "what": f"{steps} training steps of {config} (batch {c.batch_size}, patch {c.patch_size})",
        "wall_s": wall,
        "ops": ops,
        "regions": regions,
    }


@torch.no_grad()
def profile_roundtrip(name: str, scale: int, size: int, device: torch.device) -> dict:
    torch.manual_seed(0)
    model = build(name, scale).to(device).eval()
    hr = torch.rand(1, 3, size, size, device=device)
    wall, ops, regions = _profiled(
        model,
        device,
        lambda _: model.upscale(model.downscale(hr)),
        1,
        warm_up=lambda: model.upscale(model.downscale(hr)),
    )
    return {
        "what": f"one {name} x{scale} round trip of a {size}x{size} image (untrained weights)",
        "wall_s": wall,
        "ops": ops,
        "regions": regions,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--config", default="benchmarks/reproduce/configs/fgrn-x4.json")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=512)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--name", default=None)
    parser.add_argument("--out", default=None, help="results folder (default: benchmarks/results)")
    parser.add_argument("--note", default="", help="a sentence for the table (e.g. what else ran on the machine)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    parts = [profile_training(args.config, args.steps, device), profile_roundtrip("fgrn", 4, args.image_size, device)]
    text = [
        (
            f"Threads: {torch.get_num_threads()}, device {device}. Percentages are of the profiled wall time; "
            "module rows include their children (forward only), operator rows are self time. "
            f"`python -m benchmarks.profile --config {args.config} --steps {args.steps} --image-size "
            f"{args.image_size} --device {args.device}`" + (f". {args.note}" if args.note else "")
        )
    ]
    for part in parts:
        text += [
            "",
            f"**{part['what']}**: {part['wall_s']:.2f} s",
            "",
            markdown_table(["module / region", "calls", "ms", "% of wall"], part["regions"]),
            "",
            markdown_table(["operator", "calls", "self ms", "% of wall"], part["ops"]),
        ]
    name = args.name or f"profile_{args.device}_threads{torch.get_num_threads()}"
    write_outputs(name, {"parts": parts}, "\n".join(text), args.out)
    print("\n".join(text))
    return {"parts": parts}


if __name__ == "__main__":
    main()
