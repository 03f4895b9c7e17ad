"""What :func:`flowkit.models.fgrn.search_lr` gains for a shipped FGRN on the study's held-out
training images (or, for reporting, an evaluation set), against its plain 8-bit LR.

Usage::

    python -m benchmarks.reproduce.lr_search --scale 4 [--steps 32] [--images N] [--eval-set NAME] [--out FILE]

Each of the first ``--images`` of the 10 held-out files of ``$FLOWKIT_DATA/train`` (centre crops
of at most 256 pixels, as the trainer validates) is downscaled by the shipped FGRN with and
without the search; with ``--eval-set NAME``, the whole images of that evaluation set instead
(mod-cropped, as evaluation reads them; for reporting after a decision, never for one). Per
image and on average: the Y-PSNR of the upscale (crop = scale), the RGB PSNR of the LR against
the 8-bit bicubic LR, the fraction of the representation recovered exactly from the LR, and the
search's seconds on this machine. Without ``--eval-set`` no evaluation set is read.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from benchmarks.common import description
from benchmarks.reproduce.common import data_root
from benchmarks.reproduce.validate_weights import HOLDOUT
from flowkit.atomic import atomic_write
from flowkit.image import EvalSet, bicubic_lr
from flowkit.metrics import lr_fidelity, psnr
from flowkit.models import FGRN, pretrained
from flowkit.models.fgrn import search_lr
from flowkit.train.data import find_images, split_holdout
from flowkit.train.validation import load_validation_images


def score(model: FGRN, hr: torch.Tensor, lr: torch.Tensor) -> dict[str, float]:
    """Y-PSNR of the upscale, RGB PSNR of ``lr`` against the bicubic LR, exact fraction."""
    size = tuple(hr.shape[-2:])
    x = model.representation(hr)
    return {
        "psnr": psnr(model.upscale(lr, size), hr, crop_border=model.scale).item(),
        "lr_psnr_rgb": lr_fidelity(lr, bicubic_lr(hr, model.scale))["lr_psnr_rgb"],
        "exact": (model.from_lr(lr) == x).float().mean().item(),
    }


@torch.no_grad()
def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--scale", type=int, choices=(2, 4), required=True)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--images", type=int, help="how many images (default: all)")
    parser.add_argument("--eval-set", help="an evaluation set's name (Set5, ...) in place of the held-out images")
    parser.add_argument("--out", type=Path, help="JSON file for the results (not written when omitted)")
    args = parser.parse_args(argv)
    if args.eval_set:
        dataset = EvalSet(data_root() / "eval" / args.eval_set, args.scale)
        files = dataset.files[: args.images]
        images = [dataset.load(path).hr.float() for path in files]
    else:
        _, files = split_holdout(find_images([data_root() / "train"]), HOLDOUT)
        files = files[: args.images]
        images = load_validation_images(files, args.scale)
    model = pretrained("fgrn", args.scale).eval()
    rows = []
    for path, hr in zip(files, images, strict=True):
        hr = hr[None]
        start = time.perf_counter()
        found = search_lr(model, hr, steps=args.steps)
        seconds = time.perf_counter() - start
        row = {"image": path.name, "plain": score(model, hr, model.downscale(hr)), "search": score(model, hr, found)}
        row["seconds"] = seconds
        rows.append(row)
        print(
            f"{path.name}: PSNR {row['plain']['psnr']:.3f} -> {row['search']['psnr']:.3f} dB, LR "
            f"{row['plain']['lr_psnr_rgb']:.2f} -> {row['search']['lr_psnr_rgb']:.2f} dB, exact "
            f"{row['plain']['exact']:.3f} -> {row['search']['exact']:.3f}, {seconds:.0f} s",
            flush=True,
        )
    mean = {side: {k: sum(r[side][k] for r in rows) / len(rows) for k in rows[0][side]} for side in ("plain", "search")}
    result = {"scale": args.scale, "steps": args.steps, "images": len(rows), "mean": mean, "rows": rows}
    if args.eval_set:
        result["eval_set"] = args.eval_set
    print(f"mean: {json.dumps(mean)}")
    if args.out is not None:
        text = json.dumps(result, indent=1).encode()
        atomic_write(args.out, lambda f: f.write(text))
    return result


if __name__ == "__main__":
    main()
