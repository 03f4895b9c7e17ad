"""Subnetworks used inside coupling layers and rescaling models.

A *subnet factory* is any callable ``factory(in_channels, out_channels) -> nn.Module``
whose module maps ``(B, in_channels, ...)`` to ``(B, out_channels, ...)`` with the
same trailing sizes. Coupling layers take one through their ``subnet`` keyword;
every class here whose constructor starts with ``(in_channels, out_channels)`` is
itself a factory, and :func:`functools.partial` sets its other options::

    from functools import partial
    AffineCoupling(2, subnet=partial(MLP, hidden=64))

The last layer of each coupling subnet starts at zero, so a freshly built coupling
is the identity map.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["SubnetFactory", "DenseBlock", "ResBlock", "MLP", "ConvNet"]

SubnetFactory = Callable[[int, int], nn.Module]


def _xavier_(modules: list[nn.Module], scale: float) -> None:
    for m in modules:
        nn.init.xavier_normal_(m.weight)
        m.weight.data.mul_(scale)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def _zero_(module: nn.Module) -> None:
    nn.init.zeros_(module.weight)
    if module.bias is not None:
        nn.init.zeros_(module.bias)


class DenseBlock(nn.Module):
    r"""Densely connected block of five 3x3 convolutions (IRN's subnet).

    ``conv_k`` sees the input and every earlier output concatenated; LeakyReLU(0.2)
    follows the first four. ``conv1..4`` are Xavier-normal scaled by ``init_scale``;
    ``conv5`` starts at zero, so the block outputs zeros at initialisation. With the
    defaults the parameter layout (names ``conv1``..``conv5``) equals the official
    IRN ``DenseBlock``.

    Shapes: ``(B, in_channels, H, W) -> (B, out_channels, H, W)``, any H, W.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        growth: channels added by each of ``conv1..4`` (IRN: 32).
        init_scale: multiplier on the Xavier init of ``conv1..4`` (IRN: 0.1).
        zero_init: start ``conv5`` at zero (identity coupling at init).

    Example:
        >>> import torch
        >>> DenseBlock(3, 9)(torch.randn(2, 3, 5, 7)).shape
        torch.Size([2, 9, 5, 7])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        growth: int = 32,
        init_scale: float = 0.1,
        zero_init: bool = True,
    ) -> None:
        super().__init__()
        c, g = in_channels, growth
        self.conv1 = nn.Conv2d(c, g, 3, padding=1)
        self.conv2 = nn.Conv2d(c + g, g, 3, padding=1)
        self.conv3 = nn.Conv2d(c + 2 * g, g, 3, padding=1)
        self.conv4 = nn.Conv2d(c + 3 * g, g, 3, padding=1)
        self.conv5 = nn.Conv2d(c + 4 * g, out_channels, 3, padding=1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        _xavier_([self.conv1, self.conv2, self.conv3, self.conv4], init_scale)
        if zero_init:
            _zero_(self.conv5)
        else:
            _xavier_([self.conv5], init_scale)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, in_channels, H, W)`` -> ``(B, out_channels, H, W)``."""
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        return self.conv5(torch.cat((x, x1, x2, x3, x4), 1))


class ResBlock(nn.Module):
    r"""Residual block without normalisation (EDSR / BasicSR ``ResidualBlockNoBN``).

    .. math:: y = x + s \cdot \mathrm{conv}_2(\mathrm{ReLU}(\mathrm{conv}_1(x)))

    Shapes: ``(B, channels, H, W) -> (B, channels, H, W)``.

    Args:
        channels: feature channels.
        res_scale: the residual scale ``s``.
        init_scale: Kaiming-normal init of both convs, multiplied by this (BasicSR: 0.1).

    Example:
        >>> import torch
        >>> ResBlock(16)(torch.randn(1, 16, 8, 8)).shape
        torch.Size([1, 16, 8, 8])
    """

    def __init__(self, channels: int, res_scale: float = 1.0, init_scale: float = 0.1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.res_scale = res_scale
        for conv in (self.conv1, self.conv2):
            nn.init.kaiming_normal_(conv.weight)
            conv.weight.data.mul_(init_scale)
            nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, channels, H, W)`` -> the same shape."""
        return x + self.res_scale * self.conv2(self.relu(self.conv1(x)))


class ConvNet(nn.Module):
    """Glow's coupling subnet: 3x3 conv, ReLU, 1x1 conv, ReLU, 3x3 conv (zero-initialised).

    Shapes: ``(B, in_channels, H, W) -> (B, out_channels, H, W)``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        hidden: hidden channels.

    Example:
        >>> import torch
        >>> ConvNet(2, 4, hidden=8)(torch.randn(1, 2, 3, 3)).shape
        torch.Size([1, 4, 3, 3])
    """

    def __init__(self, in_channels: int, out_channels: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, out_channels, 3, padding=1),
        )
        _zero_(self.net[-1])

    def forward(self, x: Tensor) -> Tensor:
        """``(B, in_channels, H, W)`` -> ``(B, out_channels, H, W)``."""
        return self.net(x)


class MLP(nn.Module):
    """Fully connected subnet for vector data: ``(B, in_channels) -> (B, out_channels)``.

    ``layers`` hidden layers of width ``hidden`` with ReLU; the output layer
    starts at zero.

    Args:
        in_channels: input features.
        out_channels: output features.
        hidden: hidden width.
        layers: number of hidden layers (>= 1).

    Example:
        >>> import torch
        >>> MLP(1, 2, hidden=16)(torch.randn(5, 1)).shape
        torch.Size([5, 2])
    """

    def __init__(self, in_channels: int, out_channels: int, hidden: int = 64, layers: int = 2) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"MLP: layers must be >= 1, got {layers}")
        mods: list[nn.Module] = []
        width = in_channels
        for _ in range(layers):
            mods += [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
            width = hidden
        mods.append(nn.Linear(width, out_channels))
        _zero_(mods[-1])
        self.net = nn.Sequential(*mods)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, in_channels)`` -> ``(B, out_channels)``."""
        return self.net(x)
