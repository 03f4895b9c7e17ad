"""Reduced-precision inference: what bfloat16 / float16 cost in PSNR, with the shipped weights.

Each model rescales every image of the sets (the 8-bit LR, then the upscale; IRN's
Gaussian latent is drawn from one seed per image, so every mode sees the same draw) in
float32, with the whole model under ``torch.autocast``, with the subnetworks outside
invertible layers in reduced precision (:func:`flowkit.precision.subnets_in`, what
``--dtype`` does) and with every subnetwork in reduced precision (``flows=True``). Reports
each mode's mean Y-PSNR (border = scale), its difference from float32, the share of LR values equal to
float32's, and the time of the set's round trips relative to float32's (modes take turns
image by image, so load changes hit them alike).

Usage::

    python -m benchmarks.precision --data ../shared/data/eval [--sets Set5 Set14]
        [--models fgrn-x4 fgrn-x2 irn-x4] [--dtypes bfloat16] [--device cpu|cuda] [--name precision]
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from benchmarks.common import description, machine, markdown_table, write_outputs
from flowkit.image.io import load
from flowkit.metrics import psnr
from flowkit.models import pretrained
from flowkit.precision import DTYPES, subnets_in


def _modes(dtypes: list[str]) -> list[tuple[str, str, str]]:
    """(label, dtype, how): float32 first, then each way of reducing precision for each dtype."""
    return [("float32", "float32", "none")] + [
        (f"{d} {how}", d, how) for d in dtypes for how in ("autocast", "subnets", "all-subnets")
    ]


def _context(model, dtype: str, how: str, device: str):
    if how == "autocast":
        return torch.autocast(device, dtype=DTYPES[dtype])
    if how in ("subnets", "all-subnets"):
        return subnets_in(model, DTYPES[dtype], flows=how == "all-subnets")
    return nullcontext()


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure(name: str, scale: int, folder: Path, modes: list[tuple[str, str, str]], device: str) -> dict:
    model = pretrained(name, scale, map_location=device)
    scores = {label: [] for label, _, _ in modes}
    same = {label: [] for label, _, _ in modes}
    seconds = dict.fromkeys(scores, 0.0)
    for path in sorted(folder.glob("*.png")):
        hr = load(path).to(device)
        reference = None
        for label, dtype, how in modes:
            torch.manual_seed(0)
            _sync(device)
            start = time.perf_counter()
            with torch.inference_mode(), _context(model, dtype, how, device):
                lr = model.downscale(hr[None])
                sr = model.upscale(lr, size=tuple(hr.shape[-2:])).clamp(0, 1)
            _sync(device)
            seconds[label] += time.perf_counter() - start
            lr = lr.float()
            reference = lr if reference is None else reference
            same[label].append(float((lr == reference).float().mean()))
            scores[label].append(float(psnr(sr.float(), hr, crop_border=scale)))
    base = sum(scores["float32"]) / len(scores["float32"])
    return {
        label: {
            "psnr": sum(v) / len(v),
            "delta": sum(v) / len(v) - base,
            "lr_equal": sum(same[label]) / len(same[label]),
            "time_ratio": seconds[label] / seconds["float32"],
            "images": len(v),
        }
        for label, v in scores.items()
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--data", required=True, help="folder with the evaluation sets")
    parser.add_argument("--sets", nargs="+", default=["Set5", "Set14"])
    parser.add_argument("--models", nargs="+", default=["fgrn-x4", "fgrn-x2", "irn-x4"])
    parser.add_argument("--dtypes", nargs="+", default=["bfloat16"], choices=[d for d in DTYPES if d != "float32"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default=None)
    parser.add_argument("--name", default="precision", help="results file name (default: precision)")
    args = parser.parse_args(argv)
    modes = _modes(args.dtypes)
    results, rows = {}, []
    for spec in args.models:
        name, scale = spec.split("-x")
        for set_name in args.sets:
            r = measure(name, int(scale), Path(args.data) / set_name, modes, args.device)
            results[f"{spec} {set_name}"] = r
            for label, v in r.items():
                rows.append(
                    [
                        spec,
                        set_name,
                        label,
                        f"{v['psnr']:.3f}",
                        f"{v['delta']:+.3f}",
                        f"{v['lr_equal']:.4f}",
                        f"{v['time_ratio']:.2f}",
                    ]
                )
                print(" | ".join(rows[-1]), flush=True)
    table = markdown_table(
        ["model", "set", "mode", "Y-PSNR (dB)", "vs float32", "LR values equal to float32's", "time / float32's"], rows
    )
    payload = {"results": results, "device": args.device, "machine": machine()}
    json_path, md_path = write_outputs(args.name, payload, table, args.out)
    print(f"\n{table}\n\nwrote {json_path} and {md_path}")
    return payload


if __name__ == "__main__":
    main()
