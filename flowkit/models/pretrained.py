"""Weights shipped inside the package, loadable by name: ``pretrained("fgrn", scale=4)``.

Each shipped model is ``flowkit/models/weights/<name>-x<scale>.safetensors`` with a JSON
card beside it (training config, budget, data, evaluation table).
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from flowkit.models.base import RescalingModel
from flowkit.models.io import ModelFileError, load_model

__all__ = ["pretrained", "available", "weights_path", "model_card", "resolve_weights"]


def _folder() -> Path:
    return Path(str(resources.files("flowkit.models.weights")))


def weights_path(name: str, scale: int) -> Path:
    """Where the shipped weights of ``name`` at ``scale`` live (the file may not exist)."""
    return _folder() / f"{name}-x{scale}.safetensors"


def available() -> list[tuple[str, int]]:
    """``(name, scale)`` of every shipped model."""
    out = []
    for p in sorted(_folder().glob("*-x*.safetensors")):
        name, scale = p.stem.rsplit("-x", 1)
        out.append((name, int(scale)))
    return out


def model_card(name: str, scale: int) -> dict[str, Any]:
    """The JSON card of a shipped model."""
    card = weights_path(name, scale).with_suffix(".json")
    if not card.is_file():
        raise ModelFileError(f"no model card for {name} x{scale}")
    return json.loads(card.read_text())


def pretrained(name: str, scale: int = 4, map_location: str | torch.device = "cpu") -> RescalingModel:
    """The shipped trained model ``name`` (``"fgrn"`` or ``"irn"``) at ``scale``, in eval mode.

    Raises:
        ModelFileError: no weights are shipped for that model and scale.
    """
    path = weights_path(name, scale)
    if not path.is_file():
        shipped = ", ".join(f"{n} x{s}" for n, s in available()) or "none yet"
        raise ModelFileError(
            f"no shipped weights for {name} x{scale} (shipped: {shipped}); pass --weights FILE from `flowkit train`"
        )
    return load_model(path, expect_model=name, expect_scale=scale, map_location=map_location).eval()


def resolve_weights(spec: str | os.PathLike, scale: int) -> Path:
    """The weights file that ``spec`` names: an existing file, or a shipped model as
    ``"<name>-x<scale>"`` or plain ``"<name>"`` (at ``scale``).

    Raises:
        ModelFileError: ``spec`` is neither a file nor a shipped model's name.
    """
    path = Path(spec)
    if path.is_file():
        return path
    text = str(spec)
    name, _, rest = text.partition("-x")
    wanted = (name, int(rest)) if rest.isdigit() else (text, scale)
    if wanted in available():
        return weights_path(*wanted)
    shipped = ", ".join(f"{n}-x{s}" for n, s in available()) or "none"
    raise ModelFileError(f"{text}: no such weights file and no shipped model of that name (shipped: {shipped})")
