"""Rescaling models built from flowkit's layers, behind one interface.

>>> from flowkit.models import build
>>> build("irn", scale=2).num_parameters()
1667952
"""

from __future__ import annotations

from typing import Any

from flowkit.models.base import ModelConfig, RescalingModel, pad_to_multiple
from flowkit.models.bicubic import Bicubic, BicubicConfig
from flowkit.models.fgrn import FGRN, FGRNConfig
from flowkit.models.io import ModelFileError, load_model, save_model
from flowkit.models.irn import IRN, IRNConfig
from flowkit.models.pretrained import available, model_card, pretrained
from flowkit.models.registry import MODELS, register

__all__ = [
    "RescalingModel",
    "ModelConfig",
    "pad_to_multiple",
    "FGRN",
    "FGRNConfig",
    "IRN",
    "IRNConfig",
    "Bicubic",
    "BicubicConfig",
    "MODELS",
    "register",
    "build",
    "model_class",
    "config_for",
    "ModelFileError",
    "load_model",
    "save_model",
    "pretrained",
    "model_card",
    "available",
]


def model_class(name: str) -> type[RescalingModel]:
    """The model class registered as ``name``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODELS)}")
    return MODELS[name]


def config_for(name: str, scale: int, **overrides: Any) -> ModelConfig:
    """The default config of model ``name`` at ``scale``, with field overrides.

    Example:
        >>> config_for("irn", 2).lambda_fit, config_for("fgrn", 2, gamma=0.1).gamma
        (4.0, 0.1)
    """
    cls = model_class(name).config_class
    if hasattr(cls, "for_scale"):
        return cls.for_scale(scale, **overrides)
    return cls.from_dict({"scale": scale, **overrides})


def build(name: str, scale: int = 4, **overrides: Any) -> RescalingModel:
    """Build model ``name`` (``"fgrn"``, ``"irn"``, ``"bicubic"``) with its default config.

    The DU ablations are FGRN configs: ``build("fgrn", 4, guidance="bicubic")`` is
    DU_bic, ``guidance="none"`` DU_none; ``build("irn", 4, z_mode="zero")`` is IRN-z0.

    Example:
        >>> du_bic = build("fgrn", 4, guidance="bicubic")
        >>> du_bic.flow is None, du_bic.config.guidance
        (True, 'bicubic')
    """
    config = config_for(name, scale, **overrides)
    return model_class(name)(config)
