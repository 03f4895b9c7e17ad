"""Reduced precision that keeps a flow's invertible path in float32 (inference, and training
with :attr:`flowkit.train.TrainConfig.amp_scope`).

``torch.autocast`` alone would run every convolution in bfloat16, including the ones
that carry the flow's state and the LR that is rounded to 8 bits: bfloat16 has 8
significant bits, so values near 1 land on a grid coarser than 1/255. Here only
subnetworks (the convolutions inside residual blocks and couplings, where nearly all the
arithmetic is) run under autocast, and each returns its output in its input's dtype: the
residual streams, the couplings' affine updates, the Haar transforms and the quantiser
stay in float32. By default the subnetworks of invertible layers stay in float32 too,
since their outputs enter the invertible path itself: for FGRN the downscaler and
upscaler then compute in reduced precision and the flow F does not; IRN, all of whose
subnetworks sit in invertible layers, is unchanged unless ``flows=True``.
"""

from __future__ import annotations

import platform
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import normflows as nf
import torch
from torch import Tensor, nn

from flowkit.subnets import MLP, ConvNet, DenseBlock, ResBlock

__all__ = ["DTYPES", "SUBNETS", "native_bfloat16", "subnets_in", "warn_if_emulated"]

#: What :func:`platform.machine` calls an x86 processor.
_X86 = frozenset({"x86_64", "amd64", "i386", "i686"})

#: The compute dtypes a user may ask for, by name.
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
#: The module types :func:`subnets_in` runs in reduced precision by default.
SUBNETS: tuple[type[nn.Module], ...] = (DenseBlock, ResBlock, ConvNet, MLP)


def _cast_like(out: object, dtype: torch.dtype) -> object:
    if isinstance(out, Tensor) and out.is_floating_point():
        return out.to(dtype)
    if isinstance(out, tuple):
        return tuple(_cast_like(o, dtype) for o in out)
    return out


def _low_precision(forward: Callable[..., Any], dtype: torch.dtype, cache_enabled: bool) -> Callable[..., Any]:
    def run(x: Tensor, *args: Any, **kwargs: Any) -> Any:
        with torch.autocast(x.device.type, dtype=dtype, cache_enabled=cache_enabled):
            out = forward(x, *args, **kwargs)
        return _cast_like(out, x.dtype)

    return run


def _in_flows(model: nn.Module) -> set[int]:
    """ids of the modules that sit inside an invertible layer of ``model``."""
    inside: set[int] = set()
    for module in model.modules():
        if isinstance(module, nf.flows.Flow):
            inside.update(id(m) for m in module.modules() if m is not module)
    return inside


@contextmanager
def subnets_in(
    model: nn.Module,
    dtype: torch.dtype,
    types: tuple[type[nn.Module], ...] = SUBNETS,
    flows: bool = False,
    cache_enabled: bool = True,
) -> Iterator[nn.Module]:
    """Within the block, every submodule of ``model`` of one of ``types`` computes under
    ``torch.autocast(dtype)`` and returns its output in its input's dtype; the rest of
    the model computes in its own dtype. Subnetworks inside invertible layers
    (:class:`normflows.flows.Flow`) are left out unless ``flows`` is true. ``float32``
    (or a model without such modules) changes nothing. The model's parameters and state
    dict are untouched. Gradients flow through the block as through autocast (training
    uses it: :attr:`flowkit.train.TrainConfig.amp_scope`); ``cache_enabled`` is autocast's
    cache of cast weights, which a CUDA graph capture needs off.

    Example:
        >>> import torch
        >>> from flowkit.models import build
        >>> model = build("fgrn", 4).eval()
        >>> with torch.inference_mode(), subnets_in(model, torch.bfloat16):
        ...     lr = model.downscale(torch.rand(1, 3, 32, 32))
        >>> lr.dtype, bool((lr * 255 - (lr * 255).round()).abs().max() < 1e-4)
        (torch.float32, True)
    """
    if dtype not in DTYPES.values():
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype}")
    skip = set() if flows else _in_flows(model)
    patched = (
        [] if dtype == torch.float32 else [m for m in model.modules() if isinstance(m, types) and id(m) not in skip]
    )
    for module in patched:
        module.forward = _low_precision(module.forward, dtype, cache_enabled)
    try:
        yield model
    finally:
        for module in patched:
            del module.forward


def native_bfloat16(device: torch.device | str) -> bool:
    """Whether ``device`` has bfloat16 arithmetic of its own: on CUDA, a GPU that computes
    bfloat16 natively (compute capability 8.0 and newer); on an x86 CPU, one with the
    AVX512-BF16 or AMX instructions; on another CPU, one that torch's oneDNN backend reports
    bfloat16 support for (a torch built without oneDNN has none). Elsewhere bfloat16 is
    emulated: the results are the same, but a training step of the shipped recipes runs
    slower than in float32, about twice as slow on a CPU with AVX-512 but not AVX512-BF16
    and many times slower on one with AVX2 only (oneDNN reports bfloat16 support on the
    former all the same; the Performance guide gives the measurements). Other device types
    count as native.

    Example:
        >>> isinstance(native_bfloat16("cpu"), bool)
        True
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        if platform.machine().lower() in _X86 and all(checks):
            return any(check() for check in checks)
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):  # no oneDNN in this build of torch
            return False
    return True


def warn_if_emulated(device: torch.device | str, what: str) -> None:
    """Warn (a :class:`UserWarning` naming ``what``, e.g. ``"amp"``) when ``device`` has no
    bfloat16 arithmetic of its own (:func:`native_bfloat16`), so asking for bfloat16 there makes
    the work slower, not faster."""
    device = torch.device(device)
    if native_bfloat16(device):
        return
    cpu = device.type == "cpu"
    where = f"this CPU ({torch.backends.cpu.get_cpu_capability()})" if cpu else f"this {device.type} device"
    warnings.warn(
        f"{what}: {where} has no bfloat16 instructions, so bfloat16 is emulated and slower than float32 here",
        UserWarning,
        stacklevel=2,
    )
