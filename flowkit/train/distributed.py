"""Data-parallel training across processes launched by ``torchrun``: the process group and
the reductions the trainer needs. Without ``torchrun`` (``WORLD_SIZE`` unset) everything
here is a no-op for one process.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import Tensor, nn

from flowkit.device import Device

__all__ = ["setup", "local_rank", "mean", "all_true", "max_parameter_gap", "teardown"]


def setup(device: Device = "auto") -> tuple[int, int]:
    """``(rank, world_size)`` of this process; joins the process group first when
    ``torchrun`` started several (NCCL when the run's ``device`` may use CUDA and CUDA is
    there, else gloo). Calling it again changes nothing."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() and device != "cpu" else "gloo")
    return int(os.environ.get("RANK", "0")), world


def local_rank() -> int:
    """This process's index on its machine (its GPU)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def mean(values: Tensor, world: int) -> Tensor:
    """``values`` averaged over the ``world`` processes (every process gets the mean)."""
    if world > 1:
        dist.all_reduce(values)
        values = values / world
    return values


def all_true(flag: Tensor, world: int) -> bool:
    """Whether ``flag`` (a 1-element int tensor on the process's device) is nonzero in every process."""
    if world > 1:
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def max_parameter_gap(model: nn.Module, world: int) -> float:
    """Largest parameter difference between rank 0 and any other rank (0 for one process)."""
    if world == 1:
        return 0.0
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    ref = flat.clone()
    dist.broadcast(ref, src=0)
    gap = (flat - ref).abs().max().reshape(1)
    dist.all_reduce(gap, op=dist.ReduceOp.MAX)
    return float(gap.item())


def teardown(world: int) -> None:
    """Leave the process group (when there is one)."""
    if world > 1 and dist.is_initialized():
        dist.destroy_process_group()
