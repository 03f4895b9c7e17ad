"""Process a large image tile by tile, in bounded memory, with blended seams."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import torch
from torch import Tensor

__all__ = ["tiled", "tile_starts"]


def tile_starts(length: int, tile: int) -> list[int]:
    """Start offsets of the tile cores covering ``[0, length)`` with stride ``tile``."""
    return list(range(0, length, tile))


def _ramp(
    start: int,
    end: int,
    core_start: int,
    core_end: int,
    band: int,
    total: int,
    dtype: torch.dtype,
    device: torch.device,
) -> Tensor:
    """1-D blend weight over the extended tile ``[start, end)`` in output pixels.

    The weight is 1 on the core ``[core_start, core_end)``, ramps linearly across a
    band of width ``band`` centred on each core edge that is interior to the image,
    and is 0 further out. Neighbouring tiles' ramps sum to 1.
    """
    pos = torch.arange(start, end, dtype=torch.float64) + 0.5
    w = torch.ones(end - start, dtype=torch.float64)
    if band > 0:
        if core_start > 0:
            w = w * ((pos - (core_start - band / 2)) / band).clamp(0, 1)
        if core_end < total:
            w = w * (((core_end + band / 2) - pos) / band).clamp(0, 1)
    else:
        w = w * ((pos >= core_start) & (pos < core_end))
    return w.to(dtype=dtype, device=device)


def tiled(
    fn: Callable[[Tensor], Tensor],
    img: Tensor,
    tile: int = 512,
    overlap: int = 32,
    scale: float = 1.0,
) -> Tensor:
    """Apply ``fn`` to overlapping tiles of ``img`` and blend the outputs.

    The input is cut into cores of ``tile x tile`` pixels; each core is extended by
    ``overlap`` pixels on every side (inside the image) and passed to ``fn``. In the
    output, neighbouring tiles are cross-faded linearly over a band of ``overlap``
    (output-scaled) pixels centred on the core boundary. For a function whose
    output at a pixel depends only on inputs within a radius ``r`` (a convolutional
    network's receptive field) and ``r <= overlap / 2``, the result equals
    ``fn(img)`` up to float rounding; for larger ``r`` the seams are blended. Peak
    memory is that of one extended tile through ``fn``, plus the output.

    Args:
        fn: maps ``(B, C, h, w)`` to ``(B, C', h * scale, w * scale)``.
        img: ``(B, C, H, W)``.
        tile: core size in input pixels.
        overlap: margin in input pixels on each side.
        scale: output/input size ratio of ``fn`` (e.g. ``4`` to upscale, ``0.25``
            to downscale); ``tile``, ``overlap``, ``H`` and ``W`` must map to whole
            output pixels.

    Returns:
        ``(B, C', H * scale, W * scale)``.

    Example:
        >>> import torch
        >>> conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        >>> x = torch.randn(1, 3, 50, 70)
        >>> with torch.no_grad():
        ...     out = tiled(conv, x, tile=16, overlap=4)
        ...     bool(torch.allclose(out, conv(x), atol=1e-6))
        True
    """
    if img.dim() != 4:
        raise ValueError(f"tiled: expected a (B, C, H, W) tensor, got shape {tuple(img.shape)}")
    if tile < 1 or overlap < 0:
        raise ValueError(f"tiled: need tile >= 1 and overlap >= 0, got tile={tile}, overlap={overlap}")
    if 2 * overlap > tile:
        raise ValueError(f"tiled: overlap {overlap} must be at most half the tile {tile}")
    s = Fraction(scale).limit_denominator(1000)
    _, _, h, w = img.shape
    for name, v in (("tile", tile), ("overlap", overlap), ("height", h), ("width", w)):
        if (v * s).denominator != 1:
            raise ValueError(f"tiled: {name} {v} times scale {scale} is not a whole number of pixels")
    if h <= tile and w <= tile:
        return fn(img)
    out_h, out_w = int(h * s), int(w * s)
    out = None
    band = int(overlap * s)
    for top in tile_starts(h, tile):
        for left in tile_starts(w, tile):
            y0, y1 = max(0, top - overlap), min(h, top + tile + overlap)
            x0, x1 = max(0, left - overlap), min(w, left + tile + overlap)
            piece = fn(img[:, :, y0:y1, x0:x1])
            if out is None:
                out = piece.new_zeros(piece.shape[0], piece.shape[1], out_h, out_w)
            oy0, oy1, ox0, ox1 = int(y0 * s), int(y1 * s), int(x0 * s), int(x1 * s)
            if piece.shape[-2:] != (oy1 - oy0, ox1 - ox0):
                raise ValueError(
                    f"tiled: fn mapped a {y1 - y0}x{x1 - x0} tile to {tuple(piece.shape[-2:])}, "
                    f"expected {(oy1 - oy0, ox1 - ox0)} for scale {scale}"
                )
            cy0, cy1 = int(top * s), int(min(h, top + tile) * s)
            cx0, cx1 = int(left * s), int(min(w, left + tile) * s)
            wy = _ramp(oy0, oy1, cy0, cy1, band, out_h, piece.dtype, piece.device)
            wx = _ramp(ox0, ox1, cx0, cx1, band, out_w, piece.dtype, piece.device)
            out[:, :, oy0:oy1, ox0:ox1] += piece * (wy[:, None] * wx[None, :])
    return out
