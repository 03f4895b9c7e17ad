"""Training: configs, data, checkpoints, validation and the trainer."""

from flowkit.train.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from flowkit.train.config import TrainConfig, list_bundled_configs, load_config
from flowkit.train.data import PatchDataset, find_images
from flowkit.train.lock import RunFolderBusy
from flowkit.train.trainer import Trainer, TrainingError

__all__ = [
    "TrainConfig",
    "load_config",
    "list_bundled_configs",
    "PatchDataset",
    "find_images",
    "Trainer",
    "TrainingError",
    "RunFolderBusy",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "latest_checkpoint",
    "list_checkpoints",
]
