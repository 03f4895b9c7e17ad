"""8-bit quantisation with a straight-through gradient (IRN's ``Quantization``)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["StraightThroughQuantizer", "quantize"]


def quantize(x: Tensor, levels: int = 255) -> Tensor:
    r"""Clamp to ``[0, 1]`` and round to the grid ``{0, 1/levels, ..., 1}``; no gradient trick.

    Shapes: any; returns the same shape and dtype.
    """
    return torch.round(x.clamp(0, 1) * levels) / levels


class StraightThroughQuantizer(nn.Module):
    r"""Quantise to 8-bit levels in the forward pass, pass gradients straight through.

    .. math::
        Q(x) = \mathrm{round}(255 \cdot \mathrm{clamp}(x, 0, 1)) / 255,
        \qquad \frac{\partial Q}{\partial x} := 1

    The identity gradient holds everywhere, also where the clamp is active, as in
    IRN. This layer is not invertible and so is a plain :class:`torch.nn.Module`
    returning a tensor, not a :class:`~flowkit.core.Flow`.

    Shapes: any; returns the same shape and dtype.

    Args:
        levels: number of steps between 0 and 1 (255 for 8-bit images).

    Example:
        >>> import torch
        >>> x = torch.tensor([0.1, 0.5, 1.2], requires_grad=True)
        >>> q = StraightThroughQuantizer()(x)
        >>> (q * 255).tolist(), torch.autograd.grad(q.sum(), x)[0].tolist()
        ([26.0, 128.0, 255.0], [1.0, 1.0, 1.0])
    """

    def __init__(self, levels: int = 255) -> None:
        super().__init__()
        if levels < 1:
            raise ValueError(f"StraightThroughQuantizer: levels must be >= 1, got {levels}")
        self.levels = int(levels)

    def extra_repr(self) -> str:
        return f"levels={self.levels}"

    def forward(self, x: Tensor) -> Tensor:
        """``x`` -> ``x`` clamped to ``[0, 1]`` and rounded to ``levels`` steps; the gradient passes unchanged."""
        return x + (quantize(x, self.levels) - x).detach()
