"""A synthetic test card, made by flowkit itself: the bundled default image for demos.

It mixes what rescalers find hard — a zone plate (spatial frequencies from 0 to a
quarter cycle per pixel), fine stripes, a checkerboard, sharp-edged shapes — with
smooth colour gradients and soft texture, so downscaling and upscaling artefacts are
easy to see and to measure.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["test_card"]


def test_card(height: int = 384, width: int = 512) -> Tensor:
    """The test card, ``(3, height, width)`` float32 in [0, 1], quantised to 8-bit levels.

    Example:
        >>> card = test_card(96, 128)
        >>> card.shape, bool(card.min() >= 0 and card.max() <= 1)
        (torch.Size([3, 96, 128]), True)
    """
    y = torch.linspace(0, 1, height).view(-1, 1).expand(height, width)
    x = torch.linspace(0, 1, width).view(1, -1).expand(height, width)
    # background: smooth colour gradients with soft "cloud" texture (fixed seed)
    gen = torch.Generator().manual_seed(2026)
    clouds = torch.zeros(3, height, width)
    for _ in range(12):  # random low-frequency waves, 1 to 6 periods across the card
        fx, fy = (torch.rand(2, generator=gen) * 10 - 5).tolist()
        phase, colour = torch.rand(1, generator=gen).item() * 2 * math.pi, torch.rand(3, 1, 1, generator=gen)
        clouds += colour * torch.sin(2 * math.pi * (fx * x + fy * y) + phase) / 12
    img = torch.stack((0.2 + 0.6 * x, 0.3 + 0.5 * y, 0.8 - 0.5 * x * y)) + 0.5 * clouds
    # zone plate on the left: cos(k r^2) sweeps frequencies from 0 up to 1/4 cycle per pixel
    cy, cx, radius = 0.5, 0.25, 0.22
    r2 = ((y - cy) * height) ** 2 + ((x - cx) * width) ** 2
    inside = r2 < (radius * width) ** 2
    zone = 0.5 + 0.5 * torch.cos(math.pi * r2 / (4 * radius * width))
    img = torch.where(inside, zone.expand(3, -1, -1), img)
    # top right: vertical stripes of period 6, 8 and 12 px
    for i, period in enumerate((6, 8, 12)):
        band = (y > 0.06 + 0.1 * i) & (y < 0.14 + 0.1 * i) & (x > 0.55) & (x < 0.95)
        cols = torch.arange(width).view(1, -1).expand(height, width)
        stripes = ((cols // (period // 2)) % 2).float()
        img = torch.where(band, stripes.expand(3, -1, -1), img)
    # bottom right: checkerboard of 8 px squares and a red disc with a hard edge
    rows = torch.arange(height).view(-1, 1).expand(height, width)
    cols = torch.arange(width).view(1, -1).expand(height, width)
    checker = (((rows // 8) + (cols // 8)) % 2).float()
    board = (y > 0.45) & (y < 0.9) & (x > 0.55) & (x < 0.72)
    img = torch.where(board, checker.expand(3, -1, -1), img)
    disc = ((y - 0.68) * height) ** 2 + ((x - 0.84) * width) ** 2 < (0.09 * width) ** 2
    red = torch.tensor([0.85, 0.1, 0.15]).view(3, 1, 1).expand(3, height, width)
    img = torch.where(disc, red, img)
    return torch.round(img.clamp(0, 1) * 255) / 255
