"""Device choice: one rule for the command line and the trainer."""

from __future__ import annotations

from typing import Literal, get_args

import torch

__all__ = ["Device", "DEVICES", "resolve_device"]

#: What a user may ask for.
Device = Literal["auto", "cpu", "cuda"]
DEVICES: tuple[str, ...] = get_args(Device)


def resolve_device(name: Device, index: int = 0) -> torch.device:
    """``"auto"`` (CUDA when available, else the CPU), ``"cpu"`` or ``"cuda"`` (device ``index``).

    Raises:
        ValueError: an unknown name, or ``"cuda"`` without CUDA.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if name not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {name!r}")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available")
    return torch.device("cuda", index)
