"""Wrong shapes, channel counts and dtypes give one clear error naming the layer."""

import pytest
import torch

import flowkit as fk


@pytest.mark.parametrize(
    "layer, x, match",
    [
        (
            fk.Squeeze(2),
            torch.randn(1, 3, 5, 4),
            r"Squeeze\(factor=2\): spatial size 5 x 4 must be a positive multiple of 2",
        ),
        (
            fk.Squeeze(2),
            torch.randn(3, 4, 4),
            r"Squeeze\(factor=2\): expected a \(B, C, H, W\) tensor, got shape \(3, 4, 4\)",
        ),
        (fk.Squeeze(2).inverse, torch.randn(1, 6, 2, 2), r"channels 6 must be a multiple of 4"),
        (fk.HaarDownsampling(3), torch.randn(1, 3, 4, 7), r"HaarDownsampling\(channels=3\): spatial size 4 x 7"),
        (
            fk.HaarDownsampling(3),
            torch.randn(1, 4, 4, 4),
            r"HaarDownsampling\(channels=3\): expected 3 channels in dimension 1, got 4",
        ),
        (fk.HaarDownsampling(3).inverse, torch.randn(1, 3, 2, 2), r"expected 12 channels"),
        (
            fk.AffineCoupling(4),
            torch.randn(2, 3, 4, 4),
            r"AffineCoupling\(channels=4, split=2, clamp=2.0\): expected 4 channels in dimension 1, got 3",
        ),
        (fk.FlowCell(3), torch.randn(3), r"FlowCell\(channels=3.*\): expected at least 2 dimensions"),
        (fk.FlowCell(3).inverse, torch.randn(2, 2, 4, 4), r"expected 3 channels"),
        (
            fk.InvBlockExp(12),
            torch.randn(1, 3, 4, 4),
            r"InvBlockExp\(channels=12, split=3, clamp=1.0\): expected 12 channels",
        ),
        (fk.ActNorm(2), torch.randn(1, 3, 2, 2), r"ActNorm\(channels=2\): expected 2 channels"),
        (fk.Permute(4), torch.randn(1, 5), r"Permute\(channels=4.*expected 4 channels"),
        (fk.Invertible1x1Conv(3), torch.randn(1, 4, 2, 2), r"Invertible1x1Conv\(channels=3\): expected 3 channels"),
        (fk.Squeeze(2), torch.zeros(1, 1, 4, 0), r"positive multiple"),
    ],
)
def test_bad_shapes_raise_clear_value_error(layer, x, match):
    with pytest.raises(ValueError, match=match):
        layer(x)


def test_integer_tensor_is_refused():
    with pytest.raises(TypeError, match=r"AffineCoupling\(.*\): expected a floating-point tensor, got torch.int64"):
        fk.AffineCoupling(2)(torch.ones(1, 2, 2, 2, dtype=torch.long))


def test_non_tensor_is_refused():
    with pytest.raises(TypeError, match="expected a torch.Tensor"):
        fk.Squeeze(2)([[1.0]])


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: fk.AffineCoupling(1), "channels must be >= 2"),
        (lambda: fk.FlowCell(3, split=3), r"split must be in \[1, 2\]"),
        (lambda: fk.InvBlockExp(4, split=0), r"split must be in \[1, 3\]"),
        (lambda: fk.Squeeze(1), "factor must be an integer >= 2"),
        (lambda: fk.Permute(3, mode="sideways"), "mode must be"),
        (lambda: fk.Permute(3, permutation=[0, 0, 1]), "not a permutation"),
        (lambda: fk.Invertible1x1Conv(1), "channels must be >= 2"),
        (lambda: fk.InvertibleSequential(fk.Squeeze(2), torch.nn.Conv2d(1, 1, 1)), "member 1 is a Conv2d"),
        (lambda: fk.MLP(2, 2, layers=0), "layers must be >= 1"),
    ],
)
def test_bad_construction_raises(build, match):
    with pytest.raises((ValueError, TypeError), match=match):
        build()
