"""RealNVP (Dinh et al., 2017) from flowkit layers."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from normflows.distributions import DiagGaussian

from flowkit.core import InvertibleSequential
from flowkit.density.glow import check_image_shape
from flowkit.density.multiscale import MultiscaleDensity
from flowkit.density.preprocess import Logit
from flowkit.density.split import Split
from flowkit.layers import ActNorm, AffineCoupling, CheckerboardCoupling, Permute, Squeeze
from flowkit.subnets import ConvNet

__all__ = ["RealNVP"]


class RealNVP(MultiscaleDensity):
    """RealNVP's multiscale density of images in ``[0, 1)`` (:class:`MultiscaleDensity`).

    Data go through :class:`Logit` (``alpha = 0.05``). Per level but the last: three
    :class:`~flowkit.CheckerboardCoupling` of alternating parity, a
    :class:`~flowkit.Squeeze`, three channel :class:`~flowkit.AffineCoupling`
    with the halves swapped between them (:class:`~flowkit.Permute` ``"reverse"``), then
    a :class:`Split` that factors out half of the channels under a standard normal. The last
    level is four checkerboard couplings; its output has a standard normal too (a fixed
    normflows ``DiagGaussian``). Differences from the paper: a
    :class:`~flowkit.subnets.ConvNet` of width ``hidden`` in place of the ResNet subnets, and
    :class:`~flowkit.ActNorm` after every coupling in place of batch normalisation.

    Args:
        shape: ``(C, H, W)``; ``H`` and ``W`` divisible by ``2 ** (levels - 1)``.
        levels: the number of scales.
        hidden: width of the coupling subnets.
        clamp: bound on the couplings' log-scale.
        bins: levels per dimension of the data (256: 8-bit).

    Example:
        >>> import torch
        >>> model = RealNVP((1, 8, 8), levels=2, hidden=16)
        >>> model.bits_per_dim(torch.randint(0, 256, (4, 1, 8, 8))).shape
        torch.Size([4])
    """

    def __init__(
        self, shape: Sequence[int], levels: int = 2, hidden: int = 64, clamp: float | None = 2.0, bins: int = 256
    ) -> None:
        c, h, w = check_image_shape("RealNVP", shape, levels, squeezes=levels - 1)
        subnet = partial(ConvNet, hidden=hidden)

        def checkerboard(channels: int, parity: int) -> list:
            return [
                CheckerboardCoupling(channels, parity, subnet=subnet, clamp=clamp),
                ActNorm(channels, init="explicit"),
            ]

        stages, splits = [], []
        for level in range(levels):
            if level == levels - 1:
                stages.append(InvertibleSequential(*(m for p in (0, 1, 0, 1) for m in checkerboard(c, p))))
                break
            layers = [m for p in (0, 1, 0) for m in checkerboard(c, p)]
            c, h, w = 4 * c, h // 2, w // 2
            layers.append(Squeeze(2))
            for i in range(3):
                layers += [AffineCoupling(c, subnet=subnet, clamp=clamp), ActNorm(c, init="explicit")]
                if i < 2:
                    layers.append(Permute(c, mode="reverse"))
            stages.append(InvertibleSequential(*layers))
            splits.append(Split(c, learned=False))
            c //= 2
        base = DiagGaussian((c, h, w), trainable=False)
        config = {"levels": levels, "hidden": hidden, "clamp": clamp}
        super().__init__((shape[0], shape[1], shape[2]), stages, splits, Logit(0.05), base, bins, config)
