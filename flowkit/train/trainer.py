"""The training loop for any model with the rescaling interface.

Adam (fused on CUDA) with multi-step or cosine (warm-up) learning-rate decay, gradient clipping, optional AMP,
channels-last layout and EMA; a tqdm progress bar; TensorBoard scalars and images; a JSON-lines log; atomic
checkpoints with exact resume; non-finite steps skipped and counted; and
DistributedDataParallel when launched by ``torchrun`` (gloo on the CPU, nccl on GPUs).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from flowkit.device import resolve_device
from flowkit.models import MODELS, RescalingModel, build, config_for, model_class
from flowkit.models.io import load_model
from flowkit.models.pretrained import resolve_weights
from flowkit.precision import warn_if_emulated
from flowkit.train import distributed
from flowkit.train.checkpoint import (
    Checkpoint,
    CheckpointError,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    optimizer_state,
    save_checkpoint,
)
from flowkit.train.config import TrainConfig
from flowkit.train.cuda_graph import graphed_objective
from flowkit.train.data import PatchDataset, StepSampler, find_images, split_holdout
from flowkit.train.lock import LOCK_NAME, RunFolderBusy, RunLock
from flowkit.train.validation import load_validation_images, validate

__all__ = ["Trainer", "TrainingError"]


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss stayed non-finite); the message says why."""


class _Objective(nn.Module):
    """Wraps ``model.training_losses`` as ``forward`` so DistributedDataParallel can sync it."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, hr: Tensor, lr: Tensor) -> dict[str, Tensor]:
        return self.model.training_losses(hr, lr)


def _finite_weights(tensors: dict[str, Tensor]) -> bool:
    """Whether every floating-point model/EMA tensor is finite (optimizer and RNG state aside)."""
    return all(
        bool(torch.isfinite(t).all())
        for k, t in tensors.items()
        if t.is_floating_point() and not k.startswith(("optim.", "rng."))
    )


def _last_finite(directory: Path) -> str:
    """A sentence naming the newest checkpoint in ``directory`` whose weights are finite."""
    for path in list_checkpoints(directory):
        try:
            if _finite_weights(load_checkpoint(path).tensors):
                return f"the last checkpoint with finite weights is {path} (remove the newer ones to resume from it)"
        except CheckpointError:
            continue
    return f"no checkpoint in {directory} holds finite weights"


def continued_architecture(config: TrainConfig, out_dir: Path, *, resume: bool = False) -> dict[str, Any]:
    """``config.model_config`` with the fields of the network it leaves unset (FGRN's ``gd_blocks``, say; not the
    loss settings) taken from the weights the run continues: with ``init_weights``, the file's, or on ``resume``
    the run's newest checkpoint's (the network it was built as, even if a shipped name now holds another file).
    Fields the config sets are kept; :class:`Trainer` refuses them if they build another network than the file's."""
    if not config.init_weights:
        return dict(config.model_config)
    found = list_checkpoints(out_dir / "checkpoints") if resume else []
    if found:
        try:
            record = json.loads(found[0].read_text())["model_config"]
            theirs = model_class(config.model).config_class.from_dict(record, where=str(found[0]))
        except (OSError, ValueError, KeyError, TypeError):  # the resume itself reports a bad record
            return dict(config.model_config)
    else:
        path = resolve_weights(config.init_weights, config.scale)
        theirs = load_model(path, expect_model=config.model, expect_scale=config.scale).config
    network = {name: value for name, value in theirs.architecture().to_dict().items() if name != "scale"}
    return network | dict(config.model_config)  # architecture(): the loss settings at their defaults


def _config_of(model: RescalingModel, config: TrainConfig) -> TrainConfig:
    """``config`` with ``model``'s name, scale and config (unchanged when they already agree)."""
    if not isinstance(model, RescalingModel):
        raise TypeError(f"Trainer: model must be a RescalingModel, got {type(model).__name__}")
    if MODELS.get(model.name) is not type(model):
        raise ValueError(
            f"Trainer: {type(model).__name__} is not registered under its name {model.name!r}; "
            "decorate the class with flowkit.models.register so its checkpoints can be loaded"
        )
    same = (config.model, config.scale) == (model.name, model.scale)
    if same and config_for(config.model, config.scale, **config.model_config) == model.config:
        return config
    fields = {k: v for k, v in model.config.to_dict().items() if k != "scale"}
    return dataclasses.replace(config, model=model.name, scale=model.scale, model_config=fields)


