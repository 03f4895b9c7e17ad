"""Validation during training: Y-PSNR of the HR reconstruction through the real 8-bit LR,
and the LR's RGB PSNR against the bicubic LR (its fidelity)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from flowkit.image.bicubic import bicubic_lr
from flowkit.image.datasets import mod_crop
from flowkit.image.io import load
from flowkit.layers.quantize import quantize
from flowkit.metrics import psnr
from flowkit.models.base import RescalingModel

__all__ = ["load_validation_images", "validate"]


def load_validation_images(files: list[Path], scale: int, max_side: int = 256) -> list[Tensor]:
    """Validation HR images ``(3, H, W)``: a centre crop of at most ``max_side`` px, mod-cropped.

    Raises:
        ValueError: an image is smaller than ``3 * scale`` pixels on a side (its PSNR, which
            crops ``scale`` pixels at each border, would be empty), naming the file.
    """
    out = []
    for path in files:
        img = load(path)
        h, w = img.shape[-2:]
        if min(h, w) < 3 * scale:
            raise ValueError(
                f"{path}: validation image is {h}x{w}, smaller than {3 * scale}x{3 * scale} at x{scale}; "
                "remove it from the training folder or change val_holdout"
            )
        top, left = max(0, (h - max_side) // 2), max(0, (w - max_side) // 2)
        out.append(mod_crop(img[:, top : top + max_side, left : left + max_side], scale))
    return out


@torch.no_grad()
def validate(model: RescalingModel, images: list[Tensor], device: torch.device) -> dict[str, float | list]:
    """Mean Y-PSNR (crop = scale) of ``rescale`` over ``images``, via the 8-bit LR, and the
    mean RGB PSNR of that LR against the 8-bit bicubic LR (no crop).

    Returns ``{"psnr": mean, "lr_psnr_rgb": mean, "psnr_per_image": [psnr, ...],
    "samples": [(hr, lr, sr), ...]}`` (tensors on the CPU; one PSNR and one sample per image,
    in the order of ``images``).
    """
    was_training = model.training
    model.eval()
    values, lr_values, samples = [], [], []
    for hr in images:
        hr = hr.to(device)[None]
        lr = quantize(model.downscale(hr))
        sr = model.upscale(lr, size=tuple(hr.shape[-2:]))
        values.append(psnr(sr, hr, crop_border=model.scale).item())
        lr_values.append(psnr(lr, bicubic_lr(hr, model.scale), y_channel=False).item())
        samples.append((hr[0].cpu(), lr[0].cpu(), sr[0].clamp(0, 1).cpu()))
    model.train(was_training)
    nan = float("nan")
    return {
        "psnr": sum(values) / len(values) if values else nan,
        "lr_psnr_rgb": sum(lr_values) / len(lr_values) if lr_values else nan,
        "psnr_per_image": values,
        "samples": samples,
    }
