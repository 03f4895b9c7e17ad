"""Public test kit: check any :class:`normflows.flows.Flow` for exactness.

Other projects import these helpers to test their own flows::

    from flowkit.testing import check_flow, perturb_parameters
    flow = perturb_parameters(MyFlow(4).double())
    check_flow(flow, torch.randn(2, 4, 3, 3, dtype=torch.float64))

Every ``check_*`` function raises :class:`FlowCheckError` (an ``AssertionError``,
so pytest reports it as a failure) with the measured error when a property does
not hold, and :class:`ValueError` when the input itself is unusable (NaN/Inf,
not a floating-point tensor). Default tolerances depend on the dtype:

============  ======================  ===================================
dtype         inverse (relative)      log-det vs autograd Jacobian
============  ======================  ===================================
float64       ``1e-10``               ``1e-8`` absolute + ``1e-8`` relative
float32       ``1e-5``                ``1e-3`` absolute + ``1e-4`` relative
============  ======================  ===================================

"Relative" for the inverse means ``max|x' - x| <= rtol * max(1, max|x|)``.

The hypothesis strategies (:func:`image_shapes`, :func:`tensors`) need the
``hypothesis`` package (``pip install 'flowkit-flows[test]'``); the checks do not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import normflows as nf
import torch
from torch import Tensor, nn

from flowkit.core import as_batch_logdet, with_context

__all__ = [
    "FlowCheckError",
    "check_invertible",
    "check_logdet",
    "check_logdet_cancels",
    "check_shapes_dtypes",
    "check_gradients",
    "check_flow",
    "perturb_parameters",
    "image_shapes",
    "tensors",
]

#: Inputs larger than this (elements in the whole batch) are refused by :func:`check_logdet`.
MAX_JACOBIAN_SIZE = 4096

_INVERSE_RTOL = {torch.float64: 1e-10, torch.float32: 1e-5}
_LOGDET_TOL = {torch.float64: (1e-8, 1e-8), torch.float32: (1e-3, 1e-4)}


class FlowCheckError(AssertionError):
    """A flow failed a property check; the message gives the measured error."""


def _validate(name: str, x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor input, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name}: input must be a floating-point tensor, got {x.dtype}")
    if x.dim() < 1 or x.shape[0] < 1:
        raise ValueError(f"{name}: input needs a non-empty batch dimension, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: input contains NaN or Inf; the checks need finite inputs")


def _flow_name(flow: nn.Module) -> str:
    return type(flow).__name__


def _finite_or_fail(name: str, flow: nn.Module, what: str, t: Tensor) -> None:
    if not torch.isfinite(t).all():
        bad = (~torch.isfinite(t)).sum().item()
        raise FlowCheckError(f"{name}({_flow_name(flow)}): {what} has {bad} non-finite values")


def _run(flow: nf.flows.Flow, method: str, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
    out, logdet = getattr(flow, method)(x, **with_context(context))
    return out, as_batch_logdet(logdet, x)


def _output_point(flow: nf.flows.Flow, x: Tensor, context: Tensor | None = None) -> Tensor:
    """A point where ``inverse`` is evaluated: ``x`` itself when ``forward`` keeps the
    shape (so both directions are tested away from each other's outputs), else ``forward(x)``."""
    with torch.no_grad():
        y, _ = flow.forward(x, **with_context(context))
    return x if y.shape == x.shape else y.detach()


def check_invertible(
    flow: nf.flows.Flow, x: Tensor, *, rtol: float | None = None, context: Tensor | None = None
) -> float:
    """Check ``inverse(forward(x)) == x`` and ``forward(inverse(y)) == y``.

    ``y`` is ``x`` itself for shape-keeping flows and ``forward(x)`` otherwise.

    Args:
        flow: the flow under test.
        x: an input in the flow's domain, ``(B, ...)``.
        rtol: tolerance relative to ``max(1, max|x|)`` (default by dtype, see module doc).
        context: the conditioning input passed in both directions (conditioned layers).

    Returns:
        The larger of the two measured relative errors.

    Raises:
        FlowCheckError: when an error exceeds ``rtol`` or an output is not finite.
        ValueError: when ``x`` contains NaN/Inf or is not floating-point.

    Example:
        >>> import torch, flowkit
        >>> from flowkit.testing import check_invertible
        >>> check_invertible(flowkit.Squeeze(2), torch.randn(1, 3, 4, 4)) == 0.0
        True
    """
    _validate("check_invertible", x)
    rtol = _INVERSE_RTOL.get(x.dtype, 1e-3) if rtol is None else rtol
    worst = 0.0
    with torch.no_grad():
        for first, second, start in (
            ("forward", "inverse", x),
            ("inverse", "forward", _output_point(flow, x, context)),
        ):
            y, _ = _run(flow, first, start, context)
            _finite_or_fail("check_invertible", flow, f"{first}(x)", y)
            rec, _ = _run(flow, second, y, context)
            _finite_or_fail("check_invertible", flow, f"{second}({first}(x))", rec)
            if rec.shape != start.shape:
                raise FlowCheckError(
                    f"check_invertible({_flow_name(flow)}): {second}({first}(x)) has shape "
                    f"{tuple(rec.shape)}, expected {tuple(start.shape)}"
                )
            scale = max(1.0, start.abs().max().item())
            err = (rec - start).abs().max().item() / scale
            if err > rtol:
                raise FlowCheckError(
                    f"check_invertible({_flow_name(flow)}): {second}({first}(x)) differs from x by "
                    f"{err:.3e} (relative), tolerance {rtol:.1e}"
                )
            worst = max(worst, err)
    return worst


#: A batch map ``fn(x, context) -> y`` (a flow's output without its log-det).
BatchMap = Callable[[Tensor, Tensor | None], Tensor]


def _jacobian_logdets(
    fn: Callable[[Tensor, Tensor | None], Tensor], x: Tensor, context: Tensor | None = None
) -> Tensor:
    """Per-sample ``log|det|`` of the Jacobian of a batch map ``fn(x, context)``, each from a
    batch of one (with its own row of the context)."""
    logdets = []
    for i in range(x.shape[0]):
        xi = x[i : i + 1].detach()
        ci = None if context is None else context[i : i + 1]

        def flat(v: Tensor, xi: Tensor = xi, ci: Tensor | None = ci) -> Tensor:
            out = fn(v.view_as(xi), ci)
            if out.numel() != xi.numel():
                raise FlowCheckError(f"the map changes the number of elements: {xi.numel()} -> {out.numel()}")
            return out.reshape(-1)

        try:  # forward mode is several times faster for these square Jacobians
            jac = torch.func.jacfwd(flat)(xi.reshape(-1))
        except (RuntimeError, NotImplementedError):  # ops without forward-mode support (some custom flows)
            jac = torch.autograd.functional.jacobian(flat, xi.reshape(-1), vectorize=True)
        logdets.append(torch.linalg.slogdet(jac)[1])
    return torch.stack(logdets)


def _cross_sample_change(
    fn: Callable[[Tensor, Tensor | None], Tensor], x: Tensor, context: Tensor | None = None
) -> float:
    """Largest change of the other samples' outputs when one sample alone is changed (each in turn)."""
    worst = 0.0
    with torch.no_grad():
        y = fn(x, context)
        for j in range(x.shape[0] if x.shape[0] > 1 else 0):
            x2 = x.clone()
            x2[j] = x2[j] * 0.5 + 0.25
            others = [i for i in range(x.shape[0]) if i != j]
            worst = max(worst, (fn(x2, context)[others] - y[others]).abs().max().item())
    return worst


def check_logdet(
    flow: nf.flows.Flow,
    x: Tensor,
    *,
    atol: float | None = None,
    rtol: float | None = None,
    directions: tuple[str, ...] = ("forward", "inverse"),
    context: Tensor | None = None,
) -> Tensor:
    """Compare the flow's log-dets with ``log|det|`` of the autograd Jacobian.

    Each sample's dense Jacobian is built (from a batch of one), so ``x`` must be
    small (at most ``MAX_JACOBIAN_SIZE`` elements in the batch); use float64 for
    tight tolerances. Samples must not influence each other: changing the first
    sample must leave the others' outputs unchanged.

    Args:
        flow: the flow under test.
        x: small input, ``(B, ...)``; ``inverse`` is checked at ``x`` itself for
            shape-keeping flows, else at ``forward(x)``.
        atol, rtol: tolerances (default by dtype, see module doc).
        directions: which of ``"forward"``/``"inverse"`` to check.
        context: the conditioning input (each sample's Jacobian gets its own row).

    Returns:
        The reference log-dets of the first direction checked, shape ``(B,)``.

    Example:
        >>> import torch, flowkit
        >>> from flowkit.testing import check_logdet, perturb_parameters
        >>> layer = perturb_parameters(flowkit.AffineCoupling(2, subnet=flowkit.MLP).double())
        >>> check_logdet(layer, torch.randn(3, 2, dtype=torch.float64)).shape
        torch.Size([3])
    """
    _validate("check_logdet", x)
    if x.numel() > MAX_JACOBIAN_SIZE:
        raise ValueError(
            f"check_logdet: input has {x.numel()} elements; the dense Jacobian check needs at most "
            f"{MAX_JACOBIAN_SIZE} (use a smaller batch or spatial size)"
        )
    d_atol, d_rtol = _LOGDET_TOL.get(x.dtype, (1e-2, 1e-3))
    atol = d_atol if atol is None else atol
    rtol = d_rtol if rtol is None else rtol
    first_ref = None
    for method in directions:
        point = x if method == "forward" else _output_point(flow, x, context)
        with torch.no_grad():
            _, claimed = _run(flow, method, point, context)

        def apply(v: Tensor, c: Tensor | None, m: str = method) -> Tensor:
            return getattr(flow, m)(v, **with_context(c))[0]

        cross = _cross_sample_change(apply, point, context)
        if cross > atol:
            raise FlowCheckError(
                f"check_logdet({_flow_name(flow)}.{method}): samples in a batch influence each other "
                f"(changing one sample moved another's output by {cross:.3e})"
            )
        reference = _jacobian_logdets(apply, point, context)
        _finite_or_fail("check_logdet", flow, f"{method} log-det", claimed)
        err = (claimed - reference).abs()
        bound = atol + rtol * reference.abs()
        if (err > bound).any():
            raise FlowCheckError(
                f"check_logdet({_flow_name(flow)}.{method}): log-det {claimed.tolist()} but autograd "
                f"Jacobian gives {reference.tolist()} (max error {err.max().item():.3e})"
            )
        first_ref = reference if first_ref is None else first_ref
    return first_ref


def check_logdet_cancels(
    flow: nf.flows.Flow, x: Tensor, *, atol: float | None = None, context: Tensor | None = None
) -> float:
    """Check that ``forward``'s log-det at ``x`` and ``inverse``'s at ``forward(x)`` sum to 0.

    Returns:
        The largest ``|logdet_f + logdet_i|`` relative to ``max(1, |logdet_f|)``.

    Example:
        >>> import torch, flowkit
        >>> from flowkit.testing import check_logdet_cancels, perturb_parameters
        >>> check_logdet_cancels(perturb_parameters(flowkit.ActNorm(3)), torch.randn(4, 3, 2, 2)) < 1e-5
        True
    """
    _validate("check_logdet_cancels", x)
    atol = _INVERSE_RTOL.get(x.dtype, 1e-3) * 10 if atol is None else atol
    with torch.no_grad():
        y, ld_f = _run(flow, "forward", x, context)
        _, ld_i = _run(flow, "inverse", y, context)
    _finite_or_fail("check_logdet_cancels", flow, "log-det", torch.cat((ld_f, ld_i)))
    err = ((ld_f + ld_i).abs() / ld_f.abs().clamp_min(1.0)).max().item()
    if err > atol:
        raise FlowCheckError(
            f"check_logdet_cancels({_flow_name(flow)}): forward {ld_f.tolist()} and inverse "
            f"{ld_i.tolist()} log-dets do not cancel (relative error {err:.3e})"
        )
    return err


def check_shapes_dtypes(flow: nf.flows.Flow, x: Tensor, *, context: Tensor | None = None) -> None:
    """Check dtype, device, batch size and element count of outputs and log-dets, both ways.

    ``forward`` may reshape (e.g. squeeze) but must keep the batch size and the
    number of elements; ``inverse`` must restore ``x``'s exact shape; every
    log-det must be a tensor of shape ``(B,)`` with ``x``'s dtype and device.

    Example:
        >>> import torch, flowkit
        >>> from flowkit.testing import check_shapes_dtypes
        >>> check_shapes_dtypes(flowkit.HaarDownsampling(3).double(), torch.rand(2, 3, 4, 4, dtype=torch.float64))
    """
    _validate("check_shapes_dtypes", x)
    name = _flow_name(flow)
    with torch.no_grad():
        y, ld_f = flow.forward(x, **with_context(context))
        x_rec, ld_i = flow.inverse(y, **with_context(context))
    for what, t, ref in (("forward output", y, x), ("inverse output", x_rec, x)):
        if t.dtype != ref.dtype or t.device != ref.device:
            raise FlowCheckError(
                f"check_shapes_dtypes({name}): {what} is {t.dtype} on {t.device}, input {ref.dtype} on {ref.device}"
            )
    if y.shape[0] != x.shape[0] or y.numel() != x.numel():
        raise FlowCheckError(
            f"check_shapes_dtypes({name}): forward maps shape {tuple(x.shape)} to {tuple(y.shape)}: "
            "batch size and element count must be kept"
        )
    if x_rec.shape != x.shape:
        raise FlowCheckError(f"check_shapes_dtypes({name}): inverse gives {tuple(x_rec.shape)}, not {tuple(x.shape)}")
    for what, ld in (("forward log-det", ld_f), ("inverse log-det", ld_i)):
        if not isinstance(ld, Tensor) or ld.shape != (x.shape[0],):
            shape = tuple(ld.shape) if isinstance(ld, Tensor) else type(ld).__name__
            raise FlowCheckError(f"check_shapes_dtypes({name}): {what} has shape {shape}, expected ({x.shape[0]},)")
        if ld.dtype != x.dtype or ld.device != x.device:
            raise FlowCheckError(
                f"check_shapes_dtypes({name}): {what} is {ld.dtype} on {ld.device}, input {x.dtype} on {x.device}"
            )


def check_gradients(flow: nf.flows.Flow, x: Tensor, *, context: Tensor | None = None) -> None:
    """Check that gradients reach the input and every trainable parameter and are finite, both ways.

    The loss is ``sum(output) + sum(logdet)``. A parameter that gets no gradient
    at all (``None``) in both directions is reported: it is disconnected.

    Example:
        >>> import torch, flowkit
        >>> from flowkit.testing import check_gradients
        >>> check_gradients(flowkit.AffineCoupling(4), torch.randn(2, 4, 3, 3))
    """
    _validate("check_gradients", x)
    name = _flow_name(flow)
    params = [(n, p) for n, p in flow.named_parameters() if p.requires_grad]
    reached: set[str] = set()
    for method, point in (("forward", x), ("inverse", _output_point(flow, x, context))):
        flow.zero_grad(set_to_none=True)
        inp = point.detach().clone().requires_grad_(True)
        out, ld = _run(flow, method, inp, context)
        (out.sum() + ld.sum()).backward()
        if inp.grad is None:
            raise FlowCheckError(f"check_gradients({name}.{method}): no gradient reaches the input")
        _finite_or_fail("check_gradients", flow, f"{method} input gradient", inp.grad)
        for pname, p in params:
            if p.grad is not None:
                _finite_or_fail("check_gradients", flow, f"gradient of {pname} ({method})", p.grad)
                reached.add(pname)
    missing = [n for n, _ in params if n not in reached]
    flow.zero_grad(set_to_none=True)
    if missing:
        raise FlowCheckError(f"check_gradients({name}): no gradient reaches parameters {missing}")


def check_flow(flow: nf.flows.Flow, x: Tensor, *, jacobian: bool | None = None, context: Tensor | None = None) -> None:
    """Run every check: shapes/dtypes, invertibility, log-det cancellation, gradients, and
    (when ``x`` is small enough, or ``jacobian=True``) the log-det against autograd; each with
    ``context`` passed in both directions when given (the log-det is then the Jacobian with
    respect to ``x`` at that context).

    Example:
        >>> import torch, flowkit
        >>> from flowkit.testing import check_flow, perturb_parameters
        >>> flow = perturb_parameters(flowkit.FlowCell(3).double())
        >>> check_flow(flow, torch.rand(2, 3, 4, 4, dtype=torch.float64))
    """
    check_shapes_dtypes(flow, x, context=context)
    check_invertible(flow, x, context=context)
    check_logdet_cancels(flow, x, context=context)
    check_gradients(flow, x, context=context)
    if jacobian or (jacobian is None and x.numel() <= MAX_JACOBIAN_SIZE):
        check_logdet(flow, x, context=context)


def perturb_parameters(module: nn.Module, scale: float = 0.5, *, seed: int | None = 0) -> nn.Module:
    """Move every floating-point parameter away from its initial value, in place.

    Freshly built couplings are the identity (zero-initialised last layers), so a
    test at initialisation proves little; perturb first. Each parameter gets
    Gaussian noise: standard deviation ``scale / sqrt(fan_in)`` for weight tensors
    (``fan_in = numel / shape[0]``, so every layer's output changes by ``O(scale)``
    whatever its width) and ``scale`` for vectors and scalars. Returns ``module``.

    Example:
        >>> import torch, flowkit
        >>> from flowkit.testing import perturb_parameters
        >>> layer = flowkit.AffineCoupling(4)
        >>> x = torch.randn(1, 4, 3, 3)
        >>> torch.equal(layer(x)[0], x), torch.equal(perturb_parameters(layer)(x)[0], x)
        (True, False)
    """
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    with torch.no_grad():
        for p in module.parameters():
            if p.is_floating_point():
                std = scale / math.sqrt(p[0].numel()) if p.dim() > 1 else scale
                noise = torch.randn(p.shape, generator=gen, dtype=p.dtype)
                p.add_(std * noise.to(p.device))
    return module


# --------------------------------------------------------------------------- hypothesis strategies


def _strategies() -> ModuleType:
    try:
        from hypothesis import strategies as st
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("flowkit.testing strategies need hypothesis: pip install 'flowkit[test]'") from exc
    return st


def image_shapes(
    channels: int | tuple[int, ...],
    *,
    batch: tuple[int, int] = (1, 4),
    height: tuple[int, int] = (1, 8),
    width: tuple[int, int] = (1, 8),
    multiple_of: int = 1,
) -> Any:
    """A hypothesis strategy of ``(B, C, H, W)`` shapes.

    Args:
        channels: the channel count, or a tuple to draw from.
        batch, height, width: inclusive ranges; H and W are drawn as multiples of
            ``multiple_of`` inside their range.
        multiple_of: the layer's stride (e.g. 2 for Haar / Squeeze(2)).

    Example:
        >>> from flowkit.testing import image_shapes
        >>> shape = image_shapes(3, multiple_of=2).example()
        >>> shape[1] == 3 and shape[2] % 2 == 0 and shape[3] % 2 == 0
        True
    """
    st = _strategies()
    chans = st.sampled_from(channels) if isinstance(channels, tuple) else st.just(channels)

    def side(lo: int, hi: int) -> Any:
        lo_k, hi_k = max(1, math.ceil(lo / multiple_of)), hi // multiple_of
        if hi_k < lo_k:
            raise ValueError(f"image_shapes: no multiple of {multiple_of} in [{lo}, {hi}]")
        return st.integers(lo_k, hi_k).map(lambda k: k * multiple_of)

    return st.tuples(st.integers(*batch), chans, side(*height), side(*width))


def tensors(
    shapes: Any,
    *,
    dtype: torch.dtype = torch.float64,
    scale: float = 1.0,
    low: float | None = None,
    high: float | None = None,
) -> Any:
    """A hypothesis strategy of tensors with shapes drawn from ``shapes``.

    Values are standard normal times ``scale`` (from a seed hypothesis draws, so
    failures shrink and replay), or uniform in ``[low, high]`` when both are given
    (e.g. ``low=0, high=1`` for images).

    Example:
        >>> import torch
        >>> from flowkit.testing import image_shapes, tensors
        >>> t = tensors(image_shapes(2), low=0.0, high=1.0).example()
        >>> bool(t.min() >= 0 and t.max() <= 1), t.dtype
        (True, torch.float64)
    """
    st = _strategies()

    def build(shape: tuple[int, ...], seed: int) -> Tensor:
        gen = torch.Generator().manual_seed(seed)
        if low is not None and high is not None:
            return low + (high - low) * torch.rand(shape, generator=gen, dtype=dtype)
        return scale * torch.randn(shape, generator=gen, dtype=dtype)

    return st.builds(build, shapes, st.integers(0, 2**31 - 1))
