"""IRN, the Invertible Rescaling Network baseline, from flowkit's layers."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import torch
from torch import Tensor

from flowkit.core import InvertibleSequential
from flowkit.layers import HaarDownsampling, InvBlockExp, StraightThroughQuantizer
from flowkit.models.base import RescalingModel, count_indices, first_dim
from flowkit.models.irn import official
from flowkit.models.irn.config import IRNConfig
from flowkit.models.irn.losses import charbonnier_sum_loss, latent_loss, lr_fit_loss
from flowkit.models.registry import register
from flowkit.subnets import DenseBlock

__all__ = ["IRN", "irn_network"]


def haar_stages(scale: int) -> int:
    """How many factor-2 stages (Haar + blocks) IRN stacks for ``scale``: 1 for x2, 2 for x4."""
    return {2: 1, 4: 2}[scale]


def irn_network(scale: int, blocks: int = 8, growth: int = 32, clamp: float = 1.0) -> InvertibleSequential:
    """The invertible network: per factor 2, ``HaarDownsampling`` then ``blocks`` ``InvBlockExp``.

    Shapes: ``(B, 3, H, W) -> (B, 3 s^2, H/s, W/s)``; the first 3 output channels are
    the LR image, the rest the latent z. Member ``i`` is the official ``operations.i``.
    """
    flows = []
    channels = 3
    subnet = partial(DenseBlock, growth=growth)
    for _ in range(haar_stages(scale)):
        flows.append(HaarDownsampling(channels))
        channels *= 4
        flows += [InvBlockExp(channels, split=3, subnet=subnet, clamp=clamp) for _ in range(blocks)]
    return InvertibleSequential(*flows)


@register
class IRN(RescalingModel):
    r"""Invertible Rescaling Network (Xiao et al., 2020), matching the official code.

    ``downscale``: ``LR = Q(net(HR)[:, :3])``. ``upscale``: ``HR = net^{-1}([LR, z])``
    with ``z ~ N(0, gaussian_scale^2)`` (``z_mode="gaussian"``) or ``z = 0``
    (``z_mode="zero"``, the z0 variant), unless ``z`` is given.

    With the official configuration the trainable parameter counts are exactly
    1,667,952 (x2) and 4,355,136 (x4).

    Example:
        >>> import torch
        >>> IRN(IRNConfig.for_scale(2)).num_parameters()
        1667952
    """

    name = "irn"
    config_class = IRNConfig

    @classmethod
    def layout(cls, config: IRNConfig, shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[Any, Any]]:
        return {
            "blocks": (config.blocks * haar_stages(config.scale), count_indices(shapes, r"net\.flows\.(\d+)\.phi\.")),
            "growth": (config.growth, first_dim(shapes, r"net\.flows\.\d+\.phi\.conv1\.weight")),
        }

    def __init__(self, config: IRNConfig | None = None, **fields: Any) -> None:
        super().__init__(config, **fields)
        c = self.config
        self.net = irn_network(c.scale, c.blocks, c.growth, c.clamp)
        self.quantize = StraightThroughQuantizer()

    @property
    def stochastic(self) -> bool:
        """True when ``upscale`` samples z (``z_mode="gaussian"``)."""
        return self.config.z_mode == "gaussian"

    def latent(self, lr: Tensor, z: Tensor | str | None = None) -> Tensor:
        """The latent for ``lr`` ``(B, 3, h, w)``: ``(B, 3 (s^2 - 1), h, w)``.

        ``z`` may be a tensor, ``"gaussian"``, ``"zero"`` or None (the config's mode).
        """
        shape = (lr.shape[0], 3 * (self.scale**2 - 1), lr.shape[2], lr.shape[3])
        if isinstance(z, Tensor):
            if tuple(z.shape) != shape:
                raise ValueError(f"IRN: z must have shape {shape}, got {tuple(z.shape)}")
            return z.to(lr)
        mode = z or self.config.z_mode
        if mode == "zero":
            return lr.new_zeros(shape)
        if mode == "gaussian":
            return self.config.gaussian_scale * torch.randn(shape, dtype=lr.dtype, device=lr.device)
        raise ValueError(f"IRN: z must be a tensor, 'gaussian' or 'zero', got {z!r}")

    def downscale(self, hr: Tensor) -> Tensor:
        out, _ = self.net(self._check_hr(hr))
        return self.quantize(out[:, :3])

    def upscale(self, lr: Tensor, size: tuple[int, int] | None = None, z: Tensor | str | None = None) -> Tensor:
        lr = self._check_lr(lr)
        hr, _ = self.net.inverse(torch.cat((lr, self.latent(lr, z)), dim=1))
        return self.crop(hr, size)

    def training_losses(self, hr: Tensor, lr_bicubic: Tensor) -> dict[str, Tensor]:
        """The official loss (see :mod:`flowkit.models.irn.losses`): the LR fit uses the
        unquantised LR; the backward pass gets the quantised LR and a fresh z
        (zeros for z0)."""
        c = self.config
        out, _ = self.net(hr)
        lr, z = out[:, :3], out[:, 3:]
        losses = {"fit": c.lambda_fit * lr_fit_loss(lr, lr_bicubic), "ce": c.lambda_ce * latent_loss(z)}
        lr_q = self.quantize(lr)
        rec, _ = self.net.inverse(torch.cat((lr_q, self.latent(lr_q)), dim=1))
        losses["rec"] = c.lambda_rec * charbonnier_sum_loss(rec, hr)
        losses["total"] = losses["fit"] + losses["rec"] + losses["ce"]
        return losses

    # ------------------------------------------------------------------ official checkpoints
    official_key = staticmethod(official.official_key)

    def load_official(self, state_dict: Mapping[str, Tensor] | str) -> IRN:
        """Load weights saved by the official IRN code (a ``.pth`` path or its state dict);
        see :func:`flowkit.models.irn.official.load_official`.

        Raises:
            ValueError: unknown or missing keys, wrong shapes, or Haar kernels that are
                not the fixed IRN kernels — i.e. a checkpoint of another configuration.
        """
        official.load_official(self, state_dict)
        return self
