"""PIQE, the Perception-based Image Quality Evaluator (Venkatanath et al., 2015), as MATLAB's ``piqe``.

A no-reference score in [0, 100] (lower is better). The gray image is normalised
(MSCN, 7x7 Gaussian, sigma 7/6), cut into 16x16 blocks; blocks with variance above
0.1 are *active*. An active block is distorted by *noticeable artifacts* if any
6-pixel segment of one of its four edges is nearly flat (std < 0.1), and by
*noise* if its standard deviation exceeds twice its centre-surround deviation
measure. The score pools ``(1 - var)`` for artifact blocks and ``var`` for noisy
blocks:

.. math::
    \\mathrm{PIQE} = 100\\,\\frac{1 + \\sum_{\\text{active}} [w_{art} (1 - v) + w_{noise} v]}{1 + N_{\\text{active}}}

Input conventions as MATLAB on a uint8 RGB image: 8-bit levels, ``rgb2gray``
(rounded to integers), scaled so the maximum is 255 and rounded, the image padded
at the bottom/right by symmetric reflection to a multiple of 16.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from flowkit.image.color import rgb_to_gray
from flowkit.metrics.common import as_batch, to_levels

__all__ = ["piqe"]

BLOCK = 16
ACTIVITY_THRESHOLD = 0.1
IMPAIRED_THRESHOLD = 0.1
SEGMENT = 6


def _gauss7(dtype: torch.dtype, device: torch.device) -> Tensor:
    x = torch.arange(7, dtype=dtype, device=device) - 3
    g = torch.exp(-(x**2) / (2 * (7 / 6) ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def _mscn(img: Tensor) -> Tensor:
    """Mean-subtracted contrast-normalised image, replicate padding: ``(1, 1, H, W)``."""
    k = _gauss7(img.dtype, img.device)

    def blur(x: Tensor) -> Tensor:
        return F.conv2d(F.pad(x, (3, 3, 3, 3), mode="replicate"), k)

    mu = blur(img)
    sigma = torch.sqrt((blur(img * img) - mu * mu).abs())
    return (img - mu) / (sigma + 1)


def _symmetric_pad_post(img: Tensor, multiple: int) -> Tensor:
    """Pad the bottom/right of ``(H, W)`` by mirror reflection (edge included) to a multiple."""
    h, w = img.shape
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph:
        img = torch.cat((img, img.flip(0)[:ph]), dim=0)  # ph < 16 <= rows is not required: repeat if needed
    if pw:
        img = torch.cat((img, img.flip(1)[:, :pw]), dim=1)
    return img


def _std(x: Tensor, dim: int | tuple[int, ...]) -> Tensor:
    return x.std(dim=dim, unbiased=True)


def _piqe_gray(gray: Tensor) -> float:
    """PIQE of one gray image ``(H, W)`` with integer levels 0..255 (float64)."""
    h, w = gray.shape
    while gray.shape[0] % BLOCK or gray.shape[1] % BLOCK:  # images smaller than the pad need repeats
        gray = _symmetric_pad_post(gray, BLOCK)
    peak = gray.max()
    gray = torch.round(255 * gray / peak) if peak > 0 else gray
    norm = _mscn(gray[None, None])[0, 0]
    hb, wb = norm.shape[0] // BLOCK, norm.shape[1] // BLOCK
    blocks = norm.reshape(hb, BLOCK, wb, BLOCK).permute(0, 2, 1, 3).reshape(-1, BLOCK, BLOCK)

    var = blocks.flatten(1).var(dim=1, unbiased=True)
    active = var > ACTIVITY_THRESHOLD

    # noticeable artifacts: a flat 6-pixel segment on any block edge
    edges = torch.stack((blocks[:, 0, :], blocks[:, :, -1], blocks[:, -1, :], blocks[:, :, 0]), dim=1)
    seg_std = _std(edges.unfold(-1, SEGMENT, 1), -1)  # (N, 4, 11)
    impaired = (seg_std < IMPAIRED_THRESHOLD).flatten(1).any(dim=1)

    # noise: compare block std with the centre/surround std ratio. The centre is
    # columns 8 and 9 (1-based); MATLAB deletes column 8 and then column 9 of the
    # already-shortened block, so the surround omits original columns 8 and 10.
    c1 = (BLOCK - 1 + 1) // 2  # 8, 1-based
    center = torch.cat((blocks[:, :, c1 - 1], blocks[:, :, c1]), dim=1)
    keep = [j for j in range(BLOCK) if j not in (c1 - 1, c1 + 1)]
    surround = blocks[:, :, keep]
    ratio = torch.nan_to_num(_std(center, 1) / _std(surround.flatten(1), 1), nan=0.0)
    sigma = var.sqrt()
    beta = (sigma - ratio).abs() / torch.maximum(sigma, ratio)
    noisy = sigma > 2 * beta

    scores = active * (impaired * (1 - var) + noisy * var)
    return float(100 * (scores.sum() + 1) / (active.sum() + 1))


def piqe(img: Tensor) -> Tensor:
    """PIQE per image (0 best, 100 worst), as MATLAB's ``piqe`` on the 8-bit image.

    Args:
        img: ``(B, 3, H, W)``, ``(3, H, W)`` or 1-channel, in [0, 1].

    Returns:
        ``(B,)`` float64 tensor.

    Example:
        >>> import torch
        >>> piqe(torch.full((1, 3, 32, 32), 0.5)).tolist()  # a flat image has no active block
        [100.0]
    """
    img = as_batch("piqe", img)
    levels = to_levels(img)
    gray = torch.round(rgb_to_gray(levels)) if levels.shape[1] == 3 else levels
    return torch.tensor([_piqe_gray(g[0]) for g in gray.cpu()], dtype=torch.float64)
