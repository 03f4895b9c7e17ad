"""The CPU emulation of TF32 convolutions (benchmarks/reproduce/tf32_emulation.py)."""

import pytest
import torch
import torch.nn.functional as F

from benchmarks.reproduce.tf32_emulation import tf32_conv2d, to_tf32


def test_rounding_keeps_ten_mantissa_bits():
    x = torch.randn(10_000)
    r = to_tf32(x)
    assert torch.all((r.view(torch.int32) & 0x1FFF) == 0)  # the 13 low mantissa bits are gone
    assert torch.all((r - x).abs() <= x.abs() * 2.0**-11 * (1 + 1e-6))  # at most half a TF32 ulp
    assert torch.equal(to_tf32(r), r)
    with pytest.raises(TypeError, match="float32"):
        to_tf32(x.double())


def test_on_tf32_exact_operands_it_is_the_ordinary_convolution_and_gradient():
    gen = torch.Generator().manual_seed(0)
    x = (torch.randint(-8, 8, (2, 3, 9, 7), generator=gen) / 8).requires_grad_()
    w = (torch.randint(-8, 8, (4, 3, 3, 3), generator=gen) / 8).requires_grad_()
    b = torch.randn(4, generator=gen).requires_grad_()
    g = torch.randint(-4, 4, (2, 4, 9, 7), generator=gen) / 4
    ours = tf32_conv2d(x, w, b, padding=1)
    grads = torch.autograd.grad(ours, (x, w, b), g)
    ref = F.conv2d(x, w, b, padding=1)
    torch.testing.assert_close(ours, ref)
    for a, e in zip(grads, torch.autograd.grad(ref, (x, w, b), g), strict=True):
        torch.testing.assert_close(a, e)


def test_operands_are_rounded():
    x = torch.full((1, 1, 1, 1), 1 + 2.0**-12)
    w = torch.ones(1, 1, 1, 1)
    assert tf32_conv2d(x, w).item() == 1.0
    assert F.conv2d(x, w).item() == 1 + 2.0**-12
