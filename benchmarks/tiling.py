"""Tiled rescaling: peak memory of a 4K x4 round trip, and what tiling costs in PSNR.

Each case runs in a fresh subprocess and reports its peak RSS. The quality check runs
the same model tiled and untiled on images that fit in memory both ways (Set14
``barbara`` and the 4K test card) and compares their Y-PSNR against the HR image.

Usage::

    python -m benchmarks.tiling [--weights-dir DIR] [--tile 512 --overlap 32]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks.common import DEFAULT_DATA, description, markdown_table, write_outputs


def _model(name: str, scale: int):
    """The shipped model, or an untrained one (which still measures memory and time) and which it is."""
    from flowkit.models import ModelFileError, build, pretrained

    try:
        return pretrained(name, scale), "shipped"
    except ModelFileError:
        return build(name, scale).eval(), "untrained"


def run_case(case: dict) -> dict:
    from flowkit.examples.sample_image import test_card
    from flowkit.rescale import downscale_image, upscale_image

    torch.manual_seed(0)
    model, _ = _model(case["model"], case["scale"])
    hr = test_card(2160, 3840)
    start = time.perf_counter()
    lr = downscale_image(model, hr, tile=case["tile"], overlap=case["overlap"])
    upscale_image(model, lr, size=tuple(hr.shape[-2:]), tile=case["tile_lr"], overlap=case["overlap_lr"])
    seconds = time.perf_counter() - start
    return {**case, "seconds": seconds, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def quality(name: str, scale: int, images: dict[str, torch.Tensor], tile: int, overlap: int) -> list[dict]:
    from flowkit.metrics import psnr
    from flowkit.rescale import downscale_image, upscale_image

    model, weights = _model(name, scale)
    out = []
    for label, hr in images.items():
        torch.manual_seed(0)
        lr = downscale_image(model, hr, tile=10**9)  # untiled (tile larger than the image)
        sr = upscale_image(model, lr, size=tuple(hr.shape[-2:]), tile=10**9)
        torch.manual_seed(0)
        lr_t = downscale_image(model, hr, tile=tile, overlap=overlap)
        sr_t = upscale_image(model, lr_t, size=tuple(hr.shape[-2:]), tile=tile // scale, overlap=overlap // scale)
        p, p_t = (psnr(x[None], hr[None], crop_border=scale).item() for x in (sr, sr_t))
        out.append(
            {
                "model": name,
                "weights": weights,
                "scale": scale,
                "image": label,
                "psnr_untiled": p,
                "psnr_tiled": p_t,
                "delta_db": p_t - p,
                "lr_levels_changed": float((lr_t != lr).float().mean()),
            }
        )
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--tile", type=int, default=512, help="HR tile for downscaling (LR tile = tile / scale)")
    parser.add_argument("--overlap", type=int, default=64, help="HR overlap (LR overlap = overlap / scale)")
    parser.add_argument("--models", nargs="+", default=["fgrn", "irn"])
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return {}
    memory_rows, memory = [], []
    for name in args.models:
        for tiled in (False, True):
            case = {
                "model": name,
                "scale": 4,
                "tile": args.tile if tiled else 10**9,
                "overlap": args.overlap,
                "tile_lr": args.tile // 4 if tiled else 10**9,
                "overlap_lr": args.overlap // 4,
            }
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks.tiling", "--case", json.dumps(case)], capture_output=True, text=True
            )
            if proc.returncode != 0:
                status = "out of memory or failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
                memory_rows.append([name, "x4", "tiled" if tiled else "untiled", "–", status])
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            memory.append(r)
            memory_rows.append(
                [
                    name,
                    "x4",
                    f"tiled {args.tile}/{args.overlap}" if tiled else "untiled",
                    f"{r['seconds']:.1f}",
                    f"{r['peak_rss_mib'] / 1024:.2f} GiB",
                ]
            )
            print(" | ".join(memory_rows[-1]))
    from flowkit.examples.sample_image import test_card
    from flowkit.image import load, mod_crop

    images = {
        "Set14/barbara": mod_crop(load(args.data / "eval" / "Set14" / "barbara.png"), 4),
        "test card 4K": test_card(2160, 3840),
    }
    q = [row for name in args.models for row in quality(name, 4, images, args.tile, args.overlap)]
    q_rows = [
        [
            r["model"],
            r["weights"],
            r["image"],
            f"{r['psnr_untiled']:.3f}",
            f"{r['psnr_tiled']:.3f}",
            f"{r['delta_db']:+.3f}",
            f"{100 * r['lr_levels_changed']:.2f}%",
        ]
        for r in q
    ]
    table = (
        markdown_table(["model", "scale", "mode", "4K round trip s", "peak RSS"], memory_rows)
        + "\n\n"
        + markdown_table(
            ["model", "weights", "image", "PSNR untiled", "PSNR tiled", "Δ dB", "LR values changed"], q_rows
        )
    )
    json_path, md_path = write_outputs(
        "tiling", {"memory": memory, "quality": q, "tile": args.tile, "overlap": args.overlap}, table, args.out
    )
    print(f"\n{table}\n\nwrote {json_path} and {md_path}")
    return {"memory": memory, "quality": q}


if __name__ == "__main__":
    main()
