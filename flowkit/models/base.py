"""The interface every rescaling model shares, and the config base class.

A :class:`RescalingModel` turns an HR image into an 8-bit LR image and back:

* ``downscale(hr) -> lr``: ``(B, 3, H, W) -> (B, 3, ceil(H/s), ceil(W/s))``, values on
  the 8-bit grid ``{0, 1/255, ..., 1}`` (what a PNG stores);
* ``upscale(lr, size=None) -> hr``: ``(B, 3, h, w) -> (B, 3, s h, s w)``, cropped to
  ``size`` when given (the original HR size);
* ``rescale(hr)``: both, returning exactly ``hr``'s size;
* ``training_losses(hr, lr_bicubic) -> dict`` with the term ``"total"`` to minimise.

Inputs of any size are padded (edge replication, bottom/right) to a multiple of the
model's stride, and outputs cropped back, so every tool downstream treats all models
alike.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Any, ClassVar, Self

import torch.nn.functional as F
from torch import Tensor, nn

from flowkit.fields import Config

__all__ = ["ModelConfig", "RescalingModel", "pad_to_multiple", "count_indices", "first_dim", "SCALES", "check_scale"]


@dataclasses.dataclass(frozen=True)
class ModelConfig(Config):
    """Base of the per-model configs: a frozen dataclass that round-trips through JSON
    (:class:`flowkit.fields.Config`: an unknown field, such as one of another model's
    config, or a value of the wrong type is a ``ValueError``). Change a field with
    :meth:`~flowkit.fields.Config.replace`, which validates the result."""

    KIND: ClassVar[str] = "model config"
    #: The fields that only weigh or choose training losses. Configs that differ in nothing
    #: else build the same network, which computes the same function from the same weights.
    LOSS_FIELDS: ClassVar[frozenset[str]] = frozenset()

    scale: int = 4

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def architecture(self) -> Self:
        """This config with every field of :attr:`LOSS_FIELDS` at its default: two configs give
        equal results exactly when they build the same network.

        Example:
            >>> from flowkit.models import FGRNConfig
            >>> FGRNConfig(scale=2, gamma=0.05).architecture() == FGRNConfig(scale=2).architecture()
            True
            >>> FGRNConfig(scale=2, flow_cells=2).architecture() == FGRNConfig(scale=2).architecture()
            False
        """
        defaults = {f.name: f.default for f in dataclasses.fields(self) if f.name in self.LOSS_FIELDS}
        return self.replace(**defaults)

    def __post_init__(self) -> None:
        check_scale(self.scale, type(self).__name__)


#: The rescaling factors the models support.
SCALES = (2, 4)


def check_scale(scale: object, where: str) -> int:
    """``scale`` if it is one of :data:`SCALES`, else ``ValueError("<where>: scale must be 2 or 4, ...")``."""
    if isinstance(scale, bool) or scale not in SCALES:
        raise ValueError(f"{where}: scale must be 2 or 4, got {scale!r}")
    return int(scale)


def count_indices(shapes: dict[str, tuple[int, ...]], pattern: str) -> int:
    """How many distinct values the regex ``pattern``'s first group takes over the names."""
    regex = re.compile(pattern)
    return len({m.group(1) for name in shapes if (m := regex.match(name))})


def first_dim(shapes: dict[str, tuple[int, ...]], pattern: str) -> int | None:
    """The first dimension of the first tensor whose name matches ``pattern`` (None: none)."""
    regex = re.compile(pattern)
    return next((shape[0] for name, shape in sorted(shapes.items()) if regex.fullmatch(name) and shape), None)


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Replicate-pad the bottom/right of ``(B, C, H, W)`` so H and W are multiples of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (0, pw, 0, ph), mode="replicate")


