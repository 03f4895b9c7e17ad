"""Glow (Kingma & Dhariwal, 2018) from flowkit layers."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from normflows.distributions import DiagGaussian

from flowkit.core import InvertibleSequential
from flowkit.density.multiscale import MultiscaleDensity
from flowkit.density.preprocess import Center
from flowkit.density.split import Split
from flowkit.layers import ActNorm, AffineCoupling, Invertible1x1Conv, Squeeze
from flowkit.subnets import ConvNet

__all__ = ["Glow"]


def check_image_shape(name: str, shape: Sequence[int], levels: int, squeezes: int) -> tuple[int, int, int]:
    """``(C, H, W)`` of ``shape``, checked for ``levels >= 1`` scales with ``squeezes`` factor-2
    squeezes; else a ``ValueError`` naming ``name``."""
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{name}: shape must be (C, H, W), got {tuple(shape)}")
    if levels < 1:
        raise ValueError(f"{name}: levels must be >= 1, got {levels}")
    c, h, w = (int(s) for s in shape)
    if h % 2**squeezes or w % 2**squeezes:
        raise ValueError(f"{name}: {levels} level(s) need H and W divisible by {2**squeezes}, got {h}x{w}")
    return c, h, w


class Glow(MultiscaleDensity):
    """Glow's multiscale density of images in ``[0, 1)`` (:class:`MultiscaleDensity`).

    Per level: :class:`~flowkit.Squeeze` (x2), then ``steps`` times
    :class:`~flowkit.ActNorm`, :class:`~flowkit.Invertible1x1Conv` and an
    :class:`~flowkit.AffineCoupling` whose subnet is Glow's
    :class:`~flowkit.subnets.ConvNet` of width ``hidden``; after each level but the last a
    :class:`Split` factors out half of the channels under its learned prior. Data are
    centred first (:class:`Center`); the last level's output has a trainable diagonal
    Gaussian (normflows' ``DiagGaussian``, Glow's learned top prior). Differences from the
    paper: the coupling's scale is ``exp`` of a soft-clamped log-scale, not ``sigmoid(h + 2)``.

    Args:
        shape: ``(C, H, W)``; ``H`` and ``W`` divisible by ``2 ** levels``.
        levels: ``L``, the number of scales.
        steps: ``K``, flow steps per level.
        hidden: width of the coupling subnets.
        clamp: bound on the couplings' log-scale.
        bins: levels per dimension of the data (256: 8-bit).

    Example:
        >>> import torch
        >>> model = Glow((1, 8, 8), levels=2, steps=2, hidden=16)
        >>> x = torch.randint(0, 256, (4, 1, 8, 8))
        >>> model.bits_per_dim(x).shape, model.sample(3, temperature=0.7)[0].shape
        (torch.Size([4]), torch.Size([3, 1, 8, 8]))
    """

    def __init__(
        self,
        shape: Sequence[int],
        levels: int = 3,
        steps: int = 8,
        hidden: int = 256,
        clamp: float | None = 2.0,
        bins: int = 256,
    ) -> None:
        c, h, w = check_image_shape("Glow", shape, levels, squeezes=levels)
        if steps < 1:
            raise ValueError(f"Glow: steps must be >= 1, got {steps}")
        subnet = partial(ConvNet, hidden=hidden)
        stages, splits = [], []
        for level in range(levels):
            c, h, w = 4 * c, h // 2, w // 2
            layers = [Squeeze(2)]
            for _ in range(steps):
                layers += [
                    ActNorm(c, init="explicit"),
                    Invertible1x1Conv(c),
                    AffineCoupling(c, subnet=subnet, clamp=clamp),
                ]
            stages.append(InvertibleSequential(*layers))
            if level < levels - 1:
                splits.append(Split(c))
                c //= 2
        config = {"levels": levels, "steps": steps, "hidden": hidden, "clamp": clamp}
        super().__init__(
            (shape[0], shape[1], shape[2]), stages, splits, Center(), DiagGaussian((c, h, w)), bins, config
        )
