"""Peak signal-to-noise ratio, the way rescaling papers report it."""

from __future__ import annotations

import torch
from torch import Tensor

from flowkit.metrics.common import prepare_pair

__all__ = ["psnr"]


def psnr(pred: Tensor, target: Tensor, crop_border: int = 0, y_channel: bool = True) -> Tensor:
    r"""PSNR in dB per image, as IRN / BasicSR / the FGRN paper compute it.

    Both images are first rounded to 8-bit levels (what a saved PNG holds); with
    ``y_channel`` the BT.601 luma ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` is
    used (1-channel inputs are used as they are); ``crop_border`` pixels are cut from
    every edge (papers use the scale factor). Then
    :math:`\mathrm{PSNR} = 10 \log_{10}(255^2 / \mathrm{MSE})` (``inf`` if equal).

    Args:
        pred, target: ``(B, 3, H, W)`` or ``(3, H, W)`` in [0, 1].
        crop_border: pixels removed from each edge before comparing.
        y_channel: compare the Y channel (True) or all of RGB.

    Returns:
        ``(B,)`` float64 tensor.

    Example:
        >>> import torch
        >>> a = torch.zeros(1, 3, 8, 8)
        >>> b = a.clone(); b[..., 0, 0] = 10 / 255
        >>> round(psnr(a, b, y_channel=False).item(), 4)  # MSE = 100 / 64
        46.1926
    """
    p, t = prepare_pair("psnr", pred, target, crop_border, y_channel)
    mse = ((p - t) ** 2).flatten(1).mean(dim=1)
    return 10 * torch.log10(255.0**2 / mse)
