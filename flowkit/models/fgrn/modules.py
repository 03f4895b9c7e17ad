"""FGRN's three parts: the downscaling module Gd, the upscaling module Gu, and the
flow guidance module F — all built from flowkit's layers and subnets."""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor, nn

from flowkit.core import InvertibleSequential
from flowkit.image.bicubic import imresize
from flowkit.layers import FlowCell, Permute, Squeeze, Unsqueeze
from flowkit.subnets import DenseBlock, ResBlock

__all__ = ["Downscaler", "Upscaler", "flow_guidance_module"]


def _body(channels: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(*[ResBlock(channels) for _ in range(blocks)])


class Downscaler(nn.Module):
    """Gd: ``Squeeze(s) -> conv -> ResBlocks (+ long skip) -> conv -> sigmoid``: a 3-channel
    representation in (0, 1).

    Shapes: ``(B, 3, sH, sW) -> (B, 3, H, W)``. The squeeze is lossless; everything
    after it runs at LR resolution.

    The sigmoid keeps the representation inside the range the 8-bit quantiser can
    store. The paper's (IRN's) quantiser clamps to [0, 1] but passes gradients straight
    through the clamp, so nothing pulls an unguided representation back into range:
    without the sigmoid, Gd's outputs drifted to -7e6 within 100 steps of DU_none or
    FGRN training (all clamped to 0 or 1, reconstruction stuck).

    With ``bicubic_skip`` the network is a residual on the bicubic LR in logit space,
    ``sigmoid(logit(bicubic(hr)) + net(hr))``, and its last convolution starts at zero:
    at initialisation Gd is the (MATLAB) bicubic downscale, up to a clamp of the bicubic
    values to ``[1e-3, 1 - 1e-3]`` that the 8-bit quantiser cannot see.
    """

    def __init__(self, scale: int, channels: int, blocks: int, bicubic_skip: bool = False) -> None:
        super().__init__()
        self.scale = scale
        self.bicubic_skip = bicubic_skip
        self.squeeze = Squeeze(scale)
        self.head = nn.Conv2d(3 * scale * scale, channels, 3, padding=1)
        self.body = _body(channels, blocks)
        self.tail = nn.Conv2d(channels, 3, 3, padding=1)
        if bicubic_skip:
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    def forward(self, hr: Tensor) -> Tensor:
        x, _ = self.squeeze(hr)
        feat = self.head(x)
        out = self.tail(feat + self.body(feat))
        if self.bicubic_skip:
            out = out + torch.logit(imresize(hr, 1 / self.scale).clamp(1e-3, 1 - 1e-3))
        return torch.sigmoid(out)


class Upscaler(nn.Module):
    """Gu: ``conv -> ResBlocks (+ long skip) -> conv -> PixelShuffle(s)``.

    The pixel shuffle is flowkit's :class:`~flowkit.Unsqueeze`, which has the same
    layout as :class:`torch.nn.PixelShuffle`. Shapes: ``(B, 3, H, W) -> (B, 3, sH, sW)``.

    With ``bicubic_skip`` the output is ``bicubic(x) + net(x)`` (MATLAB bicubic upscale)
    and the last convolution starts at zero: at initialisation Gu is the bicubic upscale.
    """

    def __init__(self, scale: int, channels: int, blocks: int, bicubic_skip: bool = False) -> None:
        super().__init__()
        self.scale = scale
        self.bicubic_skip = bicubic_skip
        self.head = nn.Conv2d(3, channels, 3, padding=1)
        self.body = _body(channels, blocks)
        self.tail = nn.Conv2d(channels, 3 * scale * scale, 3, padding=1)
        if bicubic_skip:
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)
        self.shuffle = Unsqueeze(scale)

    def forward(self, x: Tensor) -> Tensor:
        feat = self.head(x)
        out, _ = self.shuffle(self.tail(feat + self.body(feat)))
        return out + imresize(x, self.scale) if self.bicubic_skip else out


def flow_guidance_module(cells: int, growth: int = 32, clamp: float | None = 2.0) -> InvertibleSequential:
    """F: ``cells`` :class:`~flowkit.FlowCell` on 3 channels (split 1|2), a cyclic channel
    shift between consecutive cells so that every channel takes its turn as ``l^1``.

    Shapes: ``(B, 3, H, W) -> (B, 3, H, W)``; the log-det is the sum over cells.
    """
    subnet = partial(DenseBlock, growth=growth)
    flows: list[nn.Module] = []
    for k in range(cells):
        if k:
            flows.append(Permute(3, mode="shift"))
        flows.append(FlowCell(3, split=1, subnet=subnet, clamp=clamp))
    return InvertibleSequential(*flows)
