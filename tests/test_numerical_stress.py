"""Numerical guarantees under stress: large inputs and saturated log-scales (see docs: Guarantees)."""

from functools import partial

import pytest
import torch

import flowkit as fk
from flowkit.testing import check_invertible, check_logdet_cancels, perturb_parameters

SMALL = partial(fk.DenseBlock, growth=8)
CLAMPED = {
    "AffineCoupling": lambda: fk.AffineCoupling(4, subnet=SMALL, clamp=2.0),
    "FlowCell": lambda: fk.FlowCell(3, subnet=SMALL, clamp=2.0),
    "InvBlockExp": lambda: fk.InvBlockExp(6, subnet=SMALL),
}


@pytest.mark.parametrize("name", CLAMPED)
@pytest.mark.parametrize("magnitude", [1e2, 1e3])
def test_large_inputs_keep_the_inverse_bound(name, magnitude):
    """Guarantee 1: max|x' - x| <= rtol * max(1, max|x|) with rtol 1e-5 (float32) / 1e-10 (float64),
    here for inputs up to 1e3."""
    layer = perturb_parameters(CLAMPED[name](), 0.5)
    x = magnitude * torch.randn(2, layer.channels, 8, 8)
    assert check_invertible(layer, x) <= 1e-5
    assert check_invertible(layer.double(), x.double()) <= 1e-10


def _saturate(layer):
    """Push the raw log-scale to +1000, the rest of the subnets as perturbed."""
    last = layer.net.conv5 if isinstance(layer, fk.AffineCoupling) else layer.beta.conv5
    n = layer.channels - layer.split
    with torch.no_grad():
        last.bias[:n] = 1000.0
    return layer


@pytest.mark.parametrize("name", CLAMPED)
@pytest.mark.parametrize("dtype, rtol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_saturated_log_scales_stay_bounded_and_invertible(name, dtype, rtol):
    """Guarantee 2: a clamped coupling's log-scale stays inside (-clamp, clamp) however large the
    subnet output, so exp never overflows, |log-det| <= clamp * (scaled elements), and the
    inverse bound of guarantee 1 still holds."""
    layer = _saturate(perturb_parameters(CLAMPED[name](), 0.5)).to(dtype)
    x = 10 * torch.randn(2, layer.channels, 6, 6, dtype=dtype)
    y, logdet = layer(x)
    assert torch.isfinite(y).all() and torch.isfinite(logdet).all()
    scaled = (layer.channels - layer.split) * 36
    assert (logdet.abs() <= layer.clamp * scaled + 1e-3).all()
    assert (logdet > 0.999 * layer.clamp * scaled).all()  # really saturated
    assert check_invertible(layer, x, rtol=rtol) <= rtol
    check_logdet_cancels(layer, x)


def test_unclamped_couplings_carry_no_such_bound():
    """The documented caveat: with clamp=None (the paper's plain exp) a large log-scale overflows."""
    layer = fk.FlowCell(3, subnet=SMALL, clamp=None)
    with torch.no_grad():
        layer.beta.conv5.bias.fill_(100.0)
    y, logdet = layer(torch.randn(2, 3, 6, 6))
    assert not torch.isfinite(y).all() and logdet.min() >= 100 * 2 * 36 - 1


def test_quantiser_domain():
    """Guarantee 3: the 8-bit quantiser maps any finite input onto the 256 levels."""
    x = torch.tensor([-1e9, -0.5, 0.0, 0.3, 1.0, 7.0, 1e9])
    q = fk.StraightThroughQuantizer()(x)
    assert torch.equal(q, torch.round(q * 255) / 255) and q.min() == 0 and q.max() == 1
