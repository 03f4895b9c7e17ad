"""Evaluate a rescaling model the way the papers do.

For every HR image of every set: mod-crop to the scale, ``downscale``, pass the LR
through real 8-bit storage, ``upscale``; Y-PSNR and SSIM of the reconstruction with a
border crop of ``scale`` pixels; NIQE and PIQE of the 8-bit LR; and the LR's fidelity
to the bicubic LR (MATLAB ``imresize``, 8-bit): PSNR and SSIM on RGB and on Y, with no
border crop (the "LR" columns of IRN's papers). IRN with Gaussian z is scored as the
mean over ``draws`` samples of z.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from flowkit.image.datasets import EvalSet
from flowkit.image.io import load
from flowkit.layers.quantize import quantize
from flowkit.metrics import LR_FIDELITY, lr_fidelity, niqe, piqe, psnr, ssim
from flowkit.metrics.niqe import BLOCK as niqe_block
from flowkit.metrics.niqe import default_niqe_params
from flowkit.models.base import RescalingModel

__all__ = ["evaluate", "lr_quality", "set_label", "report_table"]


def set_label(name: str, directory: str | os.PathLike) -> str:
    """The name to print for a set; flags a half-resolution Urban100 copy (standard HR
    images are 1024 px on the long side), whose numbers are not comparable with papers."""
    if name.lower().startswith("urban100"):
        first = next(iter(sorted(Path(directory).glob("*.png"))), None)
        if first is not None and max(load(first).shape[-2:]) <= 512:
            return f"{name} (½ res)"
    return name


def _mean(values: list[float | None], keep_inf: bool = False) -> float | None:
    """Mean of the finite values (``keep_inf``: an infinite PSNR, an exact match, counts and
    makes the mean infinite); ``None`` when nothing is left."""
    kept = [v for v in values if v is not None and (math.isfinite(v) or (keep_inf and v == math.inf))]
    return sum(kept) / len(kept) if kept else None


def lr_quality(lr: Tensor, niqe_params: str | os.PathLike | None = None) -> dict[str, float | None]:
    """PIQE and NIQE of one 8-bit LR image ``(1, 3, H, W)`` in [0, 1], as :func:`evaluate`
    scores every LR: ``niqe`` is None when the image is smaller than 96x96 pixels (NIQE's
    block) or when there are no pristine parameters (``niqe_params``, default
    :func:`~flowkit.metrics.niqe.default_niqe_params`).

    >>> q = lr_quality(torch.full((1, 3, 32, 32), 0.5))
    >>> sorted(q), q["niqe"]
    (['niqe', 'piqe'], None)
    """
    lr = lr.cpu()
    use_niqe = niqe_params is not None or default_niqe_params() is not None
    return {
        "piqe": piqe(lr).item(),
        "niqe": niqe(lr, params=niqe_params).item() if use_niqe and min(lr.shape[-2:]) >= niqe_block else None,
    }


@torch.no_grad()
def evaluate(
    model: RescalingModel,
    sets: Mapping[str, str | os.PathLike],
    *,
    draws: int = 5,
    niqe_params: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """Score ``model`` on evaluation sets.

    Args:
        model: any :class:`~flowkit.models.RescalingModel`.
        sets: set name -> folder of HR images.
        draws: upscales averaged per image when the model samples (IRN with Gaussian z).
        niqe_params: NIQE pristine model (default
            :func:`~flowkit.metrics.niqe.default_niqe_params`); when there is none NIQE
            is left out.
        device: where to run the model.

    Returns:
        A dict per set with the keys ``label``, ``images``, ``psnr``, ``ssim``, ``niqe``,
        ``niqe_images``, ``piqe``, the LR fidelity ``lr_psnr_rgb``, ``lr_psnr_y``,
        ``lr_ssim_rgb``, ``lr_ssim_y``, ``draws`` and ``per_image`` (a list of dicts). NIQE
        is averaged over the LR images of at least 96x96 pixels (``niqe_images``
        counts them), ``None`` if there is none.

    Example:
        >>> import tempfile, torch
        >>> from flowkit.image import save_png
        >>> from flowkit.models import build
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save_png(f"{d}/a.png", torch.rand(3, 32, 32))
        ...     report = evaluate(build("bicubic", 2), {"tiny": d}, progress=False)
        >>> report["tiny"]["images"], report["tiny"]["psnr"] > 0
        (1, True)
    """
    model = model.to(device).eval()
    n_draws = draws if model.stochastic else 1
    if niqe_params is None:
        niqe_params = default_niqe_params()  # looked up once, not per image
    report: dict[str, Any] = {}
    for name, directory in sets.items():
        dataset = EvalSet(directory, model.scale)
        rows = []
        for path in tqdm(dataset.files, desc=f"{model.name} x{model.scale} {name}", disable=not progress, leave=False):
            item = dataset.load(path)
            hr = item.hr.float().to(device)[None]
            lr = quantize(model.downscale(hr))
            p, s = [], []
            for _ in range(n_draws):
                sr = model.upscale(lr, size=tuple(hr.shape[-2:]))
                p.append(psnr(sr, hr, crop_border=model.scale).item())
                s.append(ssim(sr, hr, crop_border=model.scale).item())
            lr_cpu = lr.cpu()
            rows.append(
                {
                    "image": item.name,
                    "psnr": sum(p) / n_draws,
                    "ssim": sum(s) / n_draws,
                    **lr_quality(lr_cpu, niqe_params),
                    **lr_fidelity(lr_cpu, item.lr[None]),
                }
            )
        report[name] = {
            "label": set_label(name, directory),
            "images": len(rows),
            "psnr": _mean([r["psnr"] for r in rows]),
            "ssim": _mean([r["ssim"] for r in rows]),
            "niqe": _mean([r["niqe"] for r in rows]),
            "niqe_images": sum(r["niqe"] is not None for r in rows),
            "piqe": _mean([r["piqe"] for r in rows]),
            **{key: _mean([r[key] for r in rows], keep_inf=True) for key in LR_FIDELITY},
            "draws": n_draws,
            "per_image": rows,
        }
    return report


def report_table(report: Mapping[str, Any]) -> str:
    """A markdown table of a report from :func:`evaluate`."""

    def fmt(v: float | None, digits: int) -> str:
        return "–" if v is None else f"{v:.{digits}f}"

    lines = [
        (
            "| set | images | PSNR (Y) | SSIM (Y) | NIQE (LR) | PIQE (LR) | LR vs bicubic PSNR RGB / Y "
            "| LR vs bicubic SSIM RGB / Y |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report.values():
        niqe_note = "" if r["niqe_images"] in (0, r["images"]) else f" ({r['niqe_images']} img)"
        lines.append(
            f"| {r['label']} | {r['images']} | {fmt(r['psnr'], 2)} | {fmt(r['ssim'], 4)} | "
            f"{fmt(r['niqe'], 3)}{niqe_note} | {fmt(r['piqe'], 3)} | "
            f"{fmt(r.get('lr_psnr_rgb'), 2)} / {fmt(r.get('lr_psnr_y'), 2)} | "
            f"{fmt(r.get('lr_ssim_rgb'), 4)} / {fmt(r.get('lr_ssim_y'), 4)} |"
        )
    return "\n".join(lines)
