"""The rational-quadratic spline: monotone, its log-derivative matches autograd, its inverse is
exact, the tails are the identity, and zero parameters give the identity."""

import pytest
import torch

from flowkit.layers.spline import rational_quadratic_spline


def _params(n, bins, scale=2.0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shape = lambda k: (n, k)  # noqa: E731
    w, h = (scale * torch.randn(*shape(bins), generator=gen, dtype=torch.float64) for _ in range(2))
    d = scale * torch.randn(*shape(bins - 1), generator=gen, dtype=torch.float64)
    return w, h, d


@pytest.mark.parametrize("bins", [2, 5, 16])
def test_one_spline_is_monotone_continuous_and_its_log_derivative_is_exact(bins):
    w, h, d = (p[:1].expand(2001, -1) for p in _params(1, bins))
    x = torch.linspace(-4.0, 4.0, 2001, dtype=torch.float64, requires_grad=True)
    y, log_grad = rational_quadratic_spline(x, w, h, d, bound=3.0)
    assert (y[1:] - y[:-1]).min() > 0  # strictly increasing, no jump at a knot or at ±B
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert torch.allclose(log_grad, grad.log(), atol=1e-9)
    tails = x.abs() > 3.0
    assert torch.equal(y[tails], x[tails]) and torch.equal(log_grad[tails], torch.zeros_like(log_grad[tails]))


def test_the_inverse_is_exact_and_its_log_det_cancels():
    w, h, d = _params(500, 8, seed=1)
    x = 4 * torch.rand(500, dtype=torch.float64) - 2  # inside and near the ends of [-1.5, 1.5]
    y, forward = rational_quadratic_spline(x, w, h, d, bound=1.5)
    back, inverse = rational_quadratic_spline(y, w, h, d, bound=1.5, inverse=True)
    assert torch.allclose(back, x, atol=1e-12)
    assert (forward + inverse).abs().max() < 1e-10


def test_zero_parameters_are_the_identity():
    x = torch.linspace(-5, 5, 101, dtype=torch.float64)
    zeros = torch.zeros(101, 6, dtype=torch.float64)
    y, log_grad = rational_quadratic_spline(x, zeros, zeros, zeros[:, :5])
    assert torch.allclose(y, x, atol=1e-12) and log_grad.abs().max() < 1e-12