#: What a run writes in its folder besides its lock file. A fresh run writes over these only in a folder that a run
#: made (one that holds the lock file), never in a folder of the user's that happens to hold such names.
RUN_FILES = ("config.json", "log.jsonl", "final_metrics.json", "checkpoints", "tensorboard")


def _check_fresh_folder(out_dir: Path) -> None:
    """``ValueError`` unless a fresh run may write in ``out_dir``: absent, a run's folder, or free of RUN_FILES."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ValueError(f"{out_dir}: is a file; a run folder must be a folder")
    if (out_dir / LOCK_NAME).exists():
        return
    found = [name for name in RUN_FILES if (out_dir / name).exists()]
    if found:
        raise ValueError(
            f"{out_dir}: holds {', '.join(found)} but is not a run folder (no {LOCK_NAME}); "
            "a run would write over them: choose another run folder"
        )


class Trainer:
    """Train a rescaling model as described by a :class:`TrainConfig`.

    Args:
        model: the model to train, any registered :class:`~flowkit.models.RescalingModel`
            (its name, scale and config replace ``config``'s ``model``, ``scale`` and
            ``model_config``, so checkpoints record the model trained).
            :meth:`from_config` builds it from ``config`` instead.
        config: the run's configuration.
        out_dir: run folder: ``checkpoints/``, ``log.jsonl``, ``tensorboard/``, ``config.json``,
            ``train.lock``. A fresh run (not ``resume``) refuses with ``ValueError`` a folder that holds
            any of those names but no ``train.lock`` (a folder of the user's, not a run's), and a file.
        resume: continue from the newest checkpoint in ``out_dir`` (exactly: on the CPU
            the losses after resuming equal those of an uninterrupted run).
        progress: show a tqdm progress bar.
        tensorboard: write TensorBoard events (needs the ``tensorboard`` package).

    :meth:`run` repeats :meth:`train_step` on the run's batches and, as the config says,
    :meth:`log`, :meth:`validate` and :meth:`save_checkpoint`. Under ``torchrun`` each
    process trains its share of every batch (:mod:`flowkit.train.distributed`).

    From construction until :meth:`run` ends (or :meth:`close`) the trainer (its first
    process under ``torchrun``) holds the run folder's lock (:mod:`flowkit.train.lock`): a
    second trainer on the same folder, in this process or another, raises
    :class:`~flowkit.train.lock.RunFolderBusy` before reading or writing anything there.

    Example::

        from flowkit.models import FGRN
        config = TrainConfig(iterations=2000, train_dirs=["data/train"])
        Trainer(FGRN(scale=2), config, "runs/x2").run()
    """

    def __init__(
        self,
        model: RescalingModel,
        config: TrainConfig,
        out_dir: str | os.PathLike,
        *,
        resume: bool = False,
        progress: bool = True,
        tensorboard: bool = True,
    ) -> None:
        self.config = _config_of(model, config)
        self.out_dir = Path(out_dir)
        self.rank, self.world = distributed.setup(self.config.device)
        self.main = self.rank == 0
        if self.main and not resume:
            _check_fresh_folder(self.out_dir)
        # a folder that exists is locked before anything reads it (a resume), a new one once it is made
        self._lock: RunLock | None = RunLock(self.out_dir) if self.main and self.out_dir.is_dir() else None
        try:
            self._setup(model, resume=resume, progress=progress, tensorboard=tensorboard)
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise

    def _setup(self, model: RescalingModel, *, resume: bool, progress: bool, tensorboard: bool) -> None:
        c = self.config
        self.device = self._device()
        if c.cuda_graph and (self.device.type != "cuda" or self.world > 1):
            raise ValueError("cuda_graph needs a CUDA device and a single process")
        if self.device.type == "cuda":
            torch.backends.cudnn.allow_tf32 = c.tf32
        if c.amp:
            warn_if_emulated(self.device, "amp")
        if not c.train_dirs:
            raise ValueError("no training data: set train_dirs (e.g. --train-dir DIR)")

        self.model = model
        if c.init_weights and not resume:
            self._init_weights(c.init_weights)
        self._freeze(c.freeze)
        self.model.to(self.device, memory_format=c.memory_format)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ValueError(f"model {c.model!r} has no parameters to train")
        # fused: one kernel for all parameters' updates on CUDA
        self.optimizer = torch.optim.Adam(
            params, lr=c.lr, betas=c.betas, weight_decay=c.weight_decay, fused=self.device.type == "cuda"
        )
        if c.lr_schedule == "cosine":
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, c.lr_factor)
        else:
            self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, c.milestones(), gamma=c.lr_gamma)
        self.ema = None
        if c.ema_decay:
            self.ema = torch.optim.swa_utils.AveragedModel(
                self.model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(c.ema_decay)
            )

        files, val_files = split_holdout(find_images(c.train_dirs), c.val_holdout)
        self.val_images = load_validation_images(val_files, c.scale) if self.main else []
        self.step = 0
        self.nonfinite_total = 0
        self._consecutive_bad = 0
        self.best_val = -math.inf
        self.seconds_before = 0.0  # training time of earlier processes of this run (resumed)
        self._started = time.perf_counter()
        if resume:
            self._resume()
        self.dataset = PatchDataset(
            files, c.patch_size, c.scale, c.seed, c.iterations * c.batch_size, by_area=c.sample_by_area
        )
        if c.data_on_device:
            self.dataset.to(self.device)
        self.objective: Callable[[Tensor, Tensor], dict[str, Tensor]] = _Objective(self.model)
        if c.compile:
            self.objective = torch.compile(self.objective)
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.objective = nn.parallel.DistributedDataParallel(self.objective, device_ids=ids)
        self.log_path = self.out_dir / "log.jsonl"
        self.writer = None
        if self.main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            if self._lock is None:
                self._lock = RunLock(self.out_dir)
            (self.out_dir / "config.json").write_text(json.dumps(c.to_dict(), indent=1))
            self._truncate_log()
            if tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter
                except ImportError:  # pragma: no cover - tensorboard is optional
                    SummaryWriter = None
                if SummaryWriter is not None:
                    self.writer = SummaryWriter(str(self.out_dir / "tensorboard"), purge_step=self.step + 1)
        self.progress = progress and self.main

    @classmethod
    def from_config(cls, config: TrainConfig, out_dir: str | os.PathLike, **kwargs: Any) -> Trainer:
        """A trainer for the model ``config`` names (``model``, ``scale``, ``model_config``),
        initialised from ``config.seed``; ``kwargs`` as for the constructor. A run that continues
        weights (``init_weights``) builds the network they hold where ``model_config`` is silent
        (``continued_architecture``)."""
        model_config = continued_architecture(config, Path(out_dir), resume=kwargs.get("resume", False))
        torch.manual_seed(config.seed)
        return cls(build(config.model, config.scale, **model_config), config, out_dir, **kwargs)

    # ------------------------------------------------------------------ setup helpers
    def _device(self) -> torch.device:
        device = resolve_device(self.config.device, distributed.local_rank())
        if device.type == "cuda":
            torch.cuda.set_device(device)
        return device

    def _init_weights(self, spec: str) -> None:
        """Load the weights ``spec`` names into the freshly built model (see ``TrainConfig.init_weights``)."""
        c = self.config
        path = resolve_weights(spec, c.scale)
        loaded = load_model(path, expect_model=c.model, expect_scale=c.scale)
        theirs, ours = loaded.config.architecture().to_dict(), self.model.config.architecture().to_dict()
        differ = [name for name in ours if theirs[name] != ours[name]]
        if differ:
            fix = " ".join(f"--set model_config.{name}={json.dumps(theirs[name])}" for name in differ)
            raise ValueError(
                f"init_weights {path}: built as another network than this run's ("
                + ", ".join(f"{name} {theirs[name]!r}, this run {ours[name]!r}" for name in differ)
                + f"); to continue it, build the same: {fix}"
            )
        self.model.load_state_dict(loaded.state_dict())  # one network: the same tensors

    def _freeze(self, names: list[str]) -> None:
        """Take the parts ``names`` of the model out of training (see ``TrainConfig.freeze``)."""
        parts = dict(self.model.named_children())
        for name in names:
            if name not in parts:
                raise ValueError(
                    f"freeze: {self.config.model} has no part {name!r}; its parts: {', '.join(parts) or 'none'}"
                )
            parts[name].requires_grad_(False)

    def _resume(self) -> None:
        ckpt = latest_checkpoint(self.out_dir / "checkpoints")
        if ckpt is None:
            raise ValueError(f"--resume: no checkpoint in {self.out_dir / 'checkpoints'}")
        if ckpt.info["model"] != self.config.model or self._saved_config(ckpt) != self.model.config:
            raise ValueError(f"{ckpt.path}: checkpoint is for a different model configuration than this run")
        if ckpt.info.get("weights_only"):
            raise ValueError(f"{ckpt.path}: holds weights only (no optimizer state) and cannot be resumed")
        frozen = ckpt.info["train_config"].get("freeze", [])
        if sorted(frozen) != sorted(self.config.freeze):
            raise ValueError(
                f"{ckpt.path}: was trained with freeze={frozen}, and this run has freeze={self.config.freeze}: "
                "resume with the same parts frozen"
            )
        if ckpt.step >= self.config.iterations:
            raise ValueError(
                f"--resume: {ckpt.path} is at step {ckpt.step}, and this run has iterations="
                f"{self.config.iterations}: nothing to train; raise iterations to go on"
            )
        if not _finite_weights(ckpt.tensors):
            raise ValueError(
                f"{ckpt.path}: holds non-finite weights and cannot be resumed; "
                + _last_finite(self.out_dir / "checkpoints")
            )
        self.model.load_state_dict(ckpt.prefixed("model."))
        self.optimizer.load_state_dict(optimizer_state(ckpt))
        self.scheduler.load_state_dict(ckpt.info["scheduler"])
        if self.ema is not None:
            ema_state = ckpt.prefixed("ema.")
            if not ema_state:
                raise ValueError(f"{ckpt.path}: has no EMA weights but this run uses ema_decay")
            self.ema.load_state_dict(ema_state)
        torch.set_rng_state(ckpt.tensors["rng.torch"])
        if torch.cuda.is_available():
            states = [ckpt.tensors[k] for k in sorted(ckpt.tensors) if k.startswith("rng.cuda.")]
            if states:
                torch.cuda.set_rng_state_all(states)
        self.step = ckpt.step
        self.nonfinite_total = int(ckpt.info.get("nonfinite_total", 0))
        self.best_val = float(ckpt.info.get("best_val_psnr", -math.inf))
        self.seconds_before = float(ckpt.info.get("train_seconds", 0.0))

    def _saved_config(self, ckpt: Checkpoint) -> Any:
        """The checkpoint's model config with today's defaults for fields added since it was
        written (so adding a config field never breaks resuming an older run)."""
        try:
            return type(self.model.config).from_dict(ckpt.info["model_config"], where=str(ckpt.path))
        except ValueError:
            return None

    def _truncate_log(self) -> None:
        """On resume, drop log lines past the checkpoint (written by the interrupted run),
        and a last line cut off by a crash mid-write."""
        if not self.log_path.exists():
            return
        lines = [line for line in self.log_path.read_text().splitlines() if line.strip()]
        keep = []
        for number, line in enumerate(lines, 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                if number == len(lines):  # an incomplete last record
                    break
                raise ValueError(f"{self.log_path}: line {number} is not valid JSON; remove or fix it") from None
            if record.get("step", 0) <= self.step:
                keep.append(line)
        self.log_path.write_text("".join(f"{line}\n" for line in keep))

    # ------------------------------------------------------------------ the loop
    def _batches(self) -> Iterator[tuple[Tensor, Tensor]]:
        """This process's ``(hr, lr)`` batches from the current step on, on the training device."""
        c = self.config
        sampler = StepSampler(self.step, c.iterations, c.batch_size, self.rank, self.world)
        per = c.batch_size // self.world
        if c.data_on_device:
            indices = list(sampler)
            for i in range(0, len(indices), per):
                yield self.dataset.batch(indices[i : i + per])
            return
        loader = DataLoader(
            self.dataset,
            batch_size=per,
            sampler=sampler,
            num_workers=c.workers,
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator().manual_seed(c.seed),
            persistent_workers=False,
        )
        for hr, lr in loader:
            yield hr.to(self.device, non_blocking=True), lr.to(self.device, non_blocking=True)

    def _mean_over_ranks(self, losses: dict[str, Tensor]) -> dict[str, float]:
        """The loss terms averaged over all processes (each process saw part of the batch)."""
        names = sorted(losses)
        vec = torch.stack([losses[k].detach().float().reshape(()) for k in names]).to(self.device)
        return dict(zip(names, distributed.mean(vec, self.world).tolist(), strict=True))

    def _all_finite(self, value: Tensor) -> bool:
        ok = torch.isfinite(value.detach()).all().to(torch.int32).reshape(1).to(self.device)
        return distributed.all_true(ok, self.world)

    # ------------------------------------------------------------------ the parts of a run
    def train_step(self, hr: Tensor, lr: Tensor) -> tuple[dict[str, Tensor], Tensor | None]:
        """One optimiser step on a batch (this process's share): the losses, backward,
        gradient clipping, Adam, EMA and the schedule; ``step`` advances by one.

        When the loss or the gradient norm is non-finite in any process the update is
        skipped (the step and its batch still count, so data and learning rate stay on
        schedule) and counted in ``nonfinite_total``.

        Returns:
            The loss terms, and the gradient norm before clipping (None when skipped).

        Raises:
            TrainingError: ``max_nonfinite`` consecutive steps were skipped.
        """
        c = self.config
        hr, lr = hr.contiguous(memory_format=c.memory_format), lr.contiguous(memory_format=c.memory_format)
        with c.loss_precision(self.model, self.device.type):
            if c.cuda_graph and isinstance(self.objective, _Objective):  # first batch: capture (under autocast)
                self.objective = graphed_objective(self.model, hr, lr)
            losses = self.objective(hr, lr)
        total = losses["total"]
        self.optimizer.zero_grad(set_to_none=True)
        norm = None
        ok = self._all_finite(total)
        if ok:
            total.backward()
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip or math.inf)
            ok = self._all_finite(norm)
        if ok:
            self._consecutive_bad = 0
            self.optimizer.step()
            if self.ema is not None:
                self.ema.update_parameters(self.model)
        else:
            self.optimizer.zero_grad(set_to_none=True)
            norm = None
            self.nonfinite_total += 1
            self._consecutive_bad += 1
            if self.main:
                tqdm.write(
                    f"step {self.step + 1}: non-finite loss or gradient, update skipped "
                    f"({self._consecutive_bad} in a row, {self.nonfinite_total} in total)"
                )
            if self._consecutive_bad >= c.max_nonfinite:
                raise TrainingError(
                    f"loss or gradient non-finite for {self._consecutive_bad} consecutive steps at step "
                    f"{self.step + 1}; stopping. The last checkpoint holds only finite weights."
                )
        self.scheduler.step()
        self.step += 1
        return losses, norm

    def log(self, record: dict[str, Any]) -> None:
        """Append ``record`` to ``log.jsonl`` (non-finite floats as null) and to TensorBoard."""
        record = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        with open(self.log_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for k, v in record.items():
                if k != "step" and isinstance(v, (int, float)) and math.isfinite(v):
                    tag = f"val/{k[4:]}" if k.startswith("val_") else f"train/{k}"
                    self.writer.add_scalar(tag, v, record["step"])

    def validate(self) -> dict[str, float]:
        """``val_psnr`` and ``val_lr_psnr_rgb`` on the held-out images, with the EMA weights
        when the run keeps them (sample images go to TensorBoard)."""
        model = self.ema.module if self.ema is not None else self.model
        result = validate(model, self.val_images, self.device)
        if self.writer is not None:
            for i, (hr, lr, sr) in enumerate(result["samples"][: self.config.sample_images]):
                self.writer.add_image(f"val/{i}/hr", hr, self.step)
                self.writer.add_image(f"val/{i}/lr", lr, self.step)
                self.writer.add_image(f"val/{i}/sr", sr, self.step)
        return {"val_psnr": result["psnr"], "val_lr_psnr_rgb": result["lr_psnr_rgb"]}

    def save_checkpoint(self, metrics: dict[str, Any]) -> Path:
        """Write the checkpoint of the current step (:func:`flowkit.train.save_checkpoint`).

        Raises:
            TrainingError: the weights are non-finite (never saved, so they cannot push
                good checkpoints out).
        """
        if not _finite_weights(self.model.state_dict()):
            raise TrainingError(
                f"step {self.step}: the weights are non-finite; not saved. "
                + _last_finite(self.out_dir / "checkpoints")
            )
        return save_checkpoint(
            self.out_dir / "checkpoints",
            self.step,
            model=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            train_config=self.config.to_dict(),
            ema=self.ema,
            extra={
                "nonfinite_total": self.nonfinite_total,
                "best_val_psnr": self.best_val,
                "metrics": metrics,
                "train_seconds": self.seconds_before + time.perf_counter() - self._started,
                "machine": self._machine(),
            },
            keep_last=self.config.keep_last,
        )

    def _due(self, every: int) -> bool:
        return bool(every) and (self.step % every == 0 or self.step == self.config.iterations)

    def run(self) -> dict[str, Any]:
        """Train until ``config.iterations``: :meth:`train_step` on every batch, and every
        ``log_every`` steps a :meth:`log` record (every ``val_every`` with :meth:`validate`),
        every ``checkpoint_every`` steps :meth:`save_checkpoint`; returns the final metrics.
        The run folder's lock is held while it runs (taken again if it was given back) and
        given back when it returns or raises.

        Raises:
            RunFolderBusy: another trainer holds the run folder, or has written a newer
                checkpoint there since this one last held it.
            TrainingError: ``max_nonfinite`` consecutive non-finite steps.
            KeyboardInterrupt: after saving a checkpoint of the last completed step.
        """
        if self.main and (self._lock is None or not self._lock.held):
            self._lock = RunLock(self.out_dir)
            newest = latest_checkpoint(self.out_dir / "checkpoints")
            if newest is not None and newest.step > self.step:
                self._lock.release()
                raise RunFolderBusy(
                    f"{self.out_dir} has moved on while this trainer was idle (checkpoint of step {newest.step}, "
                    f"this trainer at step {self.step}): resume a new trainer from it"
                )
        try:
            return self._run()
        finally:
            if self._lock is not None:
                self._lock.release()

    def _run(self) -> dict[str, Any]:
        c = self.config
        bar = tqdm(
            total=c.iterations,
            initial=self.step,
            disable=not self.progress,
            unit="it",
            dynamic_ncols=True,
            desc=f"{c.model} x{c.scale}",
        )
        metrics: dict[str, Any] = {}
        start, start_step = time.perf_counter(), self.step
        self._started = start
        self.model.train()
        try:
            for hr, lr in self._batches():
                losses, norm = self.train_step(hr, lr)
                bar.update(1)
                log_due = self._due(c.log_every)
                values = self._mean_over_ranks(losses) if log_due else {"total": float(losses["total"].detach())}
                bar.set_postfix(loss=f"{values['total']:.4g}")
                if self.main and log_due:
                    record = {
                        "step": self.step,
                        "lr": self.optimizer.param_groups[0]["lr"],
                        **values,
                        "grad_norm": None if norm is None else float(norm),
                        "it_per_s": (self.step - start_step) / max(time.perf_counter() - start, 1e-9),
                        "nonfinite_total": self.nonfinite_total,
                    }
                    if self._due(c.val_every) and self.val_images:
                        record.update(self.validate())
                        self.best_val = max(self.best_val, record["val_psnr"])
                    self.log(record)
                    metrics = record
                if self.main and self._due(c.checkpoint_every):
                    self.save_checkpoint(metrics)
        except KeyboardInterrupt:
            if self.main and self.step > start_step:
                path = self.save_checkpoint(metrics)
                bar.write(f"interrupted: checkpoint of step {self.step} saved to {path}")
            raise
        finally:
            bar.close()
            if self.writer is not None:
                self.writer.flush()
        metrics["ranks_max_abs_diff"] = distributed.max_parameter_gap(self.model, self.world)
        metrics["nonfinite_total"] = self.nonfinite_total
        if self.main:
            (self.out_dir / "final_metrics.json").write_text(json.dumps(metrics, indent=1))
        return metrics

    def _machine(self) -> dict[str, Any]:
        """Where this run trains, for budget records: CPU count, threads, the GPU's name."""
        info: dict[str, Any] = {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "world_size": self.world,
        }
        if self.device.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(self.device)
        return info

    def close(self) -> None:
        """Release the TensorBoard writer, the run folder's lock and the process group."""
        if self.writer is not None:
            self.writer.close()
        if self._lock is not None:
            self._lock.release()
        distributed.teardown(self.world)
