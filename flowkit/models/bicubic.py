"""Bicubic & Bicubic: the parameter-free baseline with the rescaling-model interface."""

from __future__ import annotations

import dataclasses

from torch import Tensor

from flowkit.image.bicubic import bicubic_lr, imresize
from flowkit.models.base import ModelConfig, RescalingModel
from flowkit.models.registry import register

__all__ = ["BicubicConfig", "Bicubic"]


@dataclasses.dataclass(frozen=True)
class BicubicConfig(ModelConfig):
    """Only the scale."""


@register
class Bicubic(RescalingModel):
    """MATLAB-bicubic downscaling (stored as 8-bit) and MATLAB-bicubic upscaling.

    Example:
        >>> import torch
        >>> model = Bicubic(BicubicConfig(scale=2))
        >>> model.rescale(torch.rand(1, 3, 9, 10)).shape
        torch.Size([1, 3, 9, 10])
    """

    name = "bicubic"
    config_class = BicubicConfig

    def downscale(self, hr: Tensor) -> Tensor:
        return bicubic_lr(self._check_hr(hr), self.scale)

    def upscale(self, lr: Tensor, size: tuple[int, int] | None = None) -> Tensor:
        return self.crop(imresize(self._check_lr(lr), self.scale), size)