class RescalingModel(nn.Module):
    """Base class of FGRN, IRN and the bicubic baseline (see the module docstring)."""

    #: registry name, e.g. ``"fgrn"``
    name: ClassVar[str] = ""
    #: the config class
    config_class: ClassVar[type[ModelConfig]] = ModelConfig

    def __init__(self, config: ModelConfig | None = None, **fields: Any) -> None:
        super().__init__()
        self.config = self._resolve_config(config, fields)

    @classmethod
    def _resolve_config(cls, config: ModelConfig | None, fields: dict[str, Any]) -> ModelConfig:
        """``config`` itself, or one built from keyword ``fields`` (``FGRN(scale=2, gamma=1e-3)``)."""
        if config is not None and fields:
            raise TypeError(f"{cls.__name__}: give a config or keyword fields, not both")
        if config is None:
            return cls.config_class.from_dict(fields, where=cls.__name__)
        if not isinstance(config, cls.config_class):
            raise TypeError(
                f"{cls.__name__}: config must be an instance of {cls.config_class.__name__}, got "
                f"{type(config).__name__} (for a scale, write {cls.__name__}(scale=...))"
            )
        return config

    @classmethod
    def from_config(cls, config: ModelConfig) -> Self:
        """The model of a config (``FGRN.from_config(FGRNConfig(scale=2))``)."""
        return cls(config)

    @property
    def scale(self) -> int:
        return self.config.scale

    @classmethod
    def layout(cls, config: ModelConfig, shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[Any, Any]]:
        """``{field: (wanted, found)}`` for the size fields of ``config`` (block counts,
        widths) as read off a weights file's tensor names and ``shapes`` without building
        the model, so that :func:`~flowkit.models.load_model` refuses a file whose config
        disagrees with its tensors at once, whatever sizes the config asks for. The base
        class checks nothing; each model with weights overrides it."""
        return {}

    @property
    def stride(self) -> int:
        """HR sizes the network itself accepts are multiples of this."""
        return self.scale

    def _check_hr(self, hr: Tensor) -> Tensor:
        if not isinstance(hr, Tensor) or hr.dim() != 4 or hr.shape[1] != 3:
            shape = tuple(hr.shape) if isinstance(hr, Tensor) else type(hr).__name__
            raise ValueError(f"{type(self).__name__}: expected an RGB batch (B, 3, H, W), got {shape}")
        return pad_to_multiple(hr, self.stride)

    def _check_lr(self, lr: Tensor) -> Tensor:
        if not isinstance(lr, Tensor) or lr.dim() != 4 or lr.shape[1] != 3:
            shape = tuple(lr.shape) if isinstance(lr, Tensor) else type(lr).__name__
            raise ValueError(f"{type(self).__name__}: expected an RGB batch (B, 3, h, w), got {shape}")
        return pad_to_multiple(lr, self.stride // self.scale)

    #: Whether :meth:`upscale` draws random numbers (IRN with a Gaussian latent); evaluation
    #: then averages several draws.
    stochastic: bool = False

    @staticmethod
    def crop(x: Tensor, size: tuple[int, int] | None) -> Tensor:
        """The top-left ``size`` of ``x`` ``(..., H, W)`` (``x`` itself when ``size`` is None): what
        :meth:`upscale` does to its padded output.

        Raises:
            ValueError: ``size`` is larger than ``x``.
        """
        if size is None:
            return x
        h, w = int(size[0]), int(size[1])
        if h > x.shape[-2] or w > x.shape[-1]:
            raise ValueError(f"cannot crop {tuple(x.shape[-2:])} to the larger size {(h, w)}")
        return x[..., :h, :w]

    def lr_size(self, hr_size: tuple[int, int]) -> tuple[int, int]:
        """The LR size :meth:`downscale` gives for an HR size."""
        return math.ceil(hr_size[0] / self.scale), math.ceil(hr_size[1] / self.scale)

    def downscale(self, hr: Tensor) -> Tensor:  # pragma: no cover - abstract
        """HR ``(B, 3, H, W)`` in ``[0, 1]`` -> the 8-bit LR ``(B, 3, ceil(H/s), ceil(W/s))``."""
        raise NotImplementedError

    def upscale(self, lr: Tensor, size: tuple[int, int] | None = None) -> Tensor:  # pragma: no cover
        """LR ``(B, 3, h, w)`` -> HR ``(B, 3, s h, s w)``, cropped to ``size`` when given."""
        raise NotImplementedError

    def rescale(self, hr: Tensor) -> Tensor:
        """``upscale(downscale(hr))`` at ``hr``'s exact size: ``(B, 3, H, W) -> (B, 3, H, W)``."""
        return self.upscale(self.downscale(hr), size=tuple(hr.shape[-2:]))

    def training_losses(self, hr: Tensor, lr_bicubic: Tensor) -> dict[str, Tensor]:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} has nothing to train")

    def num_parameters(self) -> int:
        """Trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
