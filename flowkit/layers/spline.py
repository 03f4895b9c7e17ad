r"""Rational-quadratic spline coupling (Durkan et al., 2019, "Neural Spline Flows").

Each element of ``x_2`` goes through its own monotone rational-quadratic spline on
``[-B, B]``, with ``K`` bins whose widths, heights and interior knot derivatives a subnet
computes from ``x_1``. Outside ``[-B, B]`` the map is the identity (linear tails, log-det 0);
the knot derivatives at ``±B`` are 1, so the map is continuously differentiable there.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from flowkit.core import sum_except_batch
from flowkit.layers.coupling import Conditioning, Coupling
from flowkit.subnets import DenseBlock, SubnetFactory

__all__ = ["SplineCoupling", "rational_quadratic_spline"]


def _knots(unnormalised: Tensor, bound: float, minimum: float) -> tuple[Tensor, Tensor]:
    """Bin sizes (softmax, at least ``minimum`` of the range each) and their cumulative knots on
    ``[-bound, bound]``, the first and last exactly at the ends."""
    k = unnormalised.shape[-1]
    sizes = minimum + (1 - minimum * k) * torch.softmax(unnormalised, dim=-1)
    knots = F.pad(torch.cumsum(sizes, dim=-1), (1, 0)) * 2 * bound - bound
    knots = torch.cat(
        (
            knots.new_full((*knots.shape[:-1], 1), -bound),
            knots[..., 1:-1],
            knots.new_full((*knots.shape[:-1], 1), bound),
        ),
        -1,
    )
    return knots[..., 1:] - knots[..., :-1], knots


def rational_quadratic_spline(
    x: Tensor,
    widths: Tensor,
    heights: Tensor,
    derivatives: Tensor,
    bound: float = 3.0,
    inverse: bool = False,
    min_bin: float = 1e-3,
    min_derivative: float = 1e-3,
) -> tuple[Tensor, Tensor]:
    r"""Apply a monotone rational-quadratic spline elementwise, or its inverse.

    Args:
        x: inputs, any shape ``S``.
        widths, heights: unnormalised bin widths and heights, ``S + (K,)`` (a softmax makes
            them sizes on ``[-bound, bound]``).
        derivatives: unnormalised derivatives at the ``K - 1`` interior knots, ``S + (K-1,)``
            (a softplus keeps them positive; 0 gives derivative 1).
        bound: ``B``; outside ``[-B, B]`` the map is the identity.
        inverse: apply the inverse spline.
        min_bin, min_derivative: floors on the bin sizes (as fractions of the range) and the
            derivatives.

    Returns:
        ``(y, log|dy/dx|)`` elementwise, both of shape ``S`` (for the inverse, the log-det of
        the inverse map).

    Example:
        >>> import torch
        >>> x = torch.linspace(-4, 4, 9)
        >>> zeros = torch.zeros(9, 4)  # equal bins, derivative 1: the identity
        >>> y, logdet = rational_quadratic_spline(x, zeros, zeros, zeros[:, :3])
        >>> torch.allclose(y, x, atol=1e-6), float(logdet.abs().max()) < 1e-6
        (True, True)
    """
    inside = (x >= -bound) & (x <= bound)
    w, xk = _knots(widths, bound, min_bin)
    h, yk = _knots(heights, bound, min_bin)
    # softplus(D + c) with softplus(c) = 1 - min_derivative: D = 0 gives derivative 1
    shift = math.log(math.expm1(1 - min_derivative))
    interior = min_derivative + F.softplus(derivatives + shift)
    d = F.pad(interior, (1, 1), value=1.0)
    xc = x.clamp(-bound, bound)
    knots = yk if inverse else xk
    k = torch.searchsorted(knots[..., 1:-1].contiguous(), xc.unsqueeze(-1).contiguous()).clamp(0, w.shape[-1] - 1)

    def pick(t: Tensor) -> Tensor:
        return t.gather(-1, k).squeeze(-1)

    x0, y0, wk, hk = pick(xk), pick(yk), pick(w), pick(h)
    d0, d1 = pick(d[..., :-1]), pick(d[..., 1:])
    s = hk / wk
    if inverse:
        dy = xc - y0
        a = hk * (s - d0) + dy * (d1 + d0 - 2 * s)
        b = hk * d0 - dy * (d1 + d0 - 2 * s)
        c = -s * dy
        xi = (2 * c) / (-b - torch.sqrt((b * b - 4 * a * c).clamp_min(0))).clamp(max=-1e-12)
        out = x0 + xi * wk
    else:
        xi = (xc - x0) / wk
        out = y0 + hk * (s * xi**2 + d0 * xi * (1 - xi)) / (s + (d1 + d0 - 2 * s) * xi * (1 - xi))
    xi = xi.clamp(0, 1)
    denom = s + (d1 + d0 - 2 * s) * xi * (1 - xi)
    log_grad = (
        2 * torch.log(s) + torch.log(d1 * xi**2 + 2 * s * xi * (1 - xi) + d0 * (1 - xi) ** 2) - 2 * torch.log(denom)
    )
    log_grad = -log_grad if inverse else log_grad
    return torch.where(inside, out, x), torch.where(inside, log_grad, torch.zeros_like(log_grad))


class SplineCoupling(Coupling):
    r"""Coupling with a rational-quadratic spline per element of ``x_2`` (Neural Spline Flows).

    .. math:: y_1 = x_1,\qquad y_2 = \mathrm{RQS}_{\theta(x_1)}(x_2),\qquad
        \log|\det J| = \sum \log \mathrm{RQS}'_{\theta(x_1)}(x_2)

    ``x_2`` values outside ``[-bound, bound]`` pass unchanged (linear tails: identity, log-det
    0), so the bound should cover most of the data (after an :class:`~flowkit.ActNorm`,
    3 covers 99.7 % of a unit Gaussian). With a zero-initialised subnet (the default ones)
    the layer starts as the identity.

    Shapes: ``(B, C, *spatial) -> (B, C, *spatial)``.

    Args:
        channels: ``C`` (>= 2).
        split: channels in ``x_1`` (default ``C // 2``).
        bins: ``K``, spline bins per element.
        bound: ``B``, half-width of the spline's interval.
        subnet: factory called as ``subnet(split + K_ctx, (C - split) (3K - 1))``: per element
            of ``x_2``, ``K`` widths, ``K`` heights and ``K - 1`` interior derivatives
            (default :class:`~flowkit.subnets.DenseBlock`; :class:`~flowkit.subnets.MLP` for vectors).
        context_channels: ``K_ctx``, channels of the conditioning input (0: none).
        conditioning: ``"concat"`` or ``"film"`` (:meth:`~flowkit.Coupling.subnet_input`).

    Example:
        >>> import torch
        >>> from functools import partial
        >>> from flowkit.subnets import MLP
        >>> layer = SplineCoupling(4, bins=8, subnet=partial(MLP, hidden=32))
        >>> y, logdet = layer(torch.randn(5, 4))
        >>> y.shape, logdet.shape
        (torch.Size([5, 4]), torch.Size([5]))
    """

    def __init__(
        self,
        channels: int,
        split: int | None = None,
        bins: int = 8,
        bound: float = 3.0,
        subnet: SubnetFactory = DenseBlock,
        context_channels: int = 0,
        conditioning: Conditioning = "concat",
    ) -> None:
        super().__init__(channels, split, context_channels, conditioning)
        if bins < 2:
            raise ValueError(f"SplineCoupling: bins must be >= 2, got {bins}")
        if not bound > 0:
            raise ValueError(f"SplineCoupling: bound must be > 0, got {bound}")
        self.bins, self.bound = int(bins), float(bound)
        self.net = subnet(self.subnet_width(self.split), (self.channels - self.split) * (3 * self.bins - 1))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bins={self.bins}, bound={self.bound}"

    def _spline(self, x1: Tensor, x2: Tensor, context: Tensor | None, inverse: bool) -> tuple[Tensor, Tensor]:
        p = self.net(self.subnet_input(x1, context))
        p = p.view(p.shape[0], x2.shape[1], 3 * self.bins - 1, *p.shape[2:]).movedim(2, -1)
        k = self.bins
        y2, log_grad = rational_quadratic_spline(
            x2, p[..., :k], p[..., k : 2 * k], p[..., 2 * k :], self.bound, inverse=inverse
        )
        return y2, sum_except_batch(log_grad)

    def couple(self, x1: Tensor, x2: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        y2, logdet = self._spline(x1, x2, context, inverse=False)
        return x1, y2, logdet

    def uncouple(self, y1: Tensor, y2: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        x2, logdet = self._spline(y1, y2, context, inverse=True)
        return y1, x2, logdet
