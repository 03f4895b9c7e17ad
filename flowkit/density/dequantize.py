r"""Dequantisation: from integer pixel levels to continuous data in ``[0, 1)``.

A density model of continuous ``y`` bounds the log-likelihood of discrete levels ``x`` in
``{0, ..., K-1}^D`` (Theis et al., 2016; Ho et al., 2019) with ``y = (x + u) / K`` and noise
``u`` in ``[0, 1)^D`` drawn from ``q(u | x)``:

.. math:: \log P(x) \ge \mathbb{E}_{q}\big[\log p(y) - D \log K - \log q(u \mid x)\big]

Each dequantiser returns ``(y, log q(u | x))``; :func:`flowkit.density.bits_per_dim` turns
the bound into bits per dimension.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowkit.core import InvertibleSequential, sum_except_batch

__all__ = ["UniformDequantization", "VariationalDequantization"]


def _levels(x: Tensor, bins: int, who: str) -> Tensor:
    if x.is_floating_point() and not torch.equal(x, x.round()):
        raise ValueError(f"{who}: expects integer levels in [0, {bins - 1}], got non-integer values")
    if x.numel() and (x.min() < 0 or x.max() > bins - 1):
        raise ValueError(f"{who}: levels must be in [0, {bins - 1}], got [{x.min().item()}, {x.max().item()}]")
    return x.float() if not x.is_floating_point() else x


class UniformDequantization(nn.Module):
    r"""``y = (x + u) / K`` with ``u ~ U[0, 1)^D``; ``log q(u | x) = 0``.

    Args:
        bins: ``K``, the number of levels (256 for 8-bit images).

    Example:
        >>> import torch
        >>> y, log_q = UniformDequantization(256)(torch.tensor([[0, 255]]))
        >>> bool((y >= 0).all() and (y < 1).all()), log_q.tolist()
        (True, [0.0])
    """

    def __init__(self, bins: int = 256) -> None:
        super().__init__()
        if bins < 2:
            raise ValueError(f"UniformDequantization: bins must be >= 2, got {bins}")
        self.bins = int(bins)

    def extra_repr(self) -> str:
        return f"bins={self.bins}"

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Levels ``x`` ``(B, ...)`` -> ``(y, log q)``: ``y`` in ``[0, 1)`` of the same shape, ``log q = 0``."""
        x = _levels(x, self.bins, type(self).__name__)
        return (x + torch.rand_like(x)) / self.bins, x.new_zeros(x.shape[0])


class VariationalDequantization(nn.Module):
    r"""Learned noise ``u = \sigma(v)``, ``v = f(\epsilon; x)``, ``\epsilon \sim \mathcal{N}(0, I)``
    (Flow++, Ho et al., 2019), with ``f`` an invertible flow conditioned on the levels.

    .. math::
        \log q(u \mid x) = \log \mathcal{N}(\epsilon) - \log|\det \partial v / \partial \epsilon|
        - \sum \log \sigma'(v)

    Args:
        flow: flowkit layers whose forward maps ``\epsilon`` to ``v``, each taking the
            context ``x / (K - 1) - 1/2`` (so its couplings need ``context_channels = C``);
            e.g. ``[AffineCoupling(C, context_channels=C), Permute(C, mode="reverse"), ...]``.
        bins: ``K``.

    Example:
        >>> import torch
        >>> from flowkit import AffineCoupling, Permute
        >>> deq = VariationalDequantization([AffineCoupling(2, context_channels=2), Permute(2, mode="reverse")])
        >>> y, log_q = deq(torch.randint(0, 256, (4, 2, 3, 3)))
        >>> y.shape, log_q.shape
        (torch.Size([4, 2, 3, 3]), torch.Size([4]))
    """

    def __init__(self, flow: list[nn.Module] | InvertibleSequential, bins: int = 256) -> None:
        super().__init__()
        if bins < 2:
            raise ValueError(f"VariationalDequantization: bins must be >= 2, got {bins}")
        self.flow = flow if isinstance(flow, InvertibleSequential) else InvertibleSequential(*flow)
        self.bins = int(bins)

    def extra_repr(self) -> str:
        return f"bins={self.bins}"

    def context(self, x: Tensor) -> Tensor:
        """The flow's context for levels ``x``: ``x / (K - 1) - 1/2``."""
        return x / (self.bins - 1) - 0.5

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Levels ``x`` ``(B, C, H, W)`` -> ``(y, log q(u | x))``: ``y`` in ``[0, 1)``, ``log q`` ``(B,)``."""
        x = _levels(x, self.bins, type(self).__name__)
        eps = torch.randn_like(x)
        v, logdet = self.flow(eps, context=self.context(x))
        log_normal = sum_except_batch(-0.5 * eps**2) - 0.5 * math.log(2 * math.pi) * eps[0].numel()
        # log sigma'(v) = -softplus(-v) - softplus(v)
        log_q = log_normal - logdet + sum_except_batch(F.softplus(-v) + F.softplus(v))
        return (x + torch.sigmoid(v)) / self.bins, log_q
