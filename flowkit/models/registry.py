"""The model registry: names that ``build``, ``load_model``, the Trainer and the command line accept."""

from __future__ import annotations

from flowkit.models.base import RescalingModel

__all__ = ["MODELS", "register"]

#: registry name -> model class
MODELS: dict[str, type[RescalingModel]] = {}


def register(cls: type[RescalingModel]) -> type[RescalingModel]:
    """Class decorator: make a :class:`RescalingModel` subclass available under its ``name``
    everywhere a model name is accepted (``build``, ``load_model``, the Trainer, ``flowkit``).

    Example:
        >>> from flowkit.models import Bicubic, MODELS
        >>> @register
        ... class Nearest(Bicubic):
        ...     name = "nearest-example"
        >>> MODELS["nearest-example"] is Nearest
        True
        >>> del MODELS["nearest-example"]
    """
    if not (isinstance(cls, type) and issubclass(cls, RescalingModel)) or not cls.name:
        raise TypeError(f"register: expected a RescalingModel subclass with a name, got {cls!r}")
    if MODELS.get(cls.name, cls) is not cls:
        raise ValueError(f"register: the name {cls.name!r} is taken by {MODELS[cls.name].__qualname__}")
    MODELS[cls.name] = cls
    return cls
