"""Haar wavelet downsampling, IRN's invertible 2x downscaling step."""

from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import Tensor

from flowkit.core import Flow, check_input

__all__ = ["HaarDownsampling", "haar_kernels"]


def haar_kernels() -> Tensor:
    """The four 2x2 Haar kernels ``(4, 2, 2)`` (LL, H, V, D; unnormalised, float32) that
    :class:`HaarDownsampling` applies with stride 2 and divides by 4.

    >>> haar_kernels()[1]
    tensor([[ 1., -1.],
            [ 1., -1.]])
    """
    return torch.tensor(
        [[[1, 1], [1, 1]], [[1, -1], [1, -1]], [[1, 1], [-1, -1]], [[1, -1], [-1, 1]]], dtype=torch.float32
    )


class HaarDownsampling(Flow):
    r"""One level of the 2-D Haar transform, as in IRN (Xiao et al., 2020).

    Each ``2x2`` block ``[[a, b], [c, d]]`` of every channel becomes four
    sub-bands, each divided by 4:

    .. math::
        LL = \tfrac{a+b+c+d}{4},\quad
        H = \tfrac{a-b+c-d}{4},\quad
        V = \tfrac{a+b-c-d}{4},\quad
        D = \tfrac{a-b-c+d}{4}

    i.e. the kernels ``[1,1,1,1]``, ``[1,-1,1,-1]``, ``[1,1,-1,-1]``, ``[1,-1,-1,1]``
    (row-major) with stride 2. Channels are ordered by sub-band: output channels
    ``0..C-1`` are the low-pass (a box-filtered half-size image), then ``H``, ``V``,
    ``D`` each for all ``C`` channels — the official IRN layout.

    Shapes: ``(B, C, 2H, 2W) -> (B, 4C, H, W)``. Each block's map has
    ``|det| = 1/16``, so the forward log-det is ``(C H W) log(1/16)`` per sample
    (with ``H, W`` the output sizes), and the inverse log-det is its negative.

    Args:
        channels: input channels ``C``.

    Example:
        >>> import torch
        >>> x = torch.ones(1, 3, 4, 4)
        >>> y, logdet = HaarDownsampling(3)(x)
        >>> y.shape, y[0, :3].mean().item(), y[0, 3:].abs().max().item()
        (torch.Size([1, 12, 2, 2]), 1.0, 0.0)
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"HaarDownsampling: channels must be >= 1, got {channels}")
        self.channels = int(channels)

    def extra_repr(self) -> str:
        return f"channels={self.channels}"

    def _logdet(self, x: Tensor, out_h: int, out_w: int) -> Tensor:
        value = self.channels * out_h * out_w * math.log(1.0 / 16.0)
        return x.new_full((x.shape[0],), value)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x`` ``(B, C, 2H, 2W)`` -> ``(y, logdet)``: ``y`` ``(B, 4C, H, W)`` (LL first), ``logdet`` ``(B,)``."""
        check_input(self, x, channels=self.channels, ndim=4, multiple_of=2)
        blocks = rearrange(x, "b c (h p) (w q) -> p q b c h w", p=2, q=2)
        a, b, c, d = blocks[0, 0], blocks[0, 1], blocks[1, 0], blocks[1, 1]
        ll = (a + b + c + d) / 4
        h = (a - b + c - d) / 4
        v = (a + b - c - d) / 4
        dd = (a - b - c + d) / 4
        y = torch.cat((ll, h, v, dd), dim=1)
        return y, self._logdet(x, y.shape[2], y.shape[3])

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``y`` ``(B, 4C, H, W)`` -> ``(x, logdet)``: ``x`` ``(B, C, 2H, 2W)``, ``logdet`` ``(B,)``."""
        check_input(self, y, channels=4 * self.channels, ndim=4)
        ll, h, v, dd = y.chunk(4, dim=1)
        a = ll + h + v + dd
        b = ll - h + v - dd
        c = ll + h - v - dd
        d = ll - h - v + dd
        blocks = torch.stack((torch.stack((a, b)), torch.stack((c, d))))
        x = rearrange(blocks, "p q b c h w -> b c (h p) (w q)")
        return x, -self._logdet(y, y.shape[2], y.shape[3])
