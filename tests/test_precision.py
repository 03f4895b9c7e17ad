"""flowkit.precision: subnetworks in bfloat16/float16 while the invertible path stays float32."""

import normflows as nf
import pytest
import torch

from flowkit import precision
from flowkit.metrics import psnr
from flowkit.models import build
from flowkit.precision import DTYPES, SUBNETS, native_bfloat16, subnets_in
from flowkit.subnets import DenseBlock, ResBlock
from flowkit.testing import perturb_parameters

SMALL = {
    "fgrn": {"channels": 8, "gd_blocks": 1, "gu_blocks": 1, "flow_cells": 1, "flow_growth": 4},
    "irn": {"blocks": 2, "growth": 4, "z_mode": "zero"},
}


def _model(name):
    torch.manual_seed(0)
    return perturb_parameters(build(name, 2, **SMALL[name]), 0.05).eval()


def _round_trip(model, hr, **precision):
    """(lr, sr, {subnet type name: dtypes its convolutions computed in})."""
    seen = {}

    def recorder(kind):
        return lambda module, inputs, output: seen.setdefault(kind, set()).add(output.dtype)

    hooks = [
        conv.register_forward_hook(recorder(type(sub).__name__))
        for sub in model.modules()
        if isinstance(sub, SUBNETS)
        for conv in sub.modules()
        if isinstance(conv, torch.nn.Conv2d)
    ]
    with torch.inference_mode(), subnets_in(model, **precision):
        lr = model.downscale(hr)
        sr = model.upscale(lr)
    for h in hooks:
        h.remove()
    return lr, sr, seen


@pytest.mark.parametrize("name", ["fgrn", "irn"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("flows", [False, True])
def test_subnets_compute_in_low_precision_and_the_lr_stays_float32_on_the_8bit_grid(name, dtype, flows):
    model = _model(name)
    hr = torch.rand(2, 3, 24, 32)
    lr32, sr32, _ = _round_trip(model, hr, dtype=torch.float32)
    lr, sr, seen = _round_trip(model, hr, dtype=dtype, flows=flows)
    # FGRN: Gd/Gu's ResBlocks sit outside invertible layers, F's DenseBlocks inside; IRN: all inside
    expected = {"ResBlock": dtype if name == "fgrn" else None, "DenseBlock": dtype if flows else torch.float32}
    for kind, want in expected.items():
        if want is not None:
            assert seen[kind] == {want}, kind
    assert lr.dtype == sr.dtype == torch.float32
    assert torch.equal(lr * 255, (lr * 255).round())  # exactly on the 8-bit grid
    assert (lr - lr32).abs().max() <= 1 / 255 + 1e-6  # at most one level apart
    assert float(psnr(sr.clamp(0, 1), sr32.clamp(0, 1), y_channel=False).mean()) > 40
    if name == "irn" and not flows:
        assert torch.equal(sr, sr32)  # nothing of IRN computes outside its invertible blocks


def test_the_block_leaves_the_model_as_it_was_even_after_an_error():
    model = _model("fgrn")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    subnets = [m for m in model.modules() if isinstance(m, SUBNETS)]
    assert subnets and all(isinstance(m, (DenseBlock, ResBlock)) for m in subnets)
    with pytest.raises(RuntimeError, match="boom"), subnets_in(model, torch.bfloat16, flows=True):
        assert all("forward" in vars(m) for m in subnets)
        raise RuntimeError("boom")
    assert not any("forward" in vars(m) for m in subnets)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    hr = torch.rand(1, 3, 16, 16)
    with torch.inference_mode():
        plain = model.downscale(hr)
        with subnets_in(model, torch.float32, flows=True):  # float32 changes nothing
            assert not any("forward" in vars(m) for m in subnets)
            assert torch.equal(model.downscale(hr), plain)


def test_subnets_of_any_normflows_layer_count_as_inside_the_flow():
    class Wrapped(nf.flows.Flow):  # a user's layer, not a flowkit one
        def __init__(self):
            super().__init__()
            self.net = ResBlock(4)

    model = torch.nn.Sequential(ResBlock(4), Wrapped())
    with subnets_in(model, torch.bfloat16):
        assert "forward" in vars(model[0]) and "forward" not in vars(model[1].net)


def test_only_the_named_dtypes_are_accepted():
    assert set(DTYPES) == {"float32", "bfloat16", "float16"}
    with pytest.raises(ValueError, match="dtype must be one of float32, bfloat16, float16"):
        with subnets_in(_model("fgrn"), torch.float64):
            pass


def test_native_bfloat16_on_cuda_and_other_devices(monkeypatch):
    assert native_bfloat16(torch.device("meta")) is True
    seen = []
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation: seen.append(including_emulation))
    native_bfloat16("cuda")
    assert seen == [False]  # emulated bfloat16 does not count


@pytest.mark.parametrize("machine", ["x86_64", "AMD64"])
@pytest.mark.parametrize(
    ("avx512_bf16", "amx", "native"), [(True, False, True), (False, True, True), (False, False, False)]
)
def test_native_bfloat16_on_x86_needs_the_instructions(monkeypatch, machine, avx512_bf16, amx, native):
    # oneDNN reports bfloat16 support on any AVX-512 CPU, where it is emulated and slower than float32.
    monkeypatch.setattr(precision.platform, "machine", lambda: machine)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert native_bfloat16("cpu") is native


def test_native_bfloat16_elsewhere_follows_onednn(monkeypatch):
    monkeypatch.setattr(precision.platform, "machine", lambda: "aarch64")
    for supported in (True, False):
        monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda answer=supported: answer)
        assert native_bfloat16("cpu") is supported

    def missing():
        raise AttributeError("no oneDNN")

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", missing)
    assert native_bfloat16("cpu") is False


@pytest.mark.parametrize("native", [True, False])
def test_warn_if_emulated_warns_only_without_bfloat16_kernels(monkeypatch, recwarn, native):
    monkeypatch.setattr(precision, "native_bfloat16", lambda device: native)
    precision.warn_if_emulated("cpu", "amp")
    messages = [str(w.message) for w in recwarn.list]
    if native:
        assert messages == []
    else:
        capability = torch.backends.cpu.get_cpu_capability()
        assert messages == [
            f"amp: this CPU ({capability}) has no bfloat16 instructions, so bfloat16 is emulated and slower "
            "than float32 here"
        ]
