"""Structural similarity (Wang et al., 2004), the way rescaling papers report it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from flowkit.metrics.common import prepare_pair

__all__ = ["ssim", "gaussian_1d"]


def gaussian_1d(size: int = 11, sigma: float = 1.5, dtype: torch.dtype = torch.float64) -> Tensor:
    """Normalised 1-D Gaussian ``(size,)``; the SSIM window is its outer product with itself."""
    x = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(pred: Tensor, target: Tensor, crop_border: int = 0, y_channel: bool = True) -> Tensor:
    r"""SSIM per image: 8-bit levels, 11x11 Gaussian window (sigma 1.5), valid region.

    .. math::
        \mathrm{SSIM} = \mathrm{mean}\,
        \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}{(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)},
        \quad C_1 = (0.01 \cdot 255)^2,\ C_2 = (0.03 \cdot 255)^2

    Local statistics are Gaussian-weighted (population covariance); only windows
    fully inside the (border-cropped) image count. Without ``y_channel`` the
    channels' SSIMs are averaged. Preparation as :func:`~flowkit.metrics.psnr`.

    Returns:
        ``(B,)`` float64 tensor.

    Example:
        >>> import torch
        >>> x = torch.rand(2, 3, 32, 32)
        >>> ssim(x, x).tolist()
        [1.0, 1.0]
    """
    p, t = prepare_pair("ssim", pred, target, crop_border, y_channel)
    if min(p.shape[-2:]) < 11:
        raise ValueError(f"ssim: images must be at least 11x11 after cropping, got {tuple(p.shape[-2:])}")
    # the Gaussian window is separable: filter all five moments with two 1-D passes
    stacked = torch.cat((p, t, p * p, t * t, p * t), dim=1)
    n = stacked.shape[1]
    g = gaussian_1d().to(p.device)
    filtered = F.conv2d(
        F.conv2d(stacked, g.view(1, 1, 11, 1).expand(n, 1, 11, 1), groups=n),
        g.view(1, 1, 1, 11).expand(n, 1, 1, 11),
        groups=n,
    )
    mu_p, mu_t, pp, tt, pt = filtered.chunk(5, dim=1)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    var_p = pp - mu_p**2
    var_t = tt - mu_t**2
    cov = pt - mu_p * mu_t
    ssim_map = ((2 * mu_p * mu_t + c1) * (2 * cov + c2)) / ((mu_p**2 + mu_t**2 + c1) * (var_p + var_t + c2))
    return ssim_map.flatten(1).mean(dim=1)
