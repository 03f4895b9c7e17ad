r"""RealNVP's spatially masked affine coupling (Dinh et al., 2017): a checkerboard mask."""

from __future__ import annotations

import torch
from torch import Tensor

from flowkit.core import Flow, check_input, sum_except_batch
from flowkit.layers.coupling import append_context, soft_clamp
from flowkit.subnets import ConvNet, SubnetFactory

__all__ = ["CheckerboardCoupling", "checkerboard_mask"]


def checkerboard_mask(height: int, width: int, parity: int = 0, *, like: Tensor | None = None) -> Tensor:
    """``(1, 1, H, W)`` mask, 1 where ``(i + j) % 2 == parity``: the positions a checkerboard
    coupling keeps (and conditions on).

    >>> checkerboard_mask(2, 3)[0, 0].tolist()
    [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    i = torch.arange(height).view(-1, 1)
    j = torch.arange(width).view(1, -1)
    mask = ((i + j) % 2 == parity).float().view(1, 1, height, width)
    return mask if like is None else mask.to(device=like.device, dtype=like.dtype)


class CheckerboardCoupling(Flow):
    r"""Affine coupling over a spatial checkerboard mask ``b`` (RealNVP).

    .. math::
        (h_s, t) = \mathrm{NN}(b \odot x),\quad s = c \tanh(h_s / c) \odot (1 - b),\quad
        y = x \odot e^{s} + t \odot (1 - b),\qquad \log|\det J| = \sum s

    The positions with ``b = 1`` pass unchanged and condition the others; stack two with
    ``parity`` 0 and 1 so that every position is transformed. Unlike the channel couplings
    (:class:`~flowkit.AffineCoupling`), the subnet sees every channel, each at half
    the positions.

    Shapes: ``(B, C, H, W) -> (B, C, H, W)``.

    Args:
        channels: ``C``.
        parity: which squares of the board stay fixed (0 or 1).
        subnet: factory called as ``subnet(C + K, 2 C)`` (default
            :class:`~flowkit.subnets.ConvNet`, zero-initialised: the layer starts as the identity).
        clamp: bound on ``|s|`` (None: no clamp).
        context_channels: ``K``, channels of a conditioning input concatenated to the subnet's.

    Example:
        >>> import torch
        >>> layer = CheckerboardCoupling(3, parity=1)
        >>> y, logdet = layer(torch.randn(2, 3, 4, 4))
        >>> y.shape, logdet.shape
        (torch.Size([2, 3, 4, 4]), torch.Size([2]))
    """

    def __init__(
        self,
        channels: int,
        parity: int = 0,
        subnet: SubnetFactory = ConvNet,
        clamp: float | None = 2.0,
        context_channels: int = 0,
    ) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"CheckerboardCoupling: channels must be >= 1, got {channels}")
        if parity not in (0, 1):
            raise ValueError(f"CheckerboardCoupling: parity must be 0 or 1, got {parity!r}")
        if context_channels < 0:
            raise ValueError(f"CheckerboardCoupling: context_channels must be >= 0, got {context_channels}")
        self.channels, self.parity, self.clamp = int(channels), int(parity), clamp
        self.context_channels = int(context_channels)
        self.net = subnet(self.channels + self.context_channels, 2 * self.channels)

    def extra_repr(self) -> str:
        ctx = f", context_channels={self.context_channels}" if self.context_channels else ""
        return f"channels={self.channels}, parity={self.parity}, clamp={self.clamp}{ctx}"

    def _params(self, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
        check_input(self, x, channels=self.channels, ndim=4)
        keep = checkerboard_mask(x.shape[2], x.shape[3], self.parity, like=x)
        h_s, t = self.net(append_context(self, x * keep, context)).chunk(2, dim=1)
        return soft_clamp(h_s, self.clamp) * (1 - keep), t * (1 - keep)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x`` ``(B, C, H, W)`` -> ``(y, logdet)`` of the same shape and ``(B,)``."""
        s, t = self._params(x, context)
        return x * torch.exp(s) + t, sum_except_batch(s)

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``y`` ``(B, C, H, W)`` -> ``(x, logdet)`` of the same shape and ``(B,)``."""
        s, t = self._params(y, context)  # the kept positions of y are those of x
        return (y - t) * torch.exp(-s), -sum_except_batch(s)
