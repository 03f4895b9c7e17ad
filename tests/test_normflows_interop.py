"""flowkit layers inside normflows.NormalizingFlow, and normflows flows inside flowkit."""

import math

import normflows as nf
import pytest
import torch

import flowkit as fk
from flowkit.testing import check_flow, perturb_parameters


def _image_flow():
    # latent (B, 12, 2, 2) -> data (B, 3, 4, 4): forward is the sampling direction in normflows
    flows = [
        fk.AffineCoupling(12),
        fk.Invertible1x1Conv(12),
        fk.FlowCell(12),
        fk.Unsqueeze(2),
        fk.ActNorm(3),
    ]
    q0 = nf.distributions.DiagGaussian((12, 2, 2), trainable=False)
    model = nf.NormalizingFlow(q0, flows).double()
    perturb_parameters(model)
    return model


def test_log_prob_matches_change_of_variables_by_autograd():
    model = _image_flow()
    x = torch.randn(3, 3, 4, 4, dtype=torch.float64)
    log_prob = model.log_prob(x)

    def to_latent(v):
        z = v
        for f in reversed(model.flows):
            z, _ = f.inverse(z)
        return z

    for i in range(3):
        xi = x[i : i + 1]
        jac = torch.autograd.functional.jacobian(lambda v: to_latent(v).reshape(-1), xi).reshape(48, 48)
        z = to_latent(xi).reshape(-1)
        log_q0 = -0.5 * (z**2).sum() - 0.5 * 48 * math.log(2 * math.pi)
        expected = log_q0 + torch.linalg.slogdet(jac)[1]
        torch.testing.assert_close(log_prob[i], expected, rtol=1e-10, atol=1e-10)


def test_sample_log_q_is_log_prob_of_the_sample():
    model = _image_flow()
    x, log_q = model.sample(4)
    assert x.shape == (4, 3, 4, 4)
    torch.testing.assert_close(log_q, model.log_prob(x), rtol=1e-8, atol=1e-8)


def test_forward_kld_trains():
    """A few steps of maximum likelihood lower the NLL of image-shaped data."""
    torch.manual_seed(0)
    data = 0.5 + 0.1 * torch.randn(64, 3, 4, 4) + 0.3 * torch.rand(64, 1, 1, 1)
    q0 = nf.distributions.DiagGaussian((12, 2, 2), trainable=False)
    model = nf.NormalizingFlow(q0, [fk.AffineCoupling(12), fk.Permute(12), fk.AffineCoupling(12), fk.Unsqueeze(2)])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    first = model.forward_kld(data).item()
    for _ in range(30):
        loss = model.forward_kld(data)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert model.forward_kld(data).item() < first - 1.0


def test_normflows_flows_inside_invertible_sequential():
    seq = fk.InvertibleSequential(
        fk.AffineCoupling(4),
        nf.flows.Invertible1x1Conv(4, use_lu=True),
        nf.flows.Permute(4, mode="shuffle"),
        fk.FlowCell(4),
    ).double()
    perturb_parameters(seq)
    check_flow(seq, torch.randn(2, 4, 3, 3, dtype=torch.float64))


def test_squeeze_in_normflows_direction_names_the_fix():
    # written as for normflows' Squeeze (forward: latent -> data is depth-to-space)
    model = nf.NormalizingFlow(nf.distributions.DiagGaussian((12, 4, 4)), [fk.Squeeze(2)])
    with pytest.raises(
        ValueError, match="opposite of normflows.flows.Squeeze: in a normflows model use flowkit.Unsqueeze"
    ):
        model.log_prob(torch.rand(2, 3, 8, 8))
    fixed = nf.NormalizingFlow(nf.distributions.DiagGaussian((12, 4, 4)), [fk.Unsqueeze(2)])
    assert fixed.log_prob(torch.rand(2, 3, 8, 8)).shape == (2,)


def test_normflows_squeeze_is_flowkits_unsqueeze():
    # the direction trap the layer overview page warns about
    z = torch.randn(2, 8, 3, 5)
    ours, ours_ld = fk.Unsqueeze(2)(z)
    theirs, theirs_ld = nf.flows.Squeeze()(z)
    assert torch.equal(ours, theirs)
    assert float(ours_ld.abs().sum()) == float(torch.as_tensor(theirs_ld).abs().sum()) == 0
    assert torch.equal(fk.Squeeze(2)(ours)[0], nf.flows.Squeeze().inverse(theirs)[0])
