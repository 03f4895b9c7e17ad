"""Every public layer runs under torch.compile(fullgraph=True) and torch.jit.trace with the
eager results, and inverts when cast to float16 / bfloat16; every registered model's
downscale and upscale compile to one graph each."""

import pytest
import torch

from flowkit.models import MODELS, build
from flowkit.testing import perturb_parameters
from tests.layer_zoo import LAYERS


def _layer(name):
    make, shape = LAYERS[name]
    torch.manual_seed(0)
    layer = perturb_parameters(make()).eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        layer(x)  # ActNorm's data-dependent initialisation happens here, in eager mode
    return layer, x


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_layer_compiles_without_graph_breaks_in_both_directions(name):
    layer, x = _layer(name)
    torch._dynamo.reset()
    with torch.no_grad():
        y, logdet = layer(x)
        cy, clogdet = torch.compile(layer, fullgraph=True, backend="eager")(x)
        cx, _ = torch.compile(layer.inverse, fullgraph=True, backend="eager")(y)
    torch.testing.assert_close(cy, y)
    torch.testing.assert_close(clogdet, logdet)
    torch.testing.assert_close(cx, layer.inverse(y)[0])


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore:`torch.jit.trace:DeprecationWarning")
@pytest.mark.parametrize("name", list(LAYERS))
def test_every_layer_traces(name):
    layer, x = _layer(name)
    other = torch.randn_like(x)  # a trace replayed on new data, not the traced example's values
    with torch.no_grad():
        traced = torch.jit.trace(layer, x, check_trace=False)
        y, logdet = layer(other)
        ty, tlogdet = traced(other)
    torch.testing.assert_close(ty, y)
    torch.testing.assert_close(tlogdet, logdet)


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_every_layer_cast_to_half_precision_still_inverts(name, dtype):
    layer, x = _layer(name)
    half = layer.to(dtype)
    with torch.no_grad():
        y, logdet = half(x.to(dtype))
        back, _ = half.inverse(y)
    assert y.dtype == back.dtype == dtype and torch.isfinite(logdet).all()
    # a few units in the last place of the half-precision format, relative to the input's size
    eps = torch.finfo(dtype).eps
    assert (back.float() - x).abs().max() <= 64 * eps * max(1.0, float(x.abs().max()))


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize(
    "name, overrides",
    [pytest.param(name, {}, id=name) for name in sorted(MODELS)]
    + [pytest.param("fgrn", {"bicubic_skip": True}, id="fgrn-bicubic_skip")],
)
def test_every_model_rescales_in_one_graph_each_way(name, overrides, scale):
    """``fullgraph=True``: the bicubic resizes inside the models (Bicubic & Bicubic, FGRN's
    ``bicubic_skip``, as the shipped FGRN files use) break no graph, so a whole downscale or
    upscale can be one compiled graph or one CUDA graph."""
    torch.manual_seed(0)
    model = perturb_parameters(build(name, scale, **overrides)).eval()
    hr = torch.rand(1, 3, 32, 32)
    torch._dynamo.reset()
    with torch.inference_mode():
        lr = model.downscale(hr)
        torch.testing.assert_close(torch.compile(model.downscale, fullgraph=True, backend="eager")(hr), lr)
        torch.manual_seed(1)  # IRN draws its latent
        out = model.upscale(lr)
        torch.manual_seed(1)
        torch.testing.assert_close(torch.compile(model.upscale, fullgraph=True, backend="eager")(lr), out)
