r"""RGB <-> YCbCr, ITU-R BT.601 studio range, as MATLAB's ``rgb2ycbcr`` and BasicSR.

For RGB in ``[0, 1]`` the result is also scaled to ``[0, 1]`` (multiply by 255 for
MATLAB's uint8 levels):

.. math::
    \begin{pmatrix} Y \\ C_b \\ C_r \end{pmatrix} = \frac{1}{255}\left[
    \begin{pmatrix} 16 \\ 128 \\ 128 \end{pmatrix} +
    \begin{pmatrix} 65.481 & 128.553 & 24.966 \\ -37.797 & -74.203 & 112.0 \\
    112.0 & -93.786 & -18.214 \end{pmatrix}
    \begin{pmatrix} R \\ G \\ B \end{pmatrix}\right]

:func:`~flowkit.image.ycbcr_to_rgb` is the exact inverse of this affine map.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

__all__ = ["rgb_to_ycbcr", "ycbcr_to_rgb", "rgb_to_y", "rgb_to_gray"]

_MATRIX = torch.tensor(
    [[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], dtype=torch.float64
)
_OFFSET = torch.tensor([16.0, 128.0, 128.0], dtype=torch.float64)
_INVERSE = torch.linalg.inv(_MATRIX / 255)
#: name -> (matrix, offset) of each affine colour map, in float64 for RGB in [0, 1].
_MAPS = {
    "ycbcr": (_MATRIX / 255, _OFFSET / 255),
    "rgb": (_INVERSE, -(_INVERSE @ (_OFFSET / 255))),
    "y": (_MATRIX[:1] / 255, _OFFSET[:1] / 255),
}

#: MATLAB ``rgb2gray`` luma weights (BT.601, full range), used by PIQE.
GRAY_WEIGHTS = (0.298936021293775, 0.587043074451121, 0.114020904255103)


def _check_rgb(name: str, img: Tensor) -> None:
    if not isinstance(img, Tensor) or img.dim() < 3 or img.shape[-3] != 3:
        shape = tuple(img.shape) if isinstance(img, Tensor) else type(img).__name__
        raise ValueError(f"{name}: expected (..., 3, H, W) with 3 colour channels, got {shape}")
    if not img.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor in [0, 1], got {img.dtype}")


@functools.lru_cache(maxsize=64)
def _map_on(name: str, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """The map ``name`` of :data:`_MAPS` in ``dtype`` on ``device``, made once: a conversion
    then copies nothing from the host, so it can be captured in a CUDA graph once it has run."""
    matrix, offset = _MAPS[name]
    with torch.inference_mode(False):  # ordinary tensors, usable by autograd whoever asked first
        return matrix.to(device=device, dtype=dtype), offset.to(device=device, dtype=dtype)[:, None, None]


def _affine(img: Tensor, name: str) -> Tensor:
    # torch.compile would trace through the cache and warn that it does; a graph holds the map as a constant
    map_on = _map_on.__wrapped__ if torch.compiler.is_compiling() else _map_on
    matrix, offset = map_on(name, img.device, img.dtype)
    return torch.einsum("ij,...jhw->...ihw", matrix, img) + offset


def rgb_to_ycbcr(img: Tensor) -> Tensor:
    """RGB in [0, 1] -> YCbCr in [0, 1] (studio range: Y in [16, 235]/255).

    Shapes: ``(..., 3, H, W) -> (..., 3, H, W)``.

    Example:
        >>> import torch
        >>> y = rgb_to_ycbcr(torch.ones(3, 1, 1))
        >>> [round(v * 255, 3) for v in y.flatten().tolist()]
        [235.0, 128.0, 128.0]
    """
    _check_rgb("rgb_to_ycbcr", img)
    return _affine(img, "ycbcr")


def ycbcr_to_rgb(img: Tensor) -> Tensor:
    """The exact inverse of :func:`rgb_to_ycbcr`. Shapes: ``(..., 3, H, W) -> (..., 3, H, W)``.

    Example:
        >>> import torch
        >>> rgb = torch.rand(2, 3, 4, 4, dtype=torch.float64)
        >>> bool(torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb))
        True
    """
    _check_rgb("ycbcr_to_rgb", img)
    return _affine(img, "rgb")


def rgb_to_y(img: Tensor) -> Tensor:
    """The luma channel Y of :func:`rgb_to_ycbcr`, in [0, 1]: ``(..., 3, H, W) -> (..., 1, H, W)``.

    ``255 * Y = 16 + 65.481 R + 128.553 G + 24.966 B`` for RGB in [0, 1].

    Example:
        >>> import torch
        >>> round(rgb_to_y(torch.ones(3, 1, 1)).item() * 255, 3)
        235.0
    """
    _check_rgb("rgb_to_y", img)
    return _affine(img, "y")


def rgb_to_gray(img: Tensor) -> Tensor:
    """MATLAB ``rgb2gray`` luma (full range): ``0.2989 R + 0.5870 G + 0.1140 B``.

    Shapes: ``(..., 3, H, W) -> (..., 1, H, W)``. Note: this is not the studio-range
    Y of :func:`rgb_to_y`; PIQE uses this one.

    Example:
        >>> import torch
        >>> round(rgb_to_gray(torch.ones(3, 1, 1)).item(), 6)
        1.0
    """
    _check_rgb("rgb_to_gray", img)
    w = torch.tensor(GRAY_WEIGHTS, dtype=img.dtype, device=img.device)
    return torch.einsum("j,...jhw->...hw", w, img).unsqueeze(-3)
