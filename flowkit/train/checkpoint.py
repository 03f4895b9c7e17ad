"""Training checkpoints that survive a kill at any moment.

A checkpoint of step ``N`` is two files in the run's ``checkpoints/`` folder:

* ``step-0000000N.safetensors``: every tensor — ``model.*`` (weights), ``ema.*``
  (averaged weights, if any), ``optim.<param>.<name>`` (Adam moments),
  ``rng.torch`` / ``rng.cuda.<i>`` (generator states) — with the model name, config,
  a SHA-256 of the tensors and the prefix of the weights to evaluate (the averaged ones
  when kept: :data:`flowkit.models.io.WEIGHTS_PREFIX`) in its header, so it also loads as a
  weights file;
* ``step-0000000N.json``: step, model and training configs, optimizer hyper-parameters,
  scheduler state, counters, metrics, and the tensors' SHA-256.

Each file is written under a temporary name, flushed to disk and renamed; the JSON
goes last and is the commit marker. A crash leaves either the complete new
checkpoint or none of it (stray ``.tmp`` files are ignored and cleaned), and the
previous checkpoint is untouched. Only then are checkpoints beyond ``keep_last``
deleted.
"""

from __future__ import annotations

import collections
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from flowkit.atomic import atomic_write, remove_stale_temp_files
from flowkit.models.base import RescalingModel
from flowkit.models.io import WEIGHTS_PREFIX, atomic_save_safetensors, cast_floating, tensor_digest, weights_prefix

__all__ = [
    "CheckpointError",
    "Checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_stem",
    "list_checkpoints",
    "latest_checkpoint",
    "optimizer_state",
    "strip_checkpoint",
]

FORMAT = "flowkit-checkpoint-1"
_NAME = re.compile(r"step-(\d{8})\.json")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupted or belongs to another run; the message says which."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: the JSON record and the tensors."""

    path: Path
    info: dict[str, Any]
    tensors: dict[str, Tensor]

    @property
    def step(self) -> int:
        return int(self.info["step"])

    def prefixed(self, prefix: str) -> dict[str, Tensor]:
        return {k[len(prefix) :]: v for k, v in self.tensors.items() if k.startswith(prefix)}


def _encode(obj: Any) -> Any:
    """Make scheduler/optimizer state JSON-safe (Counters, tuples, tensors of one number)."""
    if isinstance(obj, collections.Counter):
        return {"__counter__": [[k, v] for k, v in obj.items()]}
    if isinstance(obj, dict):
        return {str(k): _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    if isinstance(obj, Tensor):
        return obj.item()
    return obj


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__counter__"}:
            return collections.Counter({k: v for k, v in obj["__counter__"]})
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def checkpoint_stem(step: int) -> str:
    """The file name, without suffix, of the checkpoint of ``step``: ``step-0000000N``."""
    return f"step-{step:08d}"


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """Committed checkpoint records (``step-*.json``) in ``directory``, newest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m[1]), p) for p in directory.iterdir() if (m := _NAME.fullmatch(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def _commit(directory: Path, stem: str, tensors: dict[str, Tensor], meta: dict[str, str], info: dict) -> None:
    """Write ``<stem>.safetensors`` then its record ``<stem>.json`` (the commit marker), each
    atomically, and make the renames durable."""
    atomic_save_safetensors(tensors, directory / f"{stem}.safetensors", meta)
    record = json.dumps(info, indent=1, sort_keys=True).encode()
    atomic_write(directory / f"{stem}.json", lambda f: f.write(record))
    _fsync_dir(directory)


def save_checkpoint(
    directory: str | os.PathLike,
    step: int,
    *,
    model: RescalingModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    train_config: dict[str, Any],
    ema: torch.nn.Module | None = None,
    extra: dict[str, Any] | None = None,
    keep_last: int = 3,
) -> Path:
    """Write the checkpoint of ``step`` atomically and prune old ones; returns the JSON path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, Tensor] = {f"model.{k}": v for k, v in model.state_dict().items()}
    if ema is not None:
        tensors.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
    opt_state = optimizer.state_dict()
    for idx, state in opt_state["state"].items():
        for name, value in state.items():
            tensors[f"optim.{idx}.{name}"] = value if isinstance(value, Tensor) else torch.tensor(value)
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    digest = tensor_digest(tensors)
    stem = checkpoint_stem(step)
    info = {
        "format": FORMAT,
        "step": step,
        "model": model.name,
        "model_config": model.config.to_dict(),
        "train_config": train_config,
        "optimizer": {
            "param_groups": _encode(opt_state["param_groups"]),
            "state_keys": {str(i): sorted(s) for i, s in opt_state["state"].items()},
        },
        "scheduler": _encode(scheduler.state_dict()),
        "weights": f"{stem}.safetensors",
        "sha256": digest,
        **(extra or {}),
    }
    meta = {
        "flowkit.format": FORMAT,
        "flowkit.model": model.name,
        "flowkit.config": model.config.to_json(),
        "flowkit.sha256": digest,
        "flowkit.step": str(step),
        WEIGHTS_PREFIX: "ema.module." if ema is not None else "model.",
    }
    _commit(directory, stem, tensors, meta, info)
    for old in list_checkpoints(directory)[keep_last:]:
        old.unlink(missing_ok=True)
        (directory / old.name.replace(".json", ".safetensors")).unlink(missing_ok=True)
    remove_stale_temp_files(directory)
    for orphan in directory.glob("step-*.safetensors"):  # weights whose record was never committed
        if not orphan.with_suffix(".json").exists():
            orphan.unlink(missing_ok=True)
    return directory / f"{stem}.json"


