"""LR fidelity: how close a model's LR image is to the bicubic LR (IRN's "LR" columns)."""

from __future__ import annotations

from torch import Tensor

from flowkit.metrics.psnr import psnr
from flowkit.metrics.ssim import ssim

__all__ = ["LR_FIDELITY", "lr_fidelity"]

#: The keys of :func:`~flowkit.metrics.lr_fidelity`.
LR_FIDELITY = ("lr_psnr_rgb", "lr_psnr_y", "lr_ssim_rgb", "lr_ssim_y")


def lr_fidelity(lr: Tensor, lr_bicubic: Tensor) -> dict[str, float | None]:
    """PSNR and SSIM of a model's LR ``(1, 3, h, w)`` against the bicubic LR, on RGB and on
    Y, without a border crop (SSIM is ``None`` below 11x11 pixels).

    A learned LR that drifts from the bicubic one shows colour speckle that NIQE and
    PIQE do not penalise; this measures it.

    Example:
        >>> import torch
        >>> lr = torch.full((1, 3, 16, 16), 0.5)
        >>> lr_fidelity(lr, lr)["lr_psnr_rgb"]
        inf
    """
    out: dict[str, float | None] = {}
    for space, y in (("rgb", False), ("y", True)):
        out[f"lr_psnr_{space}"] = psnr(lr, lr_bicubic, y_channel=y).item()
        out[f"lr_ssim_{space}"] = ssim(lr, lr_bicubic, y_channel=y).item() if min(lr.shape[-2:]) >= 11 else None
    return out
