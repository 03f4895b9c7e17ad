"""Training configuration: a dataclass, loaded from JSON files and overridden from the command line."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from contextlib import AbstractContextManager, nullcontext
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import torch
from torch import nn

from flowkit.device import DEVICES, Device
from flowkit.fields import Config, check_fields
from flowkit.models.base import check_scale
from flowkit.precision import subnets_in

__all__ = ["TrainConfig", "load_config", "parse_override", "list_bundled_configs"]


@dataclasses.dataclass
class TrainConfig(Config):
    """Everything about a training run; serialised into every checkpoint.

    Attributes:
        model: registry name (``"fgrn"`` or ``"irn"``).
        scale: 2 or 4.
        model_config: overrides of the model's config fields (e.g. ``{"gamma": 0.01}``).
        train_dirs: folders of HR training images.
        val_holdout: this many training images (the last ones by name) are held out
            and used only to measure validation PSNR.
        patch_size: HR patch side (a multiple of ``scale``).
        sample_by_area: pick training images in proportion to their area (patch
            positions) rather than equally often.
        batch_size: patches per step (over all processes).
        iterations: optimiser steps in the run.
        lr: Adam learning rate; ``betas``: Adam betas; ``weight_decay``: Adam's L2 term.
        lr_milestones: steps at which the learning rate is multiplied by ``lr_gamma``.
        lr_step: if > 0, add a milestone every ``lr_step`` steps (the paper's "halved
            every 2e5 iterations").
        lr_schedule: ``"step"`` (the milestones above) or ``"cosine"``: after
            ``warmup`` steps of linear warm-up from 0, a cosine decay from ``lr`` to 0
            at ``iterations`` (milestones ignored).
        warmup: warm-up steps of the cosine schedule.
        grad_clip: gradient-norm clip (None: off).
        amp: bfloat16 autocast in the loss's forward pass (the backward follows it),
            on CUDA and on the CPU; on the CPU it pays only where the processor has
            bfloat16 instructions (:func:`flowkit.precision.native_bfloat16`), and is
            slower elsewhere (about 2x with AVX-512 alone, many times with AVX2), where the
            trainer warns.
        amp_scope: what ``amp`` computes in bfloat16. ``"loss"``: the whole forward pass
            of the loss. ``"subnets"``: every subnetwork (the types in
            :data:`flowkit.precision.SUBNETS`, where nearly all the arithmetic is), while
            the invertible arithmetic around them (coupling updates, residual streams,
            Haar transforms, the quantiser) and the loss terms stay float32.
            ``"outer_subnets"``: only the subnetworks outside invertible layers (FGRN's
            downscaler and upscaler; none in IRN), as ``--dtype bfloat16`` inference
            does. The two subnet scopes use :func:`flowkit.precision.subnets_in` and
            are not for ``compile``.
        tf32: let cuDNN compute float32 convolutions in TF32 on CUDA (PyTorch's default;
            the trainer sets ``torch.backends.cudnn.allow_tf32`` for the process). False
            computes them in full float32 (23 mantissa bits instead of TF32's 10).
        channels_last: hold the model's weights and the training batches in the
            channels-last memory format (NHWC), which cuDNN's bfloat16 and TF32
            tensor-core convolutions prefer; the values computed are the same.
        cuda_graph: replay the loss and its gradient as CUDA graphs
            (:mod:`flowkit.train.cuda_graph`): for small batches, whose GPU steps are
            bound by kernel launches. CUDA only, one process. With ``amp`` the graph
            records the autocast kernels, with autocast's weight cache off (a graph
            must not keep tensors made during capture).
        compile: run the loss (forward and backward) through ``torch.compile`` (inductor;
            on the CPU it needs a C++ compiler). The first steps compile; results agree
            with eager execution to rounding. Not with ``cuda_graph``.
        ema_decay: keep an exponential moving average of the weights (None: off).
        init_weights: start from these weights instead of a random init: a shipped
            model's name (``"fgrn-x4"``, or ``"fgrn"`` for the run's scale) or a weights
            file. The optimiser and schedule start fresh. The run builds the network the file
            holds: the same model at the same scale; fields of the network ``model_config``
            leaves unset (widths, block counts) are the file's, and those it sets must
            agree with it (:meth:`~flowkit.models.ModelConfig.architecture`; ``gamma`` and
            the other loss weights are the run's). Resuming loads the run's own checkpoint
            instead, and keeps the network it was built as.
        freeze: names of the model's parts (its child modules, e.g. FGRN's ``"gd"``,
            ``"flow"`` and ``"gu"``) whose weights this run leaves as they are: they get
            no gradient and no optimiser state, and their EMA stays equal to them. With
            ``["gd", "flow"]`` and ``init_weights``, FGRN trains its upscaler alone: the LR
            images it makes stay those of the weights it started from.
        seed: seeds the model init, the data order and every random draw.
        workers: DataLoader worker processes (unused with ``data_on_device``).
        data_on_device: keep the decoded training images (uint8) on the training device
            and cut each batch and its bicubic LR there, in the training process
            (:meth:`flowkit.train.PatchDataset.batch`), instead of in DataLoader
            workers: on a GPU the CPU then never limits the step rate. The samples are
            the same either way (bit for bit on the CPU).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        log_every, val_every, checkpoint_every: in steps (0 disables validation).
        keep_last: checkpoints kept on disk.
        max_nonfinite: consecutive non-finite steps after which training stops.
        sample_images: validation images logged to TensorBoard.
    """

    KIND: ClassVar[str] = "training config"

    model: str = "fgrn"
    scale: int = 2
    model_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    train_dirs: list[str] = dataclasses.field(default_factory=list)
    val_holdout: int = 0
    patch_size: int = 64
    sample_by_area: bool = False
    batch_size: int = 8
    iterations: int = 1000
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    lr_milestones: list[int] = dataclasses.field(default_factory=list)
    lr_step: int = 0
    lr_gamma: float = 0.5
    lr_schedule: Literal["step", "cosine"] = "step"
    warmup: int = 0
    grad_clip: float | None = 10.0
    amp: bool = False
    amp_scope: Literal["loss", "subnets", "outer_subnets"] = "loss"
    tf32: bool = True
    channels_last: bool = False
    cuda_graph: bool = False
    compile: bool = False
    ema_decay: float | None = None
    init_weights: str | None = None
    freeze: list[str] = dataclasses.field(default_factory=list)
    seed: int = 0
    workers: int = 2
    data_on_device: bool = False
    device: Device = "auto"
    log_every: int = 50
    val_every: int = 500
    checkpoint_every: int = 500
    keep_last: int = 3
    max_nonfinite: int = 10
    sample_images: int = 2

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        problems = []
        try:
            check_scale(self.scale, "TrainConfig")
        except ValueError as exc:
            problems.append(str(exc).removeprefix("TrainConfig: "))
        if self.patch_size % self.scale or self.patch_size < 4 * self.scale:
            problems.append(f"patch_size {self.patch_size} must be a multiple of the scale, at least {4 * self.scale}")
        for name in ("batch_size", "iterations", "keep_last", "max_nonfinite", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        if self.lr <= 0:
            problems.append("lr must be > 0")
        if self.lr_schedule not in ("step", "cosine"):
            problems.append(f"lr_schedule must be 'step' or 'cosine', got {self.lr_schedule!r}")
        if self.warmup < 0 or (self.warmup and self.lr_schedule != "cosine"):
            problems.append("warmup must be >= 0, and is for lr_schedule 'cosine' only")
        if self.device not in DEVICES:
            problems.append(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.amp and self.amp_scope != "loss" and self.compile:
            problems.append(f"amp_scope {self.amp_scope!r} swaps the subnetworks' forward each step: not with compile")
        if self.cuda_graph and self.compile:
            problems.append("cuda_graph and compile are two ways of doing one thing: choose one")
        if self.cuda_graph and self.device == "cpu":
            problems.append("cuda_graph needs device cuda")
        if problems:
            raise ValueError("TrainConfig: " + "; ".join(problems))

    def milestones(self) -> list[int]:
        """All learning-rate milestones: the explicit ones and every ``lr_step``."""
        steps = set(self.lr_milestones)
        if self.lr_step > 0:
            steps |= set(range(self.lr_step, self.iterations, self.lr_step))
        return sorted(steps)

    def lr_factor(self, step: int) -> float:
        """The cosine schedule's multiplier of ``lr`` at ``step`` (0-based, before the step)."""
        if step < self.warmup:
            return (step + 1) / self.warmup
        progress = (step - self.warmup) / max(1, self.iterations - self.warmup)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    @property
    def memory_format(self) -> torch.memory_format:
        """The layout of the model's weights and the batches (channels-last with ``channels_last``)."""
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def loss_precision(self, model: nn.Module, device_type: str) -> AbstractContextManager:
        """A fresh context for one forward pass of ``model``'s loss on ``device_type``: with
        ``amp``, bfloat16 autocast over the pass or over ``model``'s subnetworks, as
        ``amp_scope`` says, autocast's cache of cast weights off with ``cuda_graph``;
        without ``amp``, none."""
        if not self.amp:
            return nullcontext()
        cache = not self.cuda_graph
        if self.amp_scope == "loss":
            return torch.autocast(device_type, dtype=torch.bfloat16, cache_enabled=cache)
        return subnets_in(model, torch.bfloat16, flows=self.amp_scope == "subnets", cache_enabled=cache)

    @classmethod
    def check(cls, data: Any, where: str) -> None:
        """Every value fits its field, and ``model_config``'s values fit the config class of
        the model ``model`` names (when it is a known model)."""
        from flowkit.models import MODELS

        super().check(data, where)
        name = data.get("model", cls.model)
        if name in MODELS:
            check_fields(MODELS[name].config_class, data.get("model_config", {}), f"{where}: model_config")

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str | None = None) -> Self:
        """Build from a dict (see :meth:`check`); errors name ``where`` (default: "training
        config"), the field and the expected type."""
        return super().from_dict(data, where or "training config")


