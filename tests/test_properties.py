"""Property tests over random shapes and inputs (hypothesis, through flowkit.testing)."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import flowkit as fk
from flowkit.testing import check_flow, image_shapes, perturb_parameters, tensors

# (constructor taking C, channel choices, stride)
FAMILIES = {
    "AffineCoupling": (fk.AffineCoupling, (2, 3, 4), 1),
    "AdditiveCoupling": (fk.AdditiveCoupling, (2, 3), 1),
    "FlowCell": (fk.FlowCell, (2, 3, 5), 1),
    "InvBlockExp": (fk.InvBlockExp, (2, 6, 12), 1),
    "Invertible1x1Conv": (fk.Invertible1x1Conv, (2, 3, 5), 1),
    "ActNorm": (fk.ActNorm, (1, 3), 1),
    "Permute": (fk.Permute, (2, 5), 1),
    "HaarDownsampling": (fk.HaarDownsampling, (1, 3), 2),
    "Squeeze": (lambda c: fk.Squeeze(2), (1, 3), 2),
}


@pytest.mark.parametrize("name", FAMILIES)
@given(data=st.data(), dtype=st.sampled_from([torch.float32, torch.float64]), seed=st.integers(0, 1000))
def test_layer_properties(name, data, dtype, seed):
    make, channels, stride = FAMILIES[name]
    shape = data.draw(image_shapes(channels, batch=(1, 3), height=(stride, 6), width=(stride, 6), multiple_of=stride))
    x = data.draw(tensors(st.just(shape), dtype=dtype))
    torch.manual_seed(seed)
    layer = perturb_parameters(make(shape[1]).to(dtype), seed=seed)
    check_flow(layer, x)
