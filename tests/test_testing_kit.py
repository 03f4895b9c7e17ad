"""flowkit.testing must catch broken flows, not only pass good ones."""

import pytest
import torch
from hypothesis import given

import flowkit as fk
from flowkit.core import Flow, zero_logdet
from flowkit.testing import (
    FlowCheckError,
    check_flow,
    check_gradients,
    check_invertible,
    check_logdet,
    check_logdet_cancels,
    check_shapes_dtypes,
    image_shapes,
    perturb_parameters,
    tensors,
)


class Scale(Flow):
    """y = a * x with a learnable scalar; correct unless told to lie."""

    def __init__(self, logdet_error=0.0, inverse_error=0.0, logdet_dtype=None):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(1.5))
        self.logdet_error = logdet_error
        self.inverse_error = inverse_error
        self.logdet_dtype = logdet_dtype

    def _ld(self, x, sign):
        n = x[0].numel()
        ld = sign * (n * torch.log(self.a.abs()) + self.logdet_error) * torch.ones(x.shape[0], dtype=x.dtype)
        return ld.to(self.logdet_dtype) if self.logdet_dtype else ld

    def forward(self, x):
        return self.a * x, self._ld(x, 1)

    def inverse(self, y):
        return y / self.a + self.inverse_error, self._ld(y, -1)


class BatchMixer(Flow):
    """Invertible but couples samples: y_0 = x_0 + x_1 (log-det 0)."""

    def forward(self, x):
        y = x.clone()
        y[0] = x[0] + x[1]
        return y, zero_logdet(x)

    def inverse(self, y):
        x = y.clone()
        x[0] = y[0] - y[1]
        return x, zero_logdet(y)


class Disconnected(Scale):
    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.ones(3))


X = torch.randn(2, 2, 3, 3, dtype=torch.float64)


def test_correct_flow_passes():
    check_flow(Scale().double(), X)


def test_wrong_logdet_is_caught():
    with pytest.raises(FlowCheckError, match="autograd Jacobian gives"):
        check_logdet(Scale(logdet_error=1e-4).double(), X)


def test_logdets_that_do_not_cancel_are_caught():
    class Lopsided(Scale):
        def inverse(self, y):
            x, ld = super().inverse(y)
            return x, ld + 0.5

    with pytest.raises(FlowCheckError, match="do not cancel"):
        check_logdet_cancels(Lopsided().double(), X)


def test_inexact_inverse_is_caught_at_contract_tolerance():
    with pytest.raises(FlowCheckError, match="differs from x by"):
        check_invertible(Scale(inverse_error=1e-9).double(), X)
    with pytest.raises(FlowCheckError):
        check_invertible(Scale(inverse_error=1e-4), X.float())
    # within tolerance passes
    check_invertible(Scale(inverse_error=1e-12).double(), X)


def test_cross_sample_dependence_is_caught():
    with pytest.raises(FlowCheckError, match="influence each other"):
        check_logdet(BatchMixer(), X)


def test_wrong_logdet_dtype_is_caught():
    with pytest.raises(FlowCheckError, match="log-det is torch.float32"):
        check_shapes_dtypes(Scale(logdet_dtype=torch.float32).double(), X)


def test_disconnected_parameter_is_caught():
    with pytest.raises(FlowCheckError, match=r"no gradient reaches parameters \['unused'\]"):
        check_gradients(Disconnected().double(), X)


def test_nan_input_is_a_clear_value_error():
    bad = X.clone()
    bad[0, 0, 0, 0] = float("nan")
    for check in (check_invertible, check_logdet, check_logdet_cancels, check_shapes_dtypes, check_gradients):
        with pytest.raises(ValueError, match="input contains NaN or Inf"):
            check(Scale().double(), bad)


def test_nan_output_is_reported():
    layer = Scale().double()
    with torch.no_grad():
        layer.a.fill_(float("nan"))
    with pytest.raises(FlowCheckError, match="non-finite"):
        check_invertible(layer, X)


def test_large_input_is_refused_by_jacobian_check():
    with pytest.raises(ValueError, match="dense Jacobian check needs at most"):
        check_logdet(Scale(), torch.randn(4, 3, 64, 64))


def test_perturb_parameters_moves_every_parameter_deterministically():
    a = fk.AffineCoupling(4)
    b = fk.AffineCoupling(4)
    b.load_state_dict(a.state_dict())
    before = {k: v.clone() for k, v in a.named_parameters()}
    perturb_parameters(a, seed=1)
    perturb_parameters(b, seed=1)
    for k, v in a.named_parameters():
        assert not torch.equal(v, before[k])
        assert torch.equal(v, dict(b.named_parameters())[k])


@given(shape=image_shapes((2, 4), multiple_of=2, height=(2, 6), width=(2, 6)))
def test_image_shapes_strategy(shape):
    b, c, h, w = shape
    assert 1 <= b <= 4 and c in (2, 4) and h % 2 == 0 and w % 2 == 0 and 2 <= h <= 6


@given(t=tensors(image_shapes(3), dtype=torch.float32, scale=3.0))
def test_tensors_strategy(t):
    assert t.dtype == torch.float32 and t.shape[1] == 3 and torch.isfinite(t).all()
