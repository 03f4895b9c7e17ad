"""The flow contract, log-determinant bookkeeping and composition.

Every invertible layer in flowkit subclasses :class:`Flow`, which is a
:class:`normflows.flows.Flow` (and so an :class:`torch.nn.Module`):

* ``forward(x) -> (y, logdet)`` with ``logdet = log|det dy/dx|``;
* ``inverse(y) -> (x, logdet)`` with ``logdet = log|det dx/dy|``;
* ``logdet`` has shape ``(B,)`` and the input's dtype and device.

This is the convention of :class:`normflows.NormalizingFlow`, which calls
``forward`` when sampling (latent to data) and ``inverse`` in ``log_prob``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence

import normflows as nf
from torch import Tensor, nn

__all__ = [
    "Inverse",
    "Flow",
    "InvertibleSequential",
    "sum_except_batch",
    "zero_logdet",
    "with_context",
    "layer_name",
    "spatial_size",
    "as_batch_logdet",
    "check_input",
]


def sum_except_batch(t: Tensor) -> Tensor:
    """Sum over every dimension but the first: ``(B, ...) -> (B,)`` (``(0,)`` for an empty batch).

    Example:
        >>> import torch
        >>> sum_except_batch(torch.ones(2, 3, 4, 4)).tolist()
        [48.0, 48.0]"""
    return t.sum(dim=tuple(range(1, t.dim()))) if t.dim() > 1 else t


def spatial_size(x: Tensor) -> int:
    """Number of positions per channel: the product of ``x.shape[2:]`` (1 for ``(B, C)``).

    Example:
        >>> import torch
        >>> spatial_size(torch.zeros(2, 3, 4, 5)), spatial_size(torch.zeros(2, 3))
        (20, 1)"""
    return math.prod(x.shape[2:])


def zero_logdet(x: Tensor) -> Tensor:
    """A zero log-determinant of shape ``(B,)`` on ``x``'s device and dtype.

    Example:
        >>> import torch
        >>> zero_logdet(torch.zeros(3, 2, dtype=torch.float64))
        tensor([0., 0., 0.], dtype=torch.float64)"""
    return x.new_zeros(x.shape[0])


def as_batch_logdet(logdet: Tensor | float, x: Tensor) -> Tensor:
    """Bring a log-determinant into flowkit's form: shape ``(B,)``, ``x``'s dtype and device.

    Foreign flows (normflows' own, user code) sometimes return a Python number,
    a 0-d tensor, or a float32 tensor for float64 input; this normalises them so
    that log-dets can be summed along a chain.

    Example:
        >>> import torch
        >>> as_batch_logdet(0.5, torch.zeros(2, 3, dtype=torch.float64))
        tensor([0.5000, 0.5000], dtype=torch.float64)
    """
    batch = x.shape[0]
    if not isinstance(logdet, Tensor):
        return x.new_full((batch,), float(logdet))
    logdet = logdet.to(device=x.device, dtype=x.dtype)
    if logdet.dim() == 0:
        return logdet.expand(batch)
    if logdet.shape != (batch,):
        raise ValueError(f"a flow returned a log-det of shape {tuple(logdet.shape)}; expected ({batch},)")
    return logdet


def check_input(
    layer: nn.Module,
    x: Tensor,
    *,
    channels: int | None = None,
    ndim: int | None = None,
    min_ndim: int = 2,
    multiple_of: int | None = None,
) -> None:
    """Raise one clear :class:`ValueError` naming ``layer`` if ``x`` does not fit it (the name
    is built only then: the check costs nothing on the normal path).

    Args:
        layer: the layer doing the check (its ``repr`` header names it).
        x: the input, ``(B, C, *spatial)``.
        channels: required size of dimension 1.
        ndim: required number of dimensions (e.g. 4 for ``(B, C, H, W)``).
        min_ndim: least number of dimensions when ``ndim`` is not given.
        multiple_of: every spatial size must be a multiple of this (strided layers).

    Example:
        >>> import torch
        >>> from flowkit import Squeeze
        >>> check_input(Squeeze(2), torch.zeros(1, 3, 5, 4), ndim=4, multiple_of=2)
        Traceback (most recent call last):
        ...
        ValueError: Squeeze(factor=2): spatial size 5 x 4 must be a positive multiple of 2 (shape (1, 3, 5, 4))
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer_name(layer)}: expected a torch.Tensor, got {type(x).__name__}")
    shape = tuple(x.shape)
    if ndim is not None and x.dim() != ndim:
        layout = "(B, C, H, W)" if ndim == 4 else f"{ndim}-D"
        raise ValueError(f"{layer_name(layer)}: expected a {layout} tensor, got shape {shape}")
    if x.dim() < min_ndim:
        raise ValueError(f"{layer_name(layer)}: expected at least {min_ndim} dimensions (B, C, ...), got shape {shape}")
    if not x.is_floating_point():
        raise TypeError(f"{layer_name(layer)}: expected a floating-point tensor, got {x.dtype}")
    if channels is not None and shape[1] != channels:
        raise ValueError(
            f"{layer_name(layer)}: expected {channels} channels in dimension 1, got {shape[1]} (shape {shape})"
        )
    if multiple_of is not None:
        spatial = shape[2:]
        if any(s % multiple_of for s in spatial) or any(s == 0 for s in spatial):
            sizes = " x ".join(str(s) for s in spatial)
            raise ValueError(
                f"{layer_name(layer)}: spatial size {sizes} must be a positive multiple of {multiple_of} "
                f"(shape {shape})"
            )


