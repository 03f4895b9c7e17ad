"""Device choice: one rule for the command line and the trainer."""

from __future__ import annotations

import torch

__all__ = ["DEVICES", "resolve_device"]

#: What a user may ask for.
DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str, index: int = 0) -> torch.device:
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
