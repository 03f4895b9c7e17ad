"""The code shown in the docs runs."""

import runpy
from pathlib import Path

import pytest
import torch
from hypothesis import given

from flowkit.testing import FlowCheckError, check_flow, image_shapes, perturb_parameters, tensors

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def test_custom_flow_example_runs(capsys):
    runpy.run_path(str(EXAMPLES / "custom_flow.py"), run_name="__main__")
    assert "passes every flowkit check" in capsys.readouterr().out


_ns = runpy.run_path(str(EXAMPLES / "custom_flow.py"))
ChannelAffine = _ns["ChannelAffine"]


@given(x=tensors(image_shapes(3, height=(1, 6), width=(1, 6))))
def test_channel_affine_guide_snippet(x):
    check_flow(perturb_parameters(ChannelAffine(3).double()), x)


def test_guide_layer_with_a_bug_is_caught():
    class Buggy(ChannelAffine):
        def forward(self, x):
            y, ld = super().forward(x)
            return y, ld * 0.5  # forgot half the log-det

    with pytest.raises(FlowCheckError):
        check_flow(perturb_parameters(Buggy(3).double()), torch.randn(2, 3, 2, 2, dtype=torch.float64))
