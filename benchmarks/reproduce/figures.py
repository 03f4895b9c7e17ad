"""Side-by-side crops for the docs: HR, the LR of each method, and the reconstructions.

Uses a held-out image (default: Urban100 img_004, half resolution) and the shipped
weights (the study runs named in ``records.toml``); writes
``docs/figures/crops_x<scale>.png`` and the figure's numbers (each method's whole-image
Y-PSNR and its LR's RGB PSNR against the bicubic LR) to
``benchmarks/results/reproduce/crops_x<scale>.json``.

Usage::

    python -m benchmarks.reproduce.figures [--image PATH] [--scale 4]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from benchmarks.common import REPO, RESULTS, description
from benchmarks.reproduce.common import data_root
from flowkit.atomic import atomic_write
from flowkit.image import load, mod_crop
from flowkit.metrics import psnr
from flowkit.models import available, build, pretrained
from flowkit.rescale import downscale_image, upscale_image

FIGURE_DIR = REPO / "docs" / "figures"


def _model(name: str, scale: int):
    """The shipped model ``name`` at ``scale``, or None (with a note) when none ships yet."""
    if name == "bicubic":
        return build("bicubic", scale)
    if (name, scale) not in available():
        print(f"{name} x{scale}: not shipped yet; left out of the figure")
        return None
    return pretrained(name, scale)


def main(argv: list[str] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--image", type=Path, default=None)
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--crop", type=int, nargs=4, default=(40, 40, 160, 160), metavar=("TOP", "LEFT", "H", "W"))
    args = parser.parse_args(argv)
    s = args.scale
    path = args.image or data_root() / "eval" / "Urban100" / "img_004.png"
    hr = mod_crop(load(path), s)
    top, left, h, w = args.crop
    torch.manual_seed(0)
    panels = [("HR", hr)]
    recs = []
    numbers: dict[str, dict[str, float]] = {}
    bicubic_lr = downscale_image(build("bicubic", s), hr)
    for name in ("bicubic", "irn", "fgrn"):
        model = _model(name, s)
        if model is None:
            continue
        lr = downscale_image(model, hr)
        sr = upscale_image(model, lr, size=tuple(hr.shape[-2:]))
        p = psnr(sr[None], hr[None], crop_border=s).item()
        lr_psnr = psnr(lr[None], bicubic_lr[None], y_channel=False).item()
        numbers[name] = {"psnr": p} if name == "bicubic" else {"psnr": p, "lr_psnr_rgb": lr_psnr}
        fidelity = "" if name == "bicubic" else f" ({lr_psnr:.1f} dB)"
        panels.append(
            (
                f"{name.upper() if name != 'bicubic' else 'Bicubic'} LR{fidelity}",
                lr.repeat_interleave(s, 1).repeat_interleave(s, 2),
            )
        )
        recs.append((f"{name.upper() if name != 'bicubic' else 'Bicubic'} x{s} ({p:.2f} dB)", sr))
    panels += recs
    fig, axes = plt.subplots(1, len(panels), figsize=(2.2 * len(panels), 2.6))
    for ax, (title, img) in zip(axes, panels, strict=True):
        ax.imshow(img[:, top : top + h, left : left + w].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.suptitle(
        f"{path.parent.name}/{path.name}, crop {h}x{w} at ({top}, {left}); LRs shown enlarged "
        "(nearest), in brackets their RGB PSNR against the bicubic LR; reconstructions' Y-PSNR; "
        "both on the whole image",
        fontsize=8,
    )
    fig.tight_layout()
    FIGURE_DIR.mkdir(parents=True, exist_ok=True)
    out = FIGURE_DIR / f"crops_x{s}.png"
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")
    record = {"image": f"{path.parent.name}/{path.name}", "scale": s, "crop": [top, left, h, w], "methods": numbers}
    text = json.dumps(record, indent=1).encode()
    atomic_write(RESULTS / "reproduce" / f"crops_x{s}.json", lambda f: f.write(text))


if __name__ == "__main__":
    main()