def with_context(context: Tensor | None) -> dict[str, Tensor]:
    """``{"context": context}``, or no keyword at all when there is none (so a normflows
    layer without a ``context`` argument can be called)."""
    return {} if context is None else {"context": context}


def layer_name(layer: nn.Module) -> str:
    """``Type(extra_repr)`` of a layer, as error messages name it (first line of the repr)."""
    extra = layer.extra_repr() if isinstance(layer, nn.Module) else ""
    extra = extra.splitlines()[0] if extra else ""
    return f"{type(layer).__name__}({extra})"


class Flow(nf.flows.Flow):
    """Base class of flowkit's invertible layers (a :class:`normflows.flows.Flow`).

    Subclasses implement ``forward(x) -> (y, logdet)`` and
    ``inverse(y) -> (x, logdet)``, each log-det of shape ``(B,)``; both may take a
    ``context`` keyword (the conditioning input that
    :class:`normflows.ConditionalNormalizingFlow` passes every layer). See
    ``docs/examples/custom_flow.py`` for a complete layer with its tests.

    Example:
        >>> import torch
        >>> class Double(Flow):
        ...     def forward(self, x):
        ...         return 2 * x, x.new_full((x.shape[0],), x[0].numel() * torch.log(torch.tensor(2.0)).item())
        ...     def inverse(self, y):
        ...         return y / 2, y.new_full((y.shape[0],), -y[0].numel() * torch.log(torch.tensor(2.0)).item())
        >>> y, logdet = Double()(torch.ones(1, 3))
        >>> y.tolist(), round(logdet.item(), 4)
        ([[2.0, 2.0, 2.0]], 2.0794)
    """

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:  # pragma: no cover
        """``x -> (y, logdet)``, ``logdet`` of shape ``(B,)``; ``context``: the conditioning
        input, for layers that take one (:mod:`flowkit.layers.coupling`), else ignored."""
        raise NotImplementedError

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:  # pragma: no cover
        """``y -> (x, logdet)``, ``logdet`` of shape ``(B,)`` (minus the forward's)."""
        raise NotImplementedError

    @property
    def inv(self) -> Flow:
        """This flow run backwards, as a flow sharing its parameters (:class:`Inverse`)."""
        return Inverse(self)


