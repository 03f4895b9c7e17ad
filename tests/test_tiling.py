"""Tiled processing equals whole-image processing for local functions."""

import pytest
import torch
from torch import nn

from flowkit.image import tiled


def _net(layers, up=1):
    torch.manual_seed(0)
    mods = []
    for _ in range(layers):
        mods += [nn.Conv2d(3, 3, 3, padding=1), nn.LeakyReLU(0.2)]
    if up > 1:
        mods += [nn.Conv2d(3, 3 * up * up, 3, padding=1), nn.PixelShuffle(up)]
    return nn.Sequential(*mods).double().eval()


@torch.no_grad()
@pytest.mark.parametrize("size", [(64, 64), (70, 45), (33, 129)])
def test_tiled_equals_untiled_within_receptive_field(size):
    net = _net(4)  # receptive-field radius 4 <= overlap / 2
    x = torch.rand(2, 3, *size, dtype=torch.float64)
    torch.testing.assert_close(tiled(net, x, tile=16, overlap=8), net(x), rtol=0, atol=1e-12)


@torch.no_grad()
def test_tiled_upscaling_and_downscaling():
    up = _net(2, up=2)  # radius 3 in input pixels
    x = torch.rand(1, 3, 50, 38, dtype=torch.float64)
    torch.testing.assert_close(tiled(up, x, tile=16, overlap=6, scale=2), up(x), rtol=0, atol=1e-12)

    def down(t):
        return nn.functional.avg_pool2d(t, 2)

    torch.testing.assert_close(tiled(down, x, tile=16, overlap=4, scale=0.5), down(x), rtol=0, atol=1e-12)


@torch.no_grad()
def test_seams_are_blended_when_the_receptive_field_is_larger():
    net = _net(10)  # radius 10 > overlap / 2: not exact, but the seams blend
    x = torch.rand(1, 3, 64, 64, dtype=torch.float64)
    err = (tiled(net, x, tile=16, overlap=8) - net(x)).abs().max().item()
    assert 0 < err < 0.05


def test_tiled_bad_parameters():
    x = torch.rand(1, 3, 20, 20)
    with pytest.raises(ValueError, match="at most half the tile"):
        tiled(lambda t: t, x, tile=8, overlap=5)
    with pytest.raises(ValueError, match="whole number of pixels"):
        tiled(lambda t: t, x, tile=10, overlap=2, scale=0.25)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        tiled(lambda t: t, x[0], tile=8, overlap=2)
