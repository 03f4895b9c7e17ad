"""Inference speed and memory: downscale, upscale and round trip for FGRN and IRN.

Each case runs in a fresh subprocess, so its peak memory (RSS on the CPU, max allocated
on CUDA) is its own. Reports ms, megapixels/s (HR pixels), peak memory, MACs per HR
pixel (counted with ``torch.utils.flop_counter``) and the achieved GFLOP/s as a fraction
of this machine's measured float32 matmul peak. With ``--irn-code PATH`` (the ``codes``
folder of the official IRN repository, read into a temporary folder — never committed)
the official IRN runs side by side.

Usage::

    python -m benchmarks.inference [--sizes 256 1MP 4K] [--models fgrn irn] [--scales 2 4]
        [--repeat 3] [--irn-code PATH] [--device cpu|cuda] [--dtype float32 bfloat16 bfloat16-subnets]
        [--name inference]   # results file name
    python -m benchmarks.inference --optimisations [--models fgrn irn] [--scales 4] [--sizes 1MP]
        [--settings no_grad inference_mode]   # a subset of the settings below

``--models shipped-fgrn`` (or ``shipped-irn``) times the network of the shipped weights
file, which may differ from the paper configuration that ``fgrn`` builds (the shipped FGRN
x4 has one more residual block in its downscaler).

``--optimisations`` times the round trip under each inference setting instead — plain
``no_grad``, ``inference_mode`` (what :mod:`flowkit.rescale` uses), ``inference_mode`` +
channels_last input, ``inference_mode`` + ``torch.compile`` (inductor; needs a C++
compiler), ``inference_mode`` with the subnetworks outside invertible layers in bfloat16
(:func:`flowkit.precision.subnets_in`, what ``flowkit downscale/upscale --dtype bfloat16``
does) and those two together (``--compile --dtype bfloat16``) — with the first call's time
(start-up, compilation included) beside the steady-state time, and writes
``inference_optimisations`` (or ``--name``). With ``--irn-code`` the official IRN runs
under the same settings in the same run (all but the bfloat16 ones: it has no flowkit
subnetworks), and a column gives each row's speed-up over the official IRN as its own test
script runs it (``no_grad``, same scale and size).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext

import torch

from benchmarks.common import SIZES, description, markdown_table, write_outputs
from benchmarks.irn_official import official_network
from flowkit.precision import subnets_in
from flowkit.rescale import compile_model


def matmul_peak_gflops(device: str, dtype: torch.dtype = torch.float32, n: int | None = None) -> float:
    """Measured dense matmul throughput (GFLOP/s) on this device and dtype: the yardstick for
    efficiency (``n`` x ``n`` products; 2048 on the CPU, 8192 on CUDA to fill the chip)."""
    n = n or (8192 if device.startswith("cuda") else 2048)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    _sync(device)
    start = time.perf_counter()
    reps = 5
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e9


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _official_irn(code: str, scale: int):
    net = official_network(code, scale).eval()

    class Wrapper:
        name, stride = "irn-official", scale

        def __init__(self):
            self.scale = scale

        def to(self, *a, **k):
            net.to(*a, **k)
            return self

        def parameters(self):
            return net.parameters()

        def downscale(self, hr):
            out = net(hr)[:, :3]
            return torch.round(out.clamp(0, 1) * 255) / 255

        def upscale(self, lr, size=None):
            z = torch.randn(lr.shape[0], 3 * (scale**2 - 1), *lr.shape[-2:], device=lr.device, dtype=lr.dtype)
            return net(torch.cat((lr, z), 1), rev=True)

    return Wrapper()


def _build(name: str, scale: int, irn_code: str | None):
    """The model ``name`` times: ``"irn-official"`` (needs ``irn_code``), ``"shipped-<model>"``
    (the shipped weights file's network, e.g. FGRN x4 with its grown downscaler), or a
    registered model's paper configuration (``"fgrn"``, ``"irn"``)."""
    from flowkit.models import build, pretrained

    if name == "irn-official":
        return _official_irn(irn_code, scale)
    if name.startswith("shipped-"):
        return pretrained(name.removeprefix("shipped-"), scale)
    return build(name, scale).eval()


def macs_per_pixel(name: str, scale: int, irn_code: str | None, op: str) -> float:
    """Multiply-accumulates per HR pixel of one operation, counted on a 64x64 HR image."""
    from torch.utils.flop_counter import FlopCounterMode

    model = _build(name, scale, irn_code)
    hr = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        lr = model.downscale(hr)
        counter = FlopCounterMode(display=False)
        with counter:
            if op in ("downscale", "roundtrip"):
                model.downscale(hr)
            if op in ("upscale", "roundtrip"):
                model.upscale(lr)
    return counter.get_total_flops() / 2 / (64 * 64)


def run_case(case: dict) -> dict:
    """Time one (model, scale, size, op, device, dtype) case in this process."""
    torch.manual_seed(0)
    device, (name, _, how) = case["device"], case["dtype"].partition("-")
    dtype = torch.float32 if how == "subnets" else getattr(torch, name)
    model = _build(case["model"], case["scale"], case.get("irn_code")).to(device=device, dtype=dtype)
    h, w = SIZES[case["size"]]
    hr = torch.rand(1, 3, h, w, device=device, dtype=dtype)
    if case.get("channels_last"):
        model = model.to(memory_format=torch.channels_last)
        hr = hr.contiguous(memory_format=torch.channels_last)
    if case.get("compile"):
        compile_model(model)
    context = torch.no_grad if case.get("no_grad_only") else torch.inference_mode
    precision = subnets_in(model, getattr(torch, name)) if how == "subnets" else nullcontext()
    with context(), precision:
        start = time.perf_counter()
        lr = model.downscale(hr)
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()

        def once():
            if case["op"] == "downscale":
                model.downscale(hr)
            elif case["op"] == "upscale":
                model.upscale(lr)
            else:
                model.upscale(model.downscale(hr))
            _sync(device)

        once()
        first_ms = (time.perf_counter() - start) * 1000
        times = []
        for _ in range(case["repeat"]):
            start = time.perf_counter()
            once()
            times.append(time.perf_counter() - start)
    ms = statistics.median(times) * 1000
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if device.startswith("cuda")
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {**case, "ms": ms, "first_ms": first_ms, "mp_per_s": h * w / 1e6 / (ms / 1000), "peak_mib": peak}


def _run_case(case: dict) -> dict | None:
    """One case: in a fresh subprocess on the CPU (so the RSS peak is the case's own); in
    this process on CUDA, where the allocator's peak is reset per case."""
    if not case["device"].startswith("cuda"):
        return _run_subprocess(case)
    torch.cuda.empty_cache()
    try:
        return run_case(case)
    except (RuntimeError, ValueError) as exc:
        print(
            f"{case['model']} x{case['scale']} {case['op']} {case['size']} {case['dtype']}: failed: "
            f"{str(exc).strip().splitlines()[0]}"
        )
        return None


def _run_subprocess(case: dict) -> dict | None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.inference", "--case", json.dumps(case)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    if proc.returncode != 0:
        print(
            f"{case['model']} x{case['scale']} {case['op']} {case['size']}: failed: "
            f"{proc.stderr.strip().splitlines()[-1]}"
        )
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


SETTINGS = {
    "no_grad": {"no_grad_only": True},
    "inference_mode": {},
    "inference_mode + channels_last": {"channels_last": True},
    "inference_mode + torch.compile": {"compile": True},
    "inference_mode + bfloat16 subnets": {"dtype": "bfloat16-subnets"},
    "inference_mode + torch.compile + bfloat16 subnets": {"compile": True, "dtype": "bfloat16-subnets"},
}


def optimisations(args) -> list[dict]:
    """Round-trip time under each inference setting, relative to plain ``no_grad``; ``first
    call ms`` is the set-up downscale plus the first round trip (where compilation happens).
    With ``args.irn_code``, the official IRN too, and every row's speed-up over it."""
    rows, results = [], []
    models = list(args.models) + (["irn-official"] if args.irn_code else [])
    for scale in args.scales:
        for name in models:
            for size in args.sizes:
                base = None
                for label in args.settings:
                    extra = SETTINGS[label]
                    if name == "irn-official" and "dtype" in extra:
                        continue  # the official code has no flowkit subnetworks to run in another dtype
                    case = {
                        "model": name,
                        "scale": scale,
                        "size": size,
                        "op": "roundtrip",
                        "device": args.device,
                        "dtype": args.dtype[0],
                        "repeat": args.repeat,
                        "irn_code": args.irn_code,
                        **extra,
                    }
                    r = _run_case(case)
                    if r is None:
                        continue
                    base = base or r["ms"]
                    results.append({**r, "setting": label, "speedup": base / r["ms"]})
                    rows.append(
                        [
                            name,
                            f"x{scale}",
                            size,
                            label,
                            f"{r['ms']:.0f}",
                            f"{base / r['ms']:.2f}x",
                            f"{r['first_ms']:.0f}",
                            f"{r['peak_mib']:.0f}",
                        ]
                    )
                    print(" | ".join(rows[-1]))
    header = ["model", "scale", "size", "setting", "round trip ms", "speed-up vs no_grad", "first call ms", "peak MiB"]
    official = {
        (r["scale"], r["size"]): r["ms"] for r in results if r["model"] == "irn-official" and r["setting"] == "no_grad"
    }
    if official:
        header.append("speed-up vs official IRN (no_grad)")
        for r, row in zip(results, rows, strict=True):
            base = official.get((r["scale"], r["size"]))
            r["vs_official"] = base / r["ms"] if base else None
            row.append(f"{r['vs_official']:.2f}x" if base else "")
    table = markdown_table(header, rows)
    json_path, md_path = write_outputs(
        args.name or "inference_optimisations", {"results": results, "device": args.device}, table, args.out
    )
    print(f"\n{table}\n\nwrote {json_path} and {md_path}")
    return results


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", nargs="+", default=["256", "1MP", "4K"], choices=list(SIZES))
    parser.add_argument(
        "--models",
        nargs="+",
        default=["fgrn", "irn"],
        help="registered models in their paper configuration (fgrn, irn), or shipped-fgrn / shipped-irn: "
        "the network of the shipped weights file",
    )
    parser.add_argument("--scales", nargs="+", type=int, default=[2, 4])
    parser.add_argument("--ops", nargs="+", default=["downscale", "upscale", "roundtrip"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--irn-code", help="path of the official IRN 'codes' folder (optional)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--dtype",
        nargs="+",
        default=["float32"],
        help="float32, bfloat16, float16 (the model cast), or bfloat16-subnets / float16-subnets "
        "(float32 model, subnetworks in that dtype: flowkit.precision, what --dtype does)",
    )
    parser.add_argument("--out", default=None)
    parser.add_argument(
        "--name",
        default=None,
        help="results file name (default: inference, or inference_optimisations with --optimisations)",
    )
    parser.add_argument(
        "--optimisations",
        action="store_true",
        help="compare no_grad / inference_mode / channels_last on the round trip",
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        default=list(SETTINGS),
        choices=list(SETTINGS),
        metavar="SETTING",
        help="with --optimisations: the settings to time (default all): " + ", ".join(repr(k) for k in SETTINGS),
    )
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return []
    if args.optimisations:
        return optimisations(args)
    models = list(args.models) + (["irn-official"] if args.irn_code else [])
    if not args.irn_code:
        print("note: official IRN column skipped (pass --irn-code PATH to include it)")
    peaks = {dtype: matmul_peak_gflops(args.device, getattr(torch, dtype.partition("-")[0])) for dtype in args.dtype}
    print(
        f"matmul peak on {args.device} ({torch.get_num_threads()} threads): "
        + ", ".join(f"{d} {p:.1f} GFLOP/s" for d, p in peaks.items())
    )
    rows, results = [], []
    macs_cache: dict = {}
    for scale in args.scales:
        for name in models:
            for op in args.ops:
                key = (name, scale, op)
                macs_cache[key] = macs_per_pixel(name, scale, args.irn_code, op)
                for size in args.sizes:
                    for dtype in args.dtype:
                        case = {
                            "model": name,
                            "scale": scale,
                            "size": size,
                            "op": op,
                            "device": args.device,
                            "dtype": dtype,
                            "repeat": args.repeat,
                            "irn_code": args.irn_code,
                        }
                        r = _run_case(case)
                        if r is None:
                            continue
                        h, w = SIZES[size]
                        r["macs_per_pixel"] = macs_cache[key]
                        r["gflops"] = 2 * macs_cache[key] * h * w / (r["ms"] / 1000) / 1e9
                        r["peak_fraction"] = r["gflops"] / peaks[dtype]
                        results.append(r)
                        rows.append(
                            [
                                name,
                                f"x{scale}",
                                op,
                                size,
                                dtype,
                                f"{r['ms']:.0f}",
                                f"{r['mp_per_s']:.2f}",
                                f"{r['peak_mib']:.0f}",
                                f"{r['macs_per_pixel'] / 1e3:.1f}k",
                                f"{r['gflops']:.1f} ({100 * r['peak_fraction']:.0f}%)",
                            ]
                        )
                        print(" | ".join(rows[-1]))
    table = markdown_table(
        [
            "model",
            "scale",
            "op",
            "size",
            "dtype",
            "ms",
            "MP/s",
            "peak MiB",
            "MACs/px",
            "GFLOP/s (% of the dtype's matmul peak)",
        ],
        rows,
    )
    json_path, md_path = write_outputs(
        args.name or "inference",
        {"results": results, "matmul_peak_gflops": peaks, "device": args.device},
        table,
        args.out,
    )
    print(f"\n{table}\n\nwrote {json_path} and {md_path}")
    return results


if __name__ == "__main__":
    main()
