"""Shared preparation of images for the metrics: 8-bit levels, Y channel, border crop."""

from __future__ import annotations

import torch
from torch import Tensor

from flowkit.image.color import rgb_to_y


def as_batch(name: str, img: Tensor) -> Tensor:
    """Validate an image batch: ``(B, C, H, W)`` or ``(C, H, W)`` float -> ``(B, C, H, W)``."""
    if not isinstance(img, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(img).__name__}")
    if img.dim() == 3:
        img = img.unsqueeze(0)
    if img.dim() != 4 or img.shape[1] not in (1, 3):
        raise ValueError(f"{name}: expected (B, 3, H, W), (3, H, W) or 1-channel images, got {tuple(img.shape)}")
    if not img.is_floating_point():
        raise TypeError(f"{name}: expected floating-point images in [0, 1], got {img.dtype}")
    if not torch.isfinite(img).all():
        raise ValueError(f"{name}: image contains NaN or Inf")
    return img


def to_levels(img: Tensor) -> Tensor:
    """Round to 8-bit levels as saving a PNG would: ``round(255 clamp(x, 0, 1))``, float64."""
    return torch.round(img.detach().to(torch.float64).clamp(0, 1) * 255)


def prepare_pair(name: str, pred: Tensor, target: Tensor, crop_border: int, y_channel: bool) -> tuple[Tensor, Tensor]:
    """Both images as 8-bit levels (Y of BT.601 if ``y_channel``), borders cropped.

    Returns ``(B, C', H', W')`` float64 tensors on the 0..255 scale.
    """
    pred, target = as_batch(name, pred), as_batch(name, target)
    if pred.shape != target.shape:
        raise ValueError(f"{name}: shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    if crop_border < 0 or 2 * crop_border >= min(pred.shape[-2:]):
        raise ValueError(f"{name}: crop_border {crop_border} leaves nothing of a {tuple(pred.shape[-2:])} image")
    out = []
    for img in (pred, target):
        levels = to_levels(img)
        if y_channel and levels.shape[1] == 3:
            levels = rgb_to_y(levels / 255) * 255
        if crop_border:
            levels = levels[..., crop_border:-crop_border, crop_border:-crop_border]
        out.append(levels)
    return out[0], out[1]
