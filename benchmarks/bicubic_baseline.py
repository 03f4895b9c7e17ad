"""The 'Bicubic & Bicubic' rows of the FGRN paper's Table 1, on our evaluation sets.

Each HR image is mod-cropped to the scale, downscaled with MATLAB bicubic and stored
as 8-bit, then upscaled with MATLAB bicubic; Y-PSNR / SSIM with a border crop of
``scale`` pixels. Our Urban100 copy is half resolution, so its numbers are not
comparable with published ones.

Usage::

    python benchmarks/bicubic_baseline.py [--data ../shared/data] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from benchmarks.common import DEFAULT_DATA, description, markdown_table, write_outputs
from flowkit.image import EvalSet, imresize
from flowkit.metrics import psnr, ssim

SETS = {"Set5": "Set5", "Set14": "Set14", "BSD100": "BSD100", "Urban100": "Urban100 (½ res)"}
PAPER = {  # FGRN paper, Table 1, Bicubic & Bicubic (PSNR, SSIM)
    2: {"Set5": (33.66, 0.9299), "Set14": (30.24, 0.8688), "BSD100": (29.56, 0.8431), "Urban100": (26.88, 0.8403)},
    4: {"Set5": (28.42, 0.8104), "Set14": (26.00, 0.7027), "BSD100": (25.96, 0.6675), "Urban100": (23.14, 0.6577)},
}


def evaluate(directory: Path, scale: int) -> dict:
    ps, ss = [], []
    for im in EvalSet(directory, scale):
        sr = imresize(im.lr[None], scale)
        ps.append(psnr(sr, im.hr[None], crop_border=scale).item())
        ss.append(ssim(sr, im.hr[None], crop_border=scale).item())
    return {"images": len(ps), "psnr": sum(ps) / len(ps), "ssim": sum(ss) / len(ss)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder (has eval/)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    torch.set_num_threads(torch.get_num_threads())
    results, rows = {}, []
    start = time.perf_counter()
    for scale in (2, 4):
        for key, label in SETS.items():
            r = evaluate(args.data / "eval" / key, scale)
            results[f"{key}_x{scale}"] = r
            paper = PAPER[scale][key]
            rows.append(
                [
                    f"x{scale}",
                    label,
                    r["images"],
                    f"{r['psnr']:.2f} / {r['ssim']:.4f}",
                    f"{paper[0]:.2f} / {paper[1]:.4f}",
                    f"{r['psnr'] - paper[0]:+.2f}",
                ]
            )
            print(f"x{scale} {label:18s} {r['psnr']:.2f} dB / {r['ssim']:.4f}  (paper {paper[0]:.2f} / {paper[1]:.4f})")
    table = markdown_table(["scale", "set", "images", "ours PSNR / SSIM", "paper PSNR / SSIM", "Δ PSNR"], rows)
    elapsed = time.perf_counter() - start
    json_path, md_path = write_outputs(
        "bicubic_baseline", {"results": results, "paper": PAPER, "seconds": elapsed}, table, args.out
    )
    print(f"\n{table}\n\nwrote {json_path} and {md_path} ({elapsed:.0f} s)")
    return results


if __name__ == "__main__":
    main()
