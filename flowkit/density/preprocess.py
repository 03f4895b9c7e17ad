r"""Pre-processing of images in ``[0, 1]`` as flows, so their log-dets enter the likelihood."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from flowkit.core import Flow, check_input, spatial_size, sum_except_batch

__all__ = ["Center", "Logit"]


class Center(Flow):
    r"""``y = x - 1/2``: maps ``[0, 1]`` to ``[-1/2, 1/2]`` (Glow's pre-processing); ``log|det J| = 0``.

    Shapes: ``(B, C, *spatial) -> (B, C, *spatial)``.

    Example:
        >>> import torch
        >>> Center()(torch.tensor([[0.0, 1.0]]))[0].tolist()
        [[-0.5, 0.5]]
    """

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x`` -> ``(x - 1/2, 0)``; any ``(B, C, ...)``."""
        check_input(self, x, min_ndim=2)
        return x - 0.5, x.new_zeros(x.shape[0])

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``y`` -> ``(y + 1/2, 0)``; any ``(B, C, ...)``."""
        check_input(self, y, min_ndim=2)
        return y + 0.5, y.new_zeros(y.shape[0])


class Logit(Flow):
    r"""RealNVP's logit pre-processing: ``y = logit(a + (1 - 2a) x)`` for ``x`` in ``[0, 1]``.

    The squeeze into ``[a, 1 - a]`` keeps the logit finite at 0 and 1.

    .. math::
        \log|\det J| = \sum \big[\log(1 - 2a) - \log p - \log(1 - p)\big],\quad p = a + (1 - 2a) x

    Shapes: ``(B, C, *spatial) -> (B, C, *spatial)``.

    Args:
        alpha: ``a`` in ``[0, 1/2)`` (RealNVP: 0.05).

    Example:
        >>> import torch
        >>> y, logdet = Logit(0.05)(torch.full((1, 1, 2, 2), 0.5))
        >>> y.abs().max().item(), round(logdet.item(), 4)  # 4 (log 4 + log 0.9)
        (0.0, 5.1237)
    """

    def __init__(self, alpha: float = 0.05) -> None:
        super().__init__()
        if not 0 <= alpha < 0.5:
            raise ValueError(f"Logit: alpha must be in [0, 0.5), got {alpha}")
        self.alpha = float(alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x`` in ``[0, 1]`` -> ``(logit(a + (1 - 2a) x), log|det J|)``; shape kept, log-det ``(B,)``."""
        check_input(self, x, min_ndim=2)
        p = self.alpha + (1 - 2 * self.alpha) * x
        y = torch.log(p) - torch.log1p(-p)
        logdet = sum_except_batch(-torch.log(p) - torch.log1p(-p)) + spatial_size(x) * x.shape[1] * math.log(
            1 - 2 * self.alpha
        )
        return y, logdet

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``y`` -> ``((sigmoid(y) - a) / (1 - 2a), log|det J|)`` of the inverse; shape kept, log-det ``(B,)``."""
        check_input(self, y, min_ndim=2)
        x = (torch.sigmoid(y) - self.alpha) / (1 - 2 * self.alpha)
        # log p + log(1 - p) = -softplus(-y) - softplus(y), stable for large |y|
        logdet = sum_except_batch(-F.softplus(-y) - F.softplus(y)) - spatial_size(y) * y.shape[1] * math.log(
            1 - 2 * self.alpha
        )
        return x, logdet
