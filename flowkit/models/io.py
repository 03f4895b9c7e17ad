"""Self-describing weight files: safetensors with the model name, config and a checksum.

A file written by :func:`~flowkit.models.save_model` carries in its header metadata the registry
name (``flowkit.model``), the JSON config (``flowkit.config``) and a SHA-256 of the
tensor data (``flowkit.sha256``), so :func:`~flowkit.models.load_model` can rebuild the right model,
refuse weights of another model or scale with a clear message, and detect corruption.
A file may hold more than one model's tensors (a training checkpoint also keeps its
optimiser state and averaged weights): its header's ``flowkit.weights_prefix``
(:data:`WEIGHTS_PREFIX`) then names the prefix of the tensors :func:`~flowkit.models.load_model` builds
the model from, and the checksum covers every tensor in the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from torch import Tensor

from flowkit.atomic import atomic_write
from flowkit.extras import missing_extra
from flowkit.models.base import RescalingModel

try:
    from safetensors import safe_open
    from safetensors.torch import save
except ModuleNotFoundError as exc:
    raise missing_extra("flowkit.models", "models", exc) from None

__all__ = [
    "ModelFileError",
    "WEIGHTS_PREFIX",
    "save_model",
    "load_model",
    "tensor_digest",
    "stored_tensors",
    "cast_floating",
    "atomic_save_safetensors",
    "weights_prefix",
]

#: Header field naming the prefix of the model's tensors in a file that holds more than them.
WEIGHTS_PREFIX = "flowkit.weights_prefix"


class ModelFileError(ValueError):
    """A weights file is missing, corrupted, or belongs to another model; the message says which."""


def tensor_digest(tensors: dict[str, Tensor]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of ``tensors`` (order-independent)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def cast_floating(tensors: dict[str, Tensor], dtype: torch.dtype | None) -> dict[str, Tensor]:
    """``tensors`` with the floating-point ones in ``dtype`` (None: as they are) and the others
    (integer buffers, counters) unchanged: how weights are stored in a narrower dtype."""
    if dtype is None:
        return dict(tensors)
    return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in tensors.items()}


def stored_tensors(model: RescalingModel, dtype: torch.dtype | None = None) -> dict[str, Tensor]:
    """``model``'s state dict as :func:`~flowkit.models.save_model` stores it (:func:`cast_floating`
    to ``dtype``); :func:`tensor_digest` of it is the file's digest."""
    return cast_floating(model.state_dict(), dtype)


def atomic_save_safetensors(tensors: dict[str, Tensor], path: Path, metadata: dict[str, str]) -> None:
    """Write a safetensors file atomically (see :func:`flowkit.atomic.atomic_write`)."""
    data = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, metadata=metadata)
    atomic_write(path, lambda f: f.write(data))


def save_model(
    model: RescalingModel,
    path: str | os.PathLike,
    extra: dict[str, str] | None = None,
    dtype: torch.dtype | None = None,
) -> str:
    """Write ``model``'s weights and config to ``path`` (safetensors); returns the digest.

    ``dtype`` (e.g. ``torch.float16``) stores the floating-point tensors in that type, half
    the bytes for 16-bit types; :func:`load_model` casts them back into the model's own
    (float32) parameters.

    Example:
        >>> import tempfile
        >>> from flowkit.models import build, load_model, save_model
        >>> model = build("irn", 2, blocks=1, growth=4)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = save_model(model, f"{d}/irn.safetensors")
        ...     again = load_model(f"{d}/irn.safetensors", expect_model="irn", expect_scale=2)
        >>> again.config == model.config
        True
    """
    tensors = stored_tensors(model, dtype)
    digest = tensor_digest(tensors)
    meta = {
        "flowkit.format": "flowkit-weights-1",
        "flowkit.model": model.name,
        "flowkit.config": model.config.to_json(),
        "flowkit.sha256": digest,
        **(extra or {}),
    }
    atomic_save_safetensors(tensors, Path(path), meta)
    return digest


def _read(path: Path) -> tuple[dict[str, str], dict[str, Tensor]]:
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such weights file") from None
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise ModelFileError(f"{path}: not a readable safetensors weights file ({exc})") from None
    return meta, tensors


def weights_prefix(meta: dict[str, str], tensors: dict[str, Tensor]) -> str:
    """The prefix of the tensors :func:`~flowkit.models.load_model` builds the model from, in a file with
    header ``meta``: the one :data:`WEIGHTS_PREFIX` names; in a file whose header names none,
    none for a weights file, and for a training checkpoint written before
    :data:`WEIGHTS_PREFIX` existed (format ``flowkit-checkpoint-1``), its averaged weights if
    it kept them, else its model's."""
    if meta.get(WEIGHTS_PREFIX):
        return meta[WEIGHTS_PREFIX]
    if meta.get("flowkit.format") != "flowkit-checkpoint-1":
        return ""
    return "ema.module." if any(k.startswith("ema.module.") for k in tensors) else "model."


def load_model(
    path: str | os.PathLike,
    expect_model: str | None = None,
    expect_scale: int | None = None,
    map_location: str | torch.device = "cpu",
) -> RescalingModel:
    """Rebuild the model stored in ``path`` (weights file or training checkpoint).

    Args:
        path: a ``.safetensors`` file written by :func:`save_model` or a training checkpoint.
        expect_model, expect_scale: refuse a file for another model or scale.
        map_location: device for the model.

    Raises:
        ModelFileError: missing or unreadable file, no flowkit metadata, checksum
            mismatch (corruption), a model/scale other than expected, a header config
            with a wrong field type, or one whose sizes (blocks, widths) disagree with the
            file's tensors — checked before the model is built.
    """
    from flowkit.models import model_class

    path = Path(path)
    meta, tensors = _read(path)
    name = meta.get("flowkit.model")
    if not name or "flowkit.config" not in meta:
        raise ModelFileError(f"{path}: no flowkit model metadata (not saved by flowkit?)")
    prefix = weights_prefix(meta, tensors)
    weights = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)} if prefix else tensors
    expected_digest = meta.get("flowkit.sha256")
    if expected_digest and tensor_digest(tensors) != expected_digest:
        raise ModelFileError(f"{path}: checksum mismatch, the file is corrupted")
    try:
        config = json.loads(meta["flowkit.config"])
    except json.JSONDecodeError:
        raise ModelFileError(f"{path}: header field flowkit.config is not valid JSON") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: header field flowkit.config must be a JSON object")
    if expect_model is not None and name != expect_model:
        raise ModelFileError(f"{path}: weights are for model {name!r}, not {expect_model!r}")
    if expect_scale is not None and config.get("scale") != expect_scale:
        raise ModelFileError(f"{path}: weights are for x{config.get('scale')}, not x{expect_scale}")
    try:
        cls = model_class(name)
        model_config = cls.config_class.from_dict(config, where=f"{path}: header flowkit.config")
    except ValueError as exc:
        raise ModelFileError(str(exc) if str(path) in str(exc) else f"{path}: {exc}") from None
    # sizes first, from names and shapes alone: a header asking for 20,000 blocks is refused at once
    layout = cls.layout(model_config, {k: tuple(v.shape) for k, v in weights.items()})
    wrong = [
        f"{field} {want} in the config, {got} in the tensors" for field, (want, got) in layout.items() if want != got
    ]
    if wrong:
        raise ModelFileError(f"{path}: its header config does not match its tensors ({'; '.join(wrong)})")
    try:
        model = cls(model_config)
        model.load_state_dict(weights)
    except (ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise ModelFileError(f"{path}: weights do not fit {name} ({first})") from None
    return model.to(map_location)
