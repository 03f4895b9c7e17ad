"""Train a study run on the CPU with every convolution computed as in TF32.

Did TF32 explain why the GPU-trained FGRN x4 (seed 0) scores below its CPU twin
(Reproducing page, GPU budgets)? With seed 0 this emulation lands where the GPU did, but
so did the GPU run with TF32 off: TF32 is one of the rounding-level differences that
decide which of its two outcomes FGRN x4's flow reaches, not the cause.

On CUDA, cuDNN computes float32 convolutions in TF32 by default: the operands of the
forward convolution and of both backward ones (input, weight, incoming gradient) keep 10
of float32's 23 mantissa bits, the products are summed in float32. This script replaces
``torch.nn.functional.conv2d`` — which every ``nn.Conv2d`` calls — by :func:`tf32_conv2d`,
which rounds those operands the same way (to nearest, ties away from zero) and convolves
in float32, then trains the run like ``train_run``. Nothing else changes: the data, the
bicubic reference and the optimiser stay in float32.

Usage::

    python -m benchmarks.reproduce.tf32_emulation NAME CONFIG [KEY=VALUE ...]
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch import Tensor

from benchmarks.reproduce.common import train

_CONV2D = F.conv2d


def to_tf32(t: Tensor) -> Tensor:
    """``t`` (float32) rounded to TF32's 10 mantissa bits, to nearest with ties away from zero.

    >>> to_tf32(torch.tensor([1 + 2**-10, 1 + 2**-11, 1 + 2**-12, -(1 + 2**-11)])).tolist()
    [1.0009765625, 1.0009765625, 1.0, -1.0009765625]
    """
    if t.dtype != torch.float32:
        raise TypeError(f"to_tf32 expects float32, got {t.dtype}")
    bits = t.contiguous().view(torch.int32)
    return ((bits + 0x1000) & ~0x1FFF).view(torch.float32)


class _TF32Conv2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        x, weight = to_tf32(x), to_tf32(weight)
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, dilation, groups, bias is not None)
        return _CONV2D(x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        stride, padding, dilation, groups, has_bias = ctx.conf
        g = to_tf32(grad)
        grad_x = torch.nn.grad.conv2d_input(x.shape, weight, g, stride, padding, dilation, groups)
        grad_w = torch.nn.grad.conv2d_weight(x, weight.shape, g, stride, padding, dilation, groups)
        grad_b = grad.sum((0, 2, 3)) if has_bias else None
        return grad_x, grad_w, grad_b, None, None, None, None


def tf32_conv2d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups: int = 1
) -> Tensor:
    """``F.conv2d`` with TF32 operands (forward and backward) for float32 tensors; other
    dtypes, and string paddings, go to ``F.conv2d`` unchanged."""
    if input.dtype != torch.float32 or isinstance(padding, str):
        return _CONV2D(input, weight, bias, stride, padding, dilation, groups)
    return _TF32Conv2d.apply(input, weight, bias, stride, padding, dilation, groups)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python -m benchmarks.reproduce.tf32_emulation NAME CONFIG [KEY=VALUE ...]")
    F.conv2d = tf32_conv2d
    print(train(sys.argv[1], sys.argv[2], sys.argv[3:]))
