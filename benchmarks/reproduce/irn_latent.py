"""Where IRN fails at our budget: per image, its PSNR against Bicubic & Bicubic and what its
latent z looks like.

IRN x2 is below Bicubic & Bicubic on Set5 and Set14 in Table 1 although its network, loss
and gradient equal the official code's (``python -m benchmarks.irn_equivalence``). This
script looks at the shipped IRNs (x4: its 8000-step GPU run; x2: its training-seed-1 run) image by
image on Set5 and Set14:

- ``bicubic``, ``irn``: Y-PSNR of Bicubic & Bicubic and of IRN (one Gaussian z draw, seed 0),
  through the 8-bit LR, border crop = scale, as in Table 1;
- ``irn_own_z``: IRN's reconstruction from the 8-bit LR and the z that its own forward pass
  produced for this image, instead of a Gaussian draw;
- ``max_abs_z``: the largest |z| of the forward pass (IRN trains z towards N(0, 1));
  ``outlier_pct``: the percentage of LR pixels where some channel of z has |z| > 10,
  which a standard normal latent does essentially never (P < 1e-22 per value).

Usage::

    python -m benchmarks.reproduce.irn_latent                           # the shipped IRN x2 and x4
    python -m benchmarks.reproduce.irn_latent --run irn-x2-s1 --scale 2  # a run's final weights instead
    python -m benchmarks.reproduce.irn_latent --weights F.safetensors --scale 2  # or a weights file

A run's table goes to ``irn_latent_<run>``, a file's to ``irn_latent_<file name without suffix>``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from benchmarks.common import description
from benchmarks.reproduce.common import data_root, final_weights
from benchmarks.reproduce.report import write
from flowkit.image import load, mod_crop
from flowkit.layers.quantize import quantize
from flowkit.metrics import psnr
from flowkit.models import IRN, build, load_model, pretrained

SETS = ("Set5", "Set14")
OUTLIER = 10.0


def per_image(irn: IRN, scale: int) -> list[dict]:
    bicubic = build("bicubic", scale)
    rows = []
    for s in SETS:
        for path in sorted((data_root() / "eval" / s).glob("*.png")):
            hr = mod_crop(load(path), scale)[None]
            size = tuple(hr.shape[-2:])
            torch.manual_seed(0)
            with torch.inference_mode():
                out, _ = irn.net(hr)  # one forward pass: the LR (as IRN.downscale quantises it) and z
                z = out[:, 3:]
                lr = quantize(irn.quantize(out[:, :3]))
                lr_bicubic = quantize(bicubic.downscale(hr))
                rows.append(
                    {
                        "image": f"{s}/{path.stem}",
                        "bicubic": psnr(bicubic.upscale(lr_bicubic, size=size), hr, crop_border=scale).item(),
                        "irn": psnr(irn.upscale(lr, size=size), hr, crop_border=scale).item(),
                        "irn_own_z": psnr(irn.upscale(lr, size=size, z=z), hr, crop_border=scale).item(),
                        "max_abs_z": z.abs().max().item(),
                        "outlier_pct": 100 * (z.abs().amax(1) > OUTLIER).float().mean().item(),
                    }
                )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=description(__doc__))
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--run", help="a finished IRN run under benchmarks/reproduce/runs instead of the shipped IRN")
    which.add_argument(
        "--weights",
        type=Path,
        help="an IRN weights file instead of the shipped IRN (e.g. one shipped before, from the repository's history)",
    )
    parser.add_argument("--scale", type=int, choices=(2, 4), help="the scale of --run or --weights")
    args = parser.parse_args(argv)
    chosen = args.run or args.weights
    if (chosen is None) != (args.scale is None):
        parser.error("--run or --weights goes with --scale")
    weights = final_weights(args.run) if args.run else args.weights
    payload, sections = {}, []
    for scale in (args.scale,) if chosen else (2, 4):
        irn = load_model(weights, expect_model="irn", expect_scale=scale) if chosen else pretrained("irn", scale)
        rows = per_image(irn, scale)
        payload[f"x{scale}"] = rows
        header = (
            "| image | Bicubic & Bicubic | IRN | IRN − bicubic | IRN, its own z | max \\|z\\| | "
            f"LR pixels with \\|z\\| > {OUTLIER:g} |"
        )
        lines = [header, "|---|---|---|---|---|---|---|"]
        lines += [
            f"| {r['image']} | {r['bicubic']:.2f} | {r['irn']:.2f} | {r['irn'] - r['bicubic']:+.2f} | "
            f"{r['irn_own_z']:.2f} | {r['max_abs_z']:.1f} | {r['outlier_pct']:.2f} % |"
            for r in rows
        ]
        sections.append(f"### x{scale}\n\n" + "\n".join(lines))
    source = f"run `{args.run}`" if args.run else f"`{weights.name}`" if weights else "shipped IRN"
    write(
        "irn_latent" + (f"_{args.run or weights.stem}" if chosen else ""),
        payload,
        f"## IRN per image: PSNR and its latent z ({source}, Set5 and Set14)\n\n"
        "Y-PSNR (dB) through the 8-bit LR, border crop = scale; IRN with one Gaussian z draw (seed 0); "
        '"its own z": the z of IRN\'s own forward pass of the image.\n\n' + "\n\n".join(sections),
    )


if __name__ == "__main__":
    main()
