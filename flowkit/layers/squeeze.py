"""Space-to-depth reshuffles (RealNVP's squeeze) and their inverse."""

from __future__ import annotations

from einops import rearrange
from torch import Tensor

from flowkit.core import Flow, Inverse, check_input, zero_logdet

__all__ = ["Squeeze", "Unsqueeze"]

_SQUEEZE = "b c (h p) (w q) -> b (c p q) h w"
_UNSQUEEZE = "b (c p q) h w -> b c (h p) (w q)"


class Squeeze(Flow):
    r"""Space-to-depth: every ``s x s`` patch becomes ``s^2`` channels.

    Shapes: ``(B, C, sH, sW) -> (B, C s^2, H, W)``; output channel
    ``c s^2 + p s + q`` holds pixel ``(s h + p, s w + q)`` of input channel ``c``.
    A permutation of the entries, so ``log|det J| = 0``.

    The direction is the opposite of :class:`normflows.flows.Squeeze`, whose ``forward``
    (normflows' latent-to-data direction) is depth-to-space: in a
    :class:`normflows.NormalizingFlow` written for normflows' direction, use
    :class:`Unsqueeze` where normflows would use its ``Squeeze``.

    Args:
        factor: the patch side ``s`` (>= 2).

    Raises:
        ValueError: if the input is not 4-D or H, W are not multiples of ``factor``.

    Example:
        >>> import torch
        >>> y, logdet = Squeeze(2)(torch.randn(1, 3, 4, 6))
        >>> tuple(y.shape), logdet.tolist()
        ((1, 12, 2, 3), [0.0])
    """

    def __init__(self, factor: int = 2) -> None:
        super().__init__()
        if int(factor) != factor or factor < 2:
            raise ValueError(f"Squeeze: factor must be an integer >= 2, got {factor}")
        self.factor = int(factor)

    def extra_repr(self) -> str:
        return f"factor={self.factor}"

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x`` ``(B, C, H, W)`` -> ``(y, 0)`` with ``y`` ``(B, f^2 C, H/f, W/f)``."""
        check_input(self, x, ndim=4, multiple_of=self.factor)
        s = self.factor
        return rearrange(x, _SQUEEZE, p=s, q=s), zero_logdet(x)

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``y`` ``(B, f^2 C, H, W)`` -> ``(x, 0)`` with ``x`` ``(B, C, f H, f W)``."""
        s = self.factor
        check_input(self, y, ndim=4)
        if y.shape[1] % (s * s):
            raise ValueError(
                f"Squeeze(factor={s}).inverse: channels {y.shape[1]} must be a multiple of {s * s} "
                f"(shape {tuple(y.shape)}); flowkit.Squeeze's forward is space-to-depth, the opposite of "
                "normflows.flows.Squeeze: in a normflows model use flowkit.Unsqueeze in its place"
            )
        return rearrange(y, _UNSQUEEZE, p=s, q=s), zero_logdet(y)


class Unsqueeze(Inverse):
    r"""Depth-to-space, the inverse of :class:`Squeeze` (``Inverse(Squeeze(factor))``).

    Shapes: ``(B, C s^2, H, W) -> (B, C, sH, sW)``; ``log|det J| = 0``.

    Args:
        factor: the patch side ``s`` (>= 2).

    Example:
        >>> import torch
        >>> Unsqueeze(2)(torch.randn(1, 12, 2, 3))[0].shape
        torch.Size([1, 3, 4, 6])
    """

    def __init__(self, factor: int = 2) -> None:
        super().__init__(Squeeze(factor))
        self.factor = self.flow.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor}"
