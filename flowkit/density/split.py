r"""Glow's factor-out: half of the channels leave the flow, scored under a conditional prior."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from flowkit.core import check_input, sum_except_batch

__all__ = ["Split"]


class Split(nn.Module):
    r"""Factor out the last ``C - keep`` channels of a multiscale flow's representation.

    The kept channels go on through the next level; the others, ``z``, are scored now under
    a diagonal Gaussian whose mean and log-scale a zero-initialised 3x3 convolution computes
    from the kept channels (Glow's learned prior; ``learned=False``: a standard normal, as in
    RealNVP):

    .. math:: \log p(z \mid h) = \sum \log \mathcal{N}(z;\ \mu(h),\ e^{2 \log\sigma(h)})

    Not a :class:`~flowkit.core.Flow` (it changes the dimension): :meth:`forward` returns
    ``(h, z, log p(z | h))`` and :meth:`inverse` puts a given or sampled ``z`` back.

    Shapes: ``(B, C, H, W) -> (B, keep, H, W), (B, C - keep, H, W), (B,)``.

    Args:
        channels: ``C`` (>= 2).
        keep: channels that go on (default ``C // 2``).
        learned: Glow's conditional prior (True) or a standard normal (False).

    Example:
        >>> import torch
        >>> split = Split(4)
        >>> h, z, log_p = split(torch.randn(2, 4, 3, 3))
        >>> h.shape, z.shape, log_p.shape
        (torch.Size([2, 2, 3, 3]), torch.Size([2, 2, 3, 3]), torch.Size([2]))
        >>> torch.equal(split.inverse(h, z), torch.cat((h, z), 1))
        True
    """

    def __init__(self, channels: int, keep: int | None = None, learned: bool = True) -> None:
        super().__init__()
        keep = channels // 2 if keep is None else keep
        if not 1 <= keep < channels:
            raise ValueError(f"Split: keep must be in [1, {channels - 1}] for {channels} channels, got {keep}")
        self.channels, self.keep = int(channels), int(keep)
        self.prior = nn.Conv2d(keep, 2 * (channels - keep), 3, padding=1) if learned else None
        if self.prior is not None:
            nn.init.zeros_(self.prior.weight)
            nn.init.zeros_(self.prior.bias)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, keep={self.keep}, learned={self.prior is not None}"

    def mean_log_scale(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """The prior's mean and log-scale of the factored-out channels given the kept ``h``."""
        if self.prior is None:
            zeros = h.new_zeros(h.shape[0], self.channels - self.keep, *h.shape[2:])
            return zeros, zeros
        mean, log_scale = self.prior(h).chunk(2, dim=1)
        return mean, log_scale

    def log_prob(self, z: Tensor, h: Tensor) -> Tensor:
        """``log p(z | h)`` per sample, ``(B,)``."""
        mean, log_scale = self.mean_log_scale(h)
        return sum_except_batch(
            -0.5 * math.log(2 * math.pi) - log_scale - 0.5 * ((z - mean) * torch.exp(-log_scale)) ** 2
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``x`` ``(B, C, H, W)`` -> ``(h, z, log p(z | h))``: ``(B, keep, H, W)``, the rest, ``(B,)``."""
        check_input(self, x, channels=self.channels, ndim=4)
        h, z = x[:, : self.keep], x[:, self.keep :]
        return h, z, self.log_prob(z, h)

    def inverse(self, h: Tensor, z: Tensor | None = None, temperature: float = 1.0) -> Tensor:
        """``h`` with ``z`` put back; without ``z``, one is drawn from the prior with its
        standard deviation scaled by ``temperature`` (0: the prior's mean)."""
        if z is None:
            mean, log_scale = self.mean_log_scale(h)
            z = mean + temperature * torch.exp(log_scale) * torch.randn_like(mean)
        return torch.cat((h, z), 1)
