"""Property-based fuzzing of every public layer, FGRN's flow module and IRN's network.

Random shapes (batch 1-4; channels valid for the layer; H, W including odd and 1-pixel
sizes where the stride allows), float32 and float64, random parameter perturbations.
Each example checks, through :func:`flowkit.testing.check_flow`: exact inverse (1e-5
relative in float32, 1e-10 in float64), forward and inverse log-dets cancelling, finite
outputs and finite gradients reaching every parameter, and — on inputs of at most
``JACOBIAN_MAX`` elements, where the dense Jacobian is cheap — the log-det against the
autograd Jacobian. 200 examples per property in CI, 1000 with ``--slow`` (IRN's whole network:
a quarter of that).
"""

from functools import partial

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import flowkit as fk
from flowkit.models.fgrn import flow_guidance_module
from flowkit.models.irn import irn_network
from flowkit.testing import check_flow, image_shapes, perturb_parameters, tensors

SMALL_DENSE = partial(fk.DenseBlock, growth=4)
JACOBIAN_MAX = 192

# name -> (constructor taking C, channel choices, stride)
FAMILIES = {
    "Squeeze": (lambda c: fk.Squeeze(2), (1, 3), 2),
    "Squeeze3": (lambda c: fk.Squeeze(3), (1, 2), 3),
    "Unsqueeze": (lambda c: fk.Unsqueeze(2), (4, 8), 1),
    "HaarDownsampling": (fk.HaarDownsampling, (1, 3), 2),
    "AdditiveCoupling": (partial(fk.AdditiveCoupling, subnet=SMALL_DENSE), (2, 3, 5), 1),
    "AffineCoupling": (partial(fk.AffineCoupling, subnet=SMALL_DENSE), (2, 3, 4), 1),
    "FlowCell": (partial(fk.FlowCell, subnet=SMALL_DENSE, clamp=2.0), (2, 3, 5), 1),
    "FlowCell-exp": (partial(fk.FlowCell, subnet=SMALL_DENSE), (2, 3), 1),
    "InvBlockExp": (partial(fk.InvBlockExp, subnet=SMALL_DENSE), (2, 6, 12), 1),
    "Invertible1x1Conv": (fk.Invertible1x1Conv, (2, 3, 5), 1),
    "ActNorm": (fk.ActNorm, (1, 3), 1),
    "Permute": (fk.Permute, (2, 5), 1),
    "FGRN-F": (lambda c: flow_guidance_module(2, growth=4), (3,), 1),
}


def _draw(data, channels, stride, max_side=6):
    shape = data.draw(
        image_shapes(channels, batch=(1, 4), height=(stride, max_side), width=(stride, max_side), multiple_of=stride)
    )
    if stride == 1 and data.draw(st.booleans()):  # make 1-pixel sides likely, not just possible
        shape = (shape[0], shape[1], 1, shape[3])
    return shape


@pytest.mark.parametrize("name", FAMILIES)
@given(data=st.data(), dtype=st.sampled_from([torch.float32, torch.float64]), seed=st.integers(0, 2**16))
def test_layer_is_an_exact_flow(name, data, dtype, seed):
    make, channels, stride = FAMILIES[name]
    shape = _draw(data, channels, stride)
    x = data.draw(tensors(st.just(shape), dtype=dtype))
    torch.manual_seed(seed)
    layer = perturb_parameters(make(shape[1]).to(dtype), seed=seed)
    check_flow(layer, x, jacobian=x.numel() <= JACOBIAN_MAX)


# IRN's whole network costs several times a layer's example, and its parts are fuzzed above at the
# full count: a quarter of the profile's examples (50 in CI, 250 with --slow).
@pytest.mark.parametrize("scale", [2, 4])
@settings(max_examples=settings.default.max_examples // 4)
@given(data=st.data(), dtype=st.sampled_from([torch.float32, torch.float64]), seed=st.integers(0, 2**16))
def test_irn_network_is_an_exact_flow(scale, data, dtype, seed):
    """IRN's whole invertible network (Haar + InvBlockExp stages), with small DenseBlocks for speed
    (the full-size network is checked once in ``test_models.py``)."""
    shape = _draw(data, (3,), scale, max_side=2 * scale)
    x = data.draw(tensors(st.just(shape), dtype=dtype, low=0.0, high=1.0))
    torch.manual_seed(seed)
    net = perturb_parameters(irn_network(scale, blocks=2, growth=4).to(dtype), 0.3, seed=seed)
    check_flow(net, x, jacobian=x.numel() <= JACOBIAN_MAX)
