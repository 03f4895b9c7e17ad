"""Where IRN fails at our budget: per image, its PSNR against Bicubic & Bicubic and what its
latent z looks like.

IRN x2 is below Bicubic & Bicubic on Set5 and Set14 in Table 1 although its network, loss
and gradient equal the official code's (``python -m benchmarks.irn_equivalence``). This
script looks at the shipped IRN (the Table 1 runs) image by image on Set5 and Set14:

- ``bicubic``, ``irn``: Y-PSNR of Bicubic & Bicubic and of IRN (one Gaussian z draw, seed 0),
  through the 8-bit LR, border crop = scale, as in Table 1;
- ``irn_own_z``: IRN's reconstruction from the 8-bit LR and the z that its own forward pass
  produced for this image, instead of a Gaussian draw;
- ``max_abs_z``: the largest |z| of the forward pass (IRN trains z towards N(0, 1));
  ``outlier_pct``: the percentage of LR pixels where some channel of z has |z| > 10,
  which a standard normal latent does essentially never (P < 1e-22 per value).

Usage::

    python -m benchmarks.reproduce.irn_latent
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.reproduce.common import data_root
from benchmarks.reproduce.report import write
from flowkit.image import load, mod_crop
from flowkit.metrics import psnr
from flowkit.models import build, pretrained
from flowkit.train.validation import through_8bit

SETS = ("Set5", "Set14")
OUTLIER = 10.0


def per_image(scale: int) -> list[dict]:
    irn, bicubic = pretrained("irn", scale), build("bicubic", scale)
    rows = []
    for s in SETS:
        for path in sorted((data_root() / "eval" / s).glob("*.png")):
            hr = mod_crop(load(path), scale)[None]
            size = tuple(hr.shape[-2:])
            torch.manual_seed(0)
            with torch.inference_mode():
                out, _ = irn.net(hr)  # one forward pass: the LR (as IRN.downscale quantises it) and z
                z = out[:, 3:]
                lr = through_8bit(irn.quantize(out[:, :3]))
                lr_bicubic = through_8bit(bicubic.downscale(hr))
                rows.append({
                    "image": f"{s}/{path.stem}",
                    "bicubic": psnr(bicubic.upscale(lr_bicubic, size=size), hr, crop_border=scale).item(),
                    "irn": psnr(irn.upscale(lr, size=size), hr, crop_border=scale).item(),
                    "irn_own_z": psnr(irn.upscale(lr, size=size, z=z), hr, crop_border=scale).item(),
                    "max_abs_z": z.abs().max().item(),
                    "outlier_pct": 100 * (z.abs().amax(1) > OUTLIER).float().mean().item(),
                })
    return rows


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    payload, sections = {}, []
    for scale in (2, 4):
        rows = per_image(scale)
        payload[f"x{scale}"] = rows
        lines = ["| image | Bicubic & Bicubic | IRN | IRN − bicubic | IRN, its own z | max \\|z\\| | "
                 f"LR pixels with \\|z\\| > {OUTLIER:g} |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['image']} | {r['bicubic']:.2f} | {r['irn']:.2f} | {r['irn'] - r['bicubic']:+.2f} | "
                  f"{r['irn_own_z']:.2f} | {r['max_abs_z']:.1f} | {r['outlier_pct']:.2f} % |" for r in rows]
        sections.append(f"### x{scale}\n\n" + "\n".join(lines))
    write("irn_latent", payload, "## IRN per image: PSNR and its latent z (shipped IRN, Set5 and Set14)\n\n"
          "Y-PSNR (dB) through the 8-bit LR, border crop = scale; IRN with one Gaussian z draw (seed 0); "
          "\"its own z\": the z of IRN's own forward pass of the image.\n\n" + "\n\n".join(sections))


if __name__ == "__main__":
    main()
