"""MATLAB-compatible bicubic resizing (``imresize``), in torch, batched, on any device.

The field's published numbers (IRN, BasicSR, the FGRN paper) make LR images with
MATLAB's ``imresize(img, 1/s, 'bicubic')``. This module reproduces its semantics:

* Keys' cubic kernel with ``a = -0.5``;
* when downscaling with antialiasing, the kernel is stretched by ``1/scale``
  (and its values multiplied by ``scale``);
* half-pixel coordinates: output pixel ``x`` (1-based) samples the input at
  ``u = x / scale + 0.5 (1 - 1 / scale)``;
* symmetric boundary handling (the edge pixel is repeated: ``... 2 1 | 1 2 ...``);
* each output's weights are normalised to sum to 1;
* output size ``ceil(scale * in)``; dimensions are processed in order of
  increasing scale (height first on ties), as MATLAB does;
* no rounding and no clamping of the result.

Weights are computed in float64 and applied tap by tap (a handful of
``index_select`` calls per dimension), so the cost is linear in the output size.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from flowkit.layers.quantize import quantize

__all__ = ["imresize", "bicubic_lr", "cubic"]


def cubic(x: Tensor) -> Tensor:
    r"""Keys' cubic convolution kernel with :math:`a = -0.5` (MATLAB's ``cubic``).

    .. math::
        k(x) = \begin{cases}
        1.5|x|^3 - 2.5|x|^2 + 1 & |x| \le 1 \\
        -0.5|x|^3 + 2.5|x|^2 - 4|x| + 2 & 1 < |x| \le 2 \\
        0 & \text{otherwise}
        \end{cases}
    """
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return inner + outer


def _contributions(
    in_len: int, out_len: int, scale: float, antialias: bool, trim: bool = True
) -> tuple[Tensor, Tensor]:
    """Weights ``(out_len, taps)`` (float64) and 0-based input indices ``(out_len, taps)``;
    ``trim`` drops the taps whose weight is zero in every row (which taps those are depends on
    the values, so a traced graph keeps them: they add exact zeros)."""
    width = 4.0
    shrink = scale < 1 and antialias
    if shrink:
        width /= scale
    x = torch.arange(1, out_len + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - width / 2)
    taps = math.ceil(width) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]
    dist = u[:, None] - idx
    weights = scale * cubic(dist * scale) if shrink else cubic(dist)
    weights = weights / weights.sum(dim=1, keepdim=True)
    # symmetric boundary: 1-based index i maps through [1..n, n..1] periodically
    mirror = torch.cat((torch.arange(in_len), torch.arange(in_len - 1, -1, -1)))
    idx = mirror[torch.remainder(idx.long() - 1, 2 * in_len)]
    if not trim:
        return weights, idx
    keep = (weights != 0).any(dim=0)
    return weights[:, keep], idx[:, keep]


@functools.lru_cache(maxsize=128)
def _contributions_on(
    in_len: int,
    out_len: int,
    scale: float,
    antialias: bool,
    device: torch.device,
    dtype: torch.dtype,
    trim: bool = True,
) -> tuple[Tensor, Tensor]:
    """:func:`_contributions` in ``dtype`` on ``device``, made once per shape: a resize then
    copies nothing from the host, so it can be captured in a CUDA graph once it has run."""
    with torch.inference_mode(False):  # ordinary tensors, usable by autograd whoever asked first
        weights, idx = _contributions(in_len, out_len, scale, antialias, trim)
        return weights.to(device=device, dtype=dtype), idx.to(device)


def _resize_dim(img: Tensor, dim: int, out_len: int, scale: float, antialias: bool) -> Tensor:
    # torch.compile would trace through the cache and warn that it does, and break its graph at
    # the trim: traced, the table is made uncached and untrimmed, and the graph holds it as constants
    compiling = torch.compiler.is_compiling()
    contributions_on = _contributions_on.__wrapped__ if compiling else _contributions_on
    weights, idx = contributions_on(img.shape[dim], out_len, scale, antialias, img.device, img.dtype, not compiling)
    view = [1] * img.dim()
    view[dim] = out_len
    out = None
    for k in range(weights.shape[1]):
        term = img.index_select(dim, idx[:, k]) * weights[:, k].view(view)
        out = term if out is None else out + term
    return out


def imresize(
    img: Tensor,
    scale: float | None = None,
    *,
    size: tuple[int, int] | None = None,
    antialias: bool = True,
) -> Tensor:
    """Resize like MATLAB's ``imresize(img, scale, 'bicubic')``.

    Args:
        img: ``(B, C, H, W)`` or ``(C, H, W)``, floating point (any range; values
            are not clamped).
        scale: the factor for both dimensions (e.g. ``0.25`` to downscale x4).
        size: output ``(H', W')`` instead of ``scale``; each dimension then uses
            scale ``H'/H`` and ``W'/W`` as MATLAB does.
        antialias: widen the kernel when downscaling (MATLAB's default).

    Returns:
        The resized image, ``(B, C, ceil(H scale), ceil(W scale))`` (or the given
        ``size``), same dtype and device.

    Example:
        >>> import torch
        >>> x = torch.rand(2, 3, 17, 20, dtype=torch.float64)
        >>> imresize(x, 0.5).shape
        torch.Size([2, 3, 9, 10])
        >>> bool(torch.allclose(imresize(torch.ones(1, 1, 5, 5), 3.0), torch.ones(1, 1, 15, 15)))
        True
    """
    if not isinstance(img, Tensor) or img.dim() not in (3, 4):
        shape = tuple(img.shape) if isinstance(img, Tensor) else type(img).__name__
        raise ValueError(f"imresize: expected a (B, C, H, W) or (C, H, W) tensor, got {shape}")
    if not img.is_floating_point():
        raise TypeError(f"imresize: expected a floating-point tensor, got {img.dtype}")
    squeeze = img.dim() == 3
    if squeeze:
        img = img.unsqueeze(0)
    h, w = img.shape[-2:]
    if (scale is None) == (size is None):
        raise ValueError("imresize: give exactly one of scale and size")
    if size is not None:
        out_h, out_w = int(size[0]), int(size[1])
        if out_h < 1 or out_w < 1:
            raise ValueError(f"imresize: output size must be positive, got {size}")
        scales = (out_h / h, out_w / w)
    else:
        if not scale > 0 or not math.isfinite(scale):
            raise ValueError(f"imresize: scale must be a positive number, got {scale}")
        scales = (float(scale), float(scale))
        out_h, out_w = math.ceil(h * scale), math.ceil(w * scale)
    if h < 1 or w < 1:
        raise ValueError(f"imresize: input must be at least 1x1, got {h}x{w}")
    out = img
    for dim in sorted((-2, -1), key=lambda d: scales[d + 2]):
        out = _resize_dim(out, dim, out_h if dim == -2 else out_w, scales[dim + 2], antialias)
    return out.squeeze(0) if squeeze else out


def bicubic_lr(hr: Tensor, scale: int) -> Tensor:
    """The 8-bit bicubic LR of ``hr``: ``imresize(hr, 1 / scale)`` clamped and rounded to
    8-bit levels, as a benchmark stores it as a file.

    This is the LR of the Bicubic baseline and the reference of every "LR vs bicubic"
    (LR fidelity) figure.

    Example:
        >>> import torch
        >>> lr = bicubic_lr(torch.rand(1, 3, 8, 12), 4)
        >>> lr.shape, bool(((lr * 255).round() == lr * 255).all())
        (torch.Size([1, 3, 2, 3]), True)
    """
    return quantize(imresize(hr, 1 / scale))