#: Fields every checkpoint record holds: (name, type, the type in words).
_RECORD_FIELDS = (
    ("step", int, "an integer"),
    ("model", str, "a string"),
    ("model_config", dict, "an object"),
    ("train_config", dict, "an object"),
    ("optimizer", dict, "an object"),
    ("weights", str, "a string"),
    ("sha256", str, "a string"),
    ("scheduler", dict, "an object"),
)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and verify one checkpoint (its ``.json``; the ``.safetensors`` beside it).

    Raises:
        CheckpointError: unreadable JSON, a record field missing or of the wrong type,
            missing weights, or a checksum mismatch.
    """
    from safetensors.torch import load_file

    path = Path(path)
    if path.suffix == ".safetensors":
        path = path.with_suffix(".json")
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: corrupted checkpoint record ({exc})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        found = info.get("format") if isinstance(info, dict) else type(info).__name__
        raise CheckpointError(f"{path}: not a flowkit checkpoint (format {found!r})")
    for key, kind, what in _RECORD_FIELDS:
        if key not in info:
            raise CheckpointError(f"{path}: checkpoint record has no field {key!r}")
        if not isinstance(info[key], kind) or isinstance(info[key], bool):
            raise CheckpointError(f"{path}: checkpoint record field {key!r} must be {what}")
    for key in ("param_groups", "state_keys"):
        if key not in info["optimizer"]:
            raise CheckpointError(f"{path}: checkpoint record has no field 'optimizer.{key}'")
    weights = path.parent / info["weights"]
    try:
        tensors = load_file(str(weights))
    except FileNotFoundError:
        raise CheckpointError(f"{weights}: missing (checkpoint {path.name} is incomplete)") from None
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{weights}: corrupted ({exc})") from None
    if tensor_digest(tensors) != info["sha256"]:
        raise CheckpointError(f"{weights}: checksum mismatch, the checkpoint is corrupted")
    info["scheduler"] = _decode(info["scheduler"])
    info["optimizer"]["param_groups"] = _decode(info["optimizer"]["param_groups"])
    return Checkpoint(path, info, tensors)


def latest_checkpoint(directory: str | os.PathLike) -> Checkpoint | None:
    """The newest checkpoint in ``directory``, verified; None if there is none.

    Raises:
        CheckpointError: the newest one is corrupted (naming the previous one, if any,
            so the user can remove the bad files and resume from it).
    """
    found = list_checkpoints(directory)
    if not found:
        return None
    try:
        return load_checkpoint(found[0])
    except CheckpointError as exc:
        hint = (
            f"; the previous checkpoint is {found[1].name} (remove {found[0].stem}.* to resume from it)"
            if len(found) > 1
            else ""
        )
        raise CheckpointError(f"{exc}{hint}") from None


def strip_checkpoint(
    path: str | os.PathLike,
    directory: str | os.PathLike,
    *,
    served_only: bool = False,
    dtype: torch.dtype | None = None,
) -> Path:
    """Copy checkpoint ``path`` into ``directory`` with its weights only (``model.*`` and
    ``ema.*``; no Adam moments or generator states): a third of the size, for moving a
    finished run off the machine that trained it. The copy keeps the record (step, configs,
    metrics) and verifies like any checkpoint, but is marked ``weights_only`` and cannot be
    resumed. ``served_only`` keeps only the weights :func:`flowkit.models.load_model` reads
    (the averaged ones when the run kept them); ``dtype`` stores the floating-point weights in
    that dtype (the record says which, as ``weights_dtype``). Returns the copy's JSON path.
    """
    ckpt = load_checkpoint(path)
    from safetensors import safe_open

    with safe_open(str(ckpt.path.with_suffix(".safetensors")), framework="pt") as f:  # model, config, step
        meta = f.metadata()
    keep = (weights_prefix(meta, ckpt.tensors),) if served_only else ("model.", "ema.")
    tensors = cast_floating({k: v for k, v in ckpt.tensors.items() if k.startswith(keep)}, dtype)
    digest = tensor_digest(tensors)
    stem = checkpoint_stem(ckpt.step)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    info = json.loads(ckpt.path.read_text()) | {"sha256": digest, "weights_only": True}
    if dtype is not None:
        info["weights_dtype"] = str(dtype).removeprefix("torch.")
    info["optimizer"]["state_keys"] = {}
    _commit(directory, stem, tensors, meta | {"flowkit.sha256": digest}, info)
    return directory / f"{stem}.json"


def optimizer_state(ckpt: Checkpoint) -> dict[str, Any]:
    """Rebuild ``optimizer.state_dict()`` from a checkpoint."""
    state: dict[int, dict[str, Tensor]] = {}
    for idx, names in ckpt.info["optimizer"]["state_keys"].items():
        state[int(idx)] = {name: ckpt.tensors[f"optim.{idx}.{name}"] for name in names}
    return {"state": state, "param_groups": ckpt.info["optimizer"]["param_groups"]}