class Inverse(Flow):
    """A flow run backwards: ``forward`` is ``flow.inverse`` and ``inverse`` is ``flow.forward``.
    The parameters are ``flow``'s own (shared, not copied).

    Args:
        flow: any :class:`normflows.flows.Flow`.

    Example:
        >>> import torch, flowkit
        >>> squeeze = flowkit.Squeeze(2)
        >>> Inverse(squeeze)(torch.zeros(1, 12, 2, 3))[0].shape
        torch.Size([1, 3, 4, 6])
        >>> squeeze.inv.inv is squeeze
        True
    """

    def __init__(self, flow: nf.flows.Flow) -> None:
        super().__init__()
        if not isinstance(flow, nf.flows.Flow):
            raise TypeError(f"Inverse: expected a normflows.flows.Flow, got {type(flow).__name__}")
        self.flow = flow

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``flow.inverse(x)``."""
        return self.flow.inverse(x, **with_context(context))

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``flow.forward(y)``."""
        return self.flow.forward(y, **with_context(context))

    @property
    def inv(self) -> nf.flows.Flow:
        """The flow this one inverts."""
        return self.flow


class InvertibleSequential(Flow):
    r"""A chain of flows applied in order; log-dets add up.

    Forward applies ``flows[0]`` first; inverse runs the chain backwards:

    .. math::
        \log\left|\det \frac{\partial y}{\partial x}\right|
        = \sum_k \log\left|\det \frac{\partial f_k(l_{k-1})}{\partial l_{k-1}}\right|

    Any :class:`normflows.flows.Flow` may be a member, including normflows' own
    layers; their log-dets are brought to shape ``(B,)`` and the input's dtype.

    Args:
        *flows: the flows, in forward order.

    Example:
        >>> import torch, flowkit
        >>> f = flowkit.InvertibleSequential(flowkit.Squeeze(2), flowkit.AffineCoupling(12))
        >>> y, logdet = f(torch.randn(2, 3, 8, 8))
        >>> y.shape, logdet.shape
        (torch.Size([2, 12, 4, 4]), torch.Size([2]))
    """

    def __init__(self, *flows: nf.flows.Flow) -> None:
        super().__init__()
        if len(flows) == 1 and isinstance(flows[0], Sequence | Iterator) and not isinstance(flows[0], nn.Module):
            flows = tuple(flows[0])
        for i, f in enumerate(flows):
            if not isinstance(f, nf.flows.Flow):
                raise TypeError(f"InvertibleSequential: member {i} is a {type(f).__name__}, not a normflows.flows.Flow")
        self.flows = nn.ModuleList(flows)

    def __len__(self) -> int:
        return len(self.flows)

    def __getitem__(self, index: int | slice) -> nf.flows.Flow:
        """One member, or (for a slice) an :class:`InvertibleSequential` of those members."""
        if isinstance(index, slice):
            return InvertibleSequential(*self.flows[index])
        return self.flows[index]

    def __iter__(self) -> Iterator[nf.flows.Flow]:
        return iter(self.flows)

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Apply the flows in order: ``(B, ...) -> (y, logdet)``, ``logdet`` of shape ``(B,)``;
        ``context`` goes to every member."""
        y, logdet, _ = self._run(x, [f.forward for f in self.flows], context, keep=False)
        return y, logdet

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Apply the inverses in reverse order: ``(B, ...) -> (x, logdet)``."""
        x, logdet, _ = self._run(y, [f.inverse for f in reversed(self.flows)], context, keep=False)
        return x, logdet

    def forward_with_intermediates(
        self, x: Tensor, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        """:meth:`forward`, and the list ``[x, l_1, ..., l_K]`` of every flow's output (``l_K = y``)."""
        return self._run(x, [f.forward for f in self.flows], context, keep=True)

    def inverse_with_intermediates(
        self, y: Tensor, context: Tensor | None = None
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        """:meth:`inverse`, and the list ``[y, ..., x]`` of every inverse's output."""
        return self._run(y, [f.inverse for f in reversed(self.flows)], context, keep=True)

    @staticmethod
    def _run(
        x: Tensor, steps: Iterable[Callable[..., tuple[Tensor, Tensor]]], context: Tensor | None, keep: bool
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        logdet = zero_logdet(x)
        intermediates = [x]
        kwargs = with_context(context)
        for step in steps:
            out, ld = step(x, **kwargs)
            logdet = logdet + as_batch_logdet(ld, x)
            x = out
            if keep:
                intermediates.append(x)
        return x, logdet, intermediates
