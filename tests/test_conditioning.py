"""Conditioned couplings (context_channels) and the context keyword in every layer, inside
normflows' ConditionalNormalizingFlow, checked with flowkit.testing at a context."""

import normflows as nf
import pytest
import torch

import flowkit as fk
from flowkit.subnets import MLP
from flowkit.testing import FlowCheckError, check_flow, perturb_parameters

COUPLINGS = {
    "AdditiveCoupling": lambda: fk.AdditiveCoupling(4, context_channels=2),
    "AffineCoupling": lambda: fk.AffineCoupling(4, context_channels=2),
    "FlowCell": lambda: fk.FlowCell(3, context_channels=2),
    "InvBlockExp": lambda: fk.InvBlockExp(6, context_channels=2),
    "SplineCoupling": lambda: fk.SplineCoupling(4, bins=4, context_channels=2),
    "CheckerboardCoupling": lambda: fk.CheckerboardCoupling(3, context_channels=2),
}


@pytest.mark.parametrize("name", list(COUPLINGS))
@pytest.mark.parametrize("spatial", [True, False])
def test_conditioned_couplings_pass_every_check_at_a_context(name, spatial):
    torch.manual_seed(0)
    layer = perturb_parameters(COUPLINGS[name]()).double()
    channels = layer.channels
    x = torch.randn(3, channels, 2, 3, dtype=torch.float64)
    context = torch.randn(3, 2, 2, 3, dtype=torch.float64) if spatial else torch.randn(3, 2, dtype=torch.float64)
    check_flow(layer, x, context=context)
    y, _ = layer(x, context=context)
    other, _ = layer(x, context=context + 1)
    assert not torch.allclose(y, other)  # the output depends on the context
    torch.testing.assert_close(layer.inverse(y, context=context)[0], x)


def test_a_conditioned_coupling_refuses_a_missing_or_misshapen_context():
    layer = fk.AffineCoupling(4, context_channels=2)
    x = torch.randn(2, 4, 3, 3)
    with pytest.raises(
        ValueError, match=r"AffineCoupling\(.*context_channels=2.*\): needs a context of 2 channels, got none"
    ):
        layer(x)
    with pytest.raises(ValueError, match=r"context must be \(B, 2\) or \(B, 2, 3, 3\) .* got \(2, 3\)"):
        layer(x, context=torch.randn(2, 3))
    with pytest.raises(ValueError, match="context_channels must be >= 0"):
        fk.AffineCoupling(4, context_channels=-1)


def test_the_test_kit_catches_a_coupling_that_ignores_its_context_in_one_direction():
    class Forgetful(fk.AffineCoupling):
        def inverse(self, y, context=None):
            return super().inverse(y, context=torch.zeros_like(context))

    layer = perturb_parameters(Forgetful(4, subnet=MLP, context_channels=2)).double()
    with pytest.raises(FlowCheckError, match="check_invertible"):
        check_flow(layer, torch.randn(3, 4, dtype=torch.float64), context=torch.randn(3, 2, dtype=torch.float64))


def test_flowkit_layers_work_inside_a_conditional_normalizing_flow():
    torch.manual_seed(0)
    flows = [
        fk.Squeeze(2),
        fk.ActNorm(12),
        fk.Invertible1x1Conv(12),
        fk.AffineCoupling(12, context_channels=5),
        fk.Permute(12, mode="shift"),
        fk.InvertibleSequential(fk.AdditiveCoupling(12, context_channels=5), fk.HaarDownsampling(12)),
        fk.Inverse(fk.HaarDownsampling(12)),
        fk.Unsqueeze(2),
    ]
    base = nf.distributions.DiagGaussian((3, 8, 8))
    model = nf.ConditionalNormalizingFlow(base, flows)
    x, context = torch.rand(4, 3, 8, 8), torch.randn(4, 5)
    log_p = model.log_prob(x, context=context)
    assert log_p.shape == (4,) and torch.isfinite(log_p).all()
    log_p.mean().backward()
    assert flows[3].net.conv1.weight.grad is not None
    z = model.inverse(x, context=context)
    torch.testing.assert_close(model.forward(z, context=context), x, atol=1e-5, rtol=1e-5)
    samples, log_q = model.sample(2, context=context[:2])
    assert samples.shape == (2, 3, 8, 8) and log_q.shape == (2,)


FILM = {  # name -> constructor; called with the FiLM context arguments, or without for the plain layer
    "AdditiveCoupling": lambda **kw: fk.AdditiveCoupling(4, **kw),
    "AffineCoupling": lambda **kw: fk.AffineCoupling(5, split=2, **kw),
    "FlowCell": lambda **kw: fk.FlowCell(3, **kw),
    "InvBlockExp": lambda **kw: fk.InvBlockExp(6, **kw),
    "SplineCoupling": lambda **kw: fk.SplineCoupling(4, bins=4, **kw),
}


@pytest.mark.parametrize("name", list(FILM))
@pytest.mark.parametrize("spatial", [True, False])
def test_film_conditioned_couplings_pass_every_check_and_start_unconditioned(name, spatial):
    torch.manual_seed(0)
    fresh = FILM[name](context_channels=3, conditioning="film").double()
    x = torch.randn(3, fresh.channels, 2, 3, dtype=torch.float64)
    context = torch.randn(3, 3, 2, 3, dtype=torch.float64) if spatial else torch.randn(3, 3, dtype=torch.float64)
    # FiLM keeps the subnets' input width, and its zero-initialised generators leave them unmodulated
    plain = FILM[name]()
    assert sum(p.numel() for n, p in fresh.named_parameters() if not n.startswith("film")) == sum(
        p.numel() for p in plain.parameters()
    )
    h = x[:, : fresh.split]
    assert torch.equal(fresh.subnet_input(h, context), h)
    layer = perturb_parameters(fresh)
    check_flow(layer, x, context=context)
    y, _ = layer(x, context=context)
    assert not torch.allclose(y, layer(x, context=context + 1)[0])  # the output depends on the context
    assert "conditioning='film'" in repr(layer)


def test_an_unknown_conditioning_is_refused():
    with pytest.raises(ValueError, match="AffineCoupling: conditioning must be 'concat' or 'film', got 'add'"):
        fk.AffineCoupling(4, context_channels=2, conditioning="add")