def list_bundled_configs() -> list[str]:
    """Names of the configs shipped in ``flowkit/train/configs``."""
    return sorted(
        p.name.removesuffix(".json")
        for p in resources.files("flowkit.train.configs").iterdir()
        if p.name.endswith(".json")
    )


def parse_override(text: str) -> tuple[str, Any]:
    """``"key=value"`` -> ``(key, value)``; the value is JSON when it parses (numbers,
    lists, null, booleans), else a string. ``model_config.gamma=0.01`` sets a model field."""
    if "=" not in text:
        raise ValueError(f"override {text!r} must look like key=value")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def load_config(name_or_path: str | os.PathLike | None, overrides: list[str] = ()) -> TrainConfig:
    """A bundled config by name (see :func:`list_bundled_configs`) or a JSON file, plus overrides.

    Raises:
        ValueError: unknown config name, unreadable file, unknown field or bad value.

    Example:
        >>> c = load_config("cpu-small-x2", ["iterations=10", "model_config.gamma=0.01"])
        >>> c.iterations, c.patch_size, c.model_config
        (10, 64, {'gamma': 0.01})
    """
    data: dict[str, Any] = {}
    if name_or_path:
        path = Path(name_or_path)
        if not path.suffix and str(name_or_path) in list_bundled_configs():
            text = resources.files("flowkit.train.configs").joinpath(f"{name_or_path}.json").read_text()
        elif path.is_file():
            text = path.read_text()
        else:
            raise ValueError(f"no config file {name_or_path!r}; bundled configs: {', '.join(list_bundled_configs())}")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{name_or_path}: not valid JSON ({exc})") from None
        if isinstance(data, dict):
            data.pop("_comment", None)
        TrainConfig.check(data, str(name_or_path))  # the file's own values, named as the file's
    for item in overrides:
        key, value = parse_override(item)
        if key.startswith("model_config."):
            models = data.setdefault("model_config", {})
            if not isinstance(models, dict):
                raise ValueError(f"--set {key}: model_config is not an object")
            models[key.split(".", 1)[1]] = value
        else:
            data[key] = value
        TrainConfig.check(data, f"--set {item}")
    return TrainConfig.from_dict(data)
