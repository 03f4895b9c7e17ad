"""A model's training loss and its gradient replayed as CUDA graphs.

At the batch sizes of a small study (8 patches of 64²) a training step on a GPU is bound
by kernel launches, not arithmetic: IRN x4 issues about 10⁴ kernels per step. Capturing
the loss and its backward pass once (:func:`torch.cuda.make_graphed_callables`) and
replaying them removes that overhead; the optimiser step, gradient clipping and logging
stay eager. The captured step computes the same function: the parameters, the inputs
(copied into the graph's static buffers) and the random draws (the CUDA generator
advances on every replay) are live, only the kernel launches are recorded.

Requirements: a CUDA device, one process, and every batch of the same shape and memory
format. Under bfloat16 autocast the graph records the autocast kernels; autocast's cache of
cast weights must be off (``torch.autocast(..., cache_enabled=False)``), since a cached cast
made during capture would be a stale copy of the weights on every replay.

The Performance page of the docs gives the measured speed-up. PyTorch warns once per
process that an "AccumulateGrad node's stream does not match": the parameters' gradient
accumulators were created while capturing, on the capture stream. It costs a stream
synchronisation, not correctness (the graphed gradients equal the eager ones).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["graphed_objective"]


class _StackedLosses(nn.Module):
    """``model.training_losses`` as one tensor ``(len(names),)``: a graphed callable
    must return tensors, not a dict."""

    def __init__(self, model: nn.Module, names: list[str]) -> None:
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, hr: Tensor, lr: Tensor) -> Tensor:
        losses = self.model.training_losses(hr, lr)
        return torch.stack([losses[k].float().reshape(()) for k in self.names])


def graphed_objective(model: nn.Module, hr: Tensor, lr: Tensor) -> Callable[[Tensor, Tensor], dict[str, Tensor]]:
    """Capture ``model.training_losses`` on batches shaped like ``hr`` ``(B, 3, H, W)`` and
    ``lr`` ``(B, 3, H/s, W/s)``; returns a function of ``(hr, lr)`` giving the loss dict.

    The returned losses are views of the graph's output buffer: read them before the next
    call. ``backward()`` on ``losses["total"]`` replays the captured backward pass and
    accumulates into the parameters' ``.grad`` as usual. Capturing runs the loss three
    times (warm-up) without touching ``.grad``.

    Call it inside the autocast context the loss should run in (if any): the capture records
    that context's kernels, and every replay runs them.

    Raises:
        ValueError: not CUDA tensors, the model not in training mode, or autocast with its
            weight cache on.
    """
    if hr.device.type != "cuda" or lr.device.type != "cuda":
        raise ValueError(f"graphed_objective: CUDA graphs need CUDA tensors, got {hr.device} and {lr.device}")
    if not model.training:
        raise ValueError("graphed_objective: the model must be in training mode (model.train())")
    if torch.is_autocast_enabled("cuda") and torch.is_autocast_cache_enabled():
        raise ValueError(
            "graphed_objective: autocast's weight cache must be off (torch.autocast(..., cache_enabled=False))"
        )
    with torch.no_grad():
        names = sorted(model.training_losses(hr, lr))
    graphed = torch.cuda.make_graphed_callables(_StackedLosses(model, names), (hr, lr), allow_unused_input=True)

    def objective(hr: Tensor, lr: Tensor) -> dict[str, Tensor]:
        return dict(zip(names, graphed(hr, lr).unbind(), strict=True))

    return objective
