"""flowkit.density: the multiscale densities' log-likelihood is the change of variables of
their whole data-to-latent map, sampling inverts it, and the kit's pieces are exact."""

import math

import normflows as nf
import pytest
import torch

from flowkit.density import (
    Center,
    Glow,
    Logit,
    RealNVP,
    Split,
    UniformDequantization,
    VariationalDequantization,
    bits_per_dim,
)
from flowkit.layers import AffineCoupling, Permute
from flowkit.subnets import ConvNet
from flowkit.testing import check_flow, perturb_parameters

TINY = {
    "glow": lambda: Glow((1, 4, 4), levels=2, steps=2, hidden=8),
    "realnvp": lambda: RealNVP((1, 4, 4), levels=2, hidden=8),
}


def _trained_looking(name):
    """A tiny model, initialised on data, with every parameter moved off its identity start."""
    torch.manual_seed(0)
    model = TINY[name]().double()
    model.initialize(torch.rand(16, 1, 4, 4, dtype=torch.float64))
    return perturb_parameters(model, scale=0.3)


def _latent_log_density(model, h, zs, y):
    """log p of the latents, from the model's own priors (the base and each split's)."""
    total = model.base.log_prob(h)
    hs = []  # the kept part each split conditions on: rerun the encoder's levels
    x, _ = model.preprocess(y)
    for i, level in enumerate(model.levels):
        x, _ = level(x)
        if i < len(model.splits):
            x, z, _ = model.splits[i](x)
            hs.append(x)
    return total + sum(s.log_prob(z, k) for s, z, k in zip(model.splits, zs, hs, strict=True))


@pytest.mark.parametrize("name", sorted(TINY))
def test_log_prob_is_the_change_of_variables_of_the_whole_map(name):
    model = _trained_looking(name)
    y = torch.rand(2, 1, 4, 4, dtype=torch.float64) * 0.9 + 0.05

    def flat_latents(v):
        h, zs, _ = model.encode(v.view(1, 1, 4, 4))
        return torch.cat([h.flatten(), *(z.flatten() for z in zs)])

    for b in range(2):
        jac = torch.autograd.functional.jacobian(flat_latents, y[b].flatten())
        assert jac.shape == (16, 16)
        h, zs, _ = model.encode(y[b : b + 1])
        expected = _latent_log_density(model, h, zs, y[b : b + 1]) + torch.linalg.slogdet(jac).logabsdet
        assert torch.allclose(model.log_prob(y[b : b + 1]), expected, atol=1e-8)


@pytest.mark.parametrize("name", sorted(TINY))
def test_decode_inverts_encode_and_samples_follow_the_temperature(name):
    model = _trained_looking(name)
    y = torch.rand(3, 1, 4, 4, dtype=torch.float64) * 0.9 + 0.05
    h, zs, _ = model.encode(y)
    assert torch.allclose(model.decode(h, zs), y, atol=1e-10)
    x, log_p = model.sample(5, temperature=0.5)
    assert x.shape == (5, 1, 4, 4) and log_p.shape == (5,) and torch.isfinite(log_p).all()
    modes, _ = model.sample(3, temperature=0.0)
    assert torch.allclose(modes, modes[:1].expand_as(modes))  # temperature 0: every latent at its mean
    assert model.base.temperature is None  # restored


def test_sampling_before_data_is_refused_and_log_prob_initialises_from_data():
    model = Glow((1, 4, 4), levels=1, steps=1, hidden=8)
    with pytest.raises(RuntimeError, match="sample before any data"):
        model.sample(2)
    y = 0.3 + 0.1 * torch.rand(64, 1, 4, 4)
    model.log_prob(y)
    first_actnorm = model.levels[0].flows[1]
    out, _ = first_actnorm(model.levels[0].flows[0](model.preprocess(y)[0])[0])
    assert abs(out.mean().item()) < 1e-4 and abs(out.std().item() - 1) < 1e-2  # initialised on the data side


@pytest.mark.parametrize("name", sorted(TINY))
def test_a_few_steps_lower_the_bits_per_dim_of_structured_images(name):
    torch.manual_seed(0)
    model = TINY[name]()
    gen = torch.Generator().manual_seed(1)
    # images with structure: a smooth ramp plus little noise
    ramp = torch.linspace(0, 200, 4).view(1, 1, 1, 4) + torch.linspace(0, 40, 4).view(1, 1, 4, 1)
    data = (ramp + 10 * torch.rand(64, 1, 4, 4, generator=gen)).round().clamp(0, 255)
    before = model.bits_per_dim(data).mean().item()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(60):
        loss = model.bits_per_dim(data).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = model.bits_per_dim(data).mean().item()
    assert math.isfinite(before) and after < before - 1.0


def test_model_shapes_are_checked():
    with pytest.raises(ValueError, match="divisible by 8"):
        Glow((3, 12, 12), levels=3)
    with pytest.raises(ValueError, match="levels must be >= 1"):
        RealNVP((3, 8, 8), levels=0)
    with pytest.raises(ValueError, match=r"expected \(B, 1, 4, 4\)"):
        Glow((1, 4, 4), levels=1, steps=1, hidden=8).log_prob(torch.rand(2, 3, 4, 4))


def test_split_scores_the_factored_half_under_its_prior():
    torch.manual_seed(0)
    split = perturb_parameters(Split(4).double(), scale=0.5)
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    h, z, log_p = split(x)
    mean, log_scale = split.mean_log_scale(h)
    normal = torch.distributions.Normal(mean, log_scale.exp())
    assert torch.allclose(log_p, normal.log_prob(z).sum((1, 2, 3)))
    assert torch.equal(split.inverse(h, z), x)
    assert torch.allclose(split.inverse(h, temperature=0.0), torch.cat((h, mean), 1))
    plain_h, plain_z, plain = Split(4, learned=False)(x)
    assert torch.allclose(plain, torch.distributions.Normal(0.0, 1.0).log_prob(plain_z).sum((1, 2, 3)))


@pytest.mark.parametrize("layer", [Center(), Logit(0.05), Logit(0.0)], ids=["center", "logit", "logit-0"])
def test_preprocessing_flows_pass_every_check(layer):
    x = torch.rand(2, 3, 2, 2, dtype=torch.float64) * 0.9 + 0.05
    check_flow(layer, x)


def test_bits_per_dim_counts_the_bins_and_the_dequantiser():
    assert bits_per_dim(torch.zeros(1), dims=10).item() == pytest.approx(8.0)
    assert bits_per_dim(torch.zeros(1), dims=10, bins=2).item() == pytest.approx(1.0)
    # a density twice the uniform one saves one bit per dimension; log q adds back
    d = 12
    assert bits_per_dim(torch.tensor([d * math.log(2)]), dims=d).item() == pytest.approx(7.0)
    assert bits_per_dim(torch.zeros(1), dims=d, log_q=torch.tensor([d * math.log(2)])).item() == pytest.approx(9.0)
    with pytest.raises(ValueError, match="dims must be >= 1"):
        bits_per_dim(torch.zeros(1), dims=0)


def test_uniform_dequantisation_stays_in_each_levels_bin():
    x = torch.randint(0, 256, (8, 3, 4, 4))
    y, log_q = UniformDequantization()(x)
    assert torch.equal((y * 256).floor(), x.float()) and torch.equal(log_q, torch.zeros(8))
    with pytest.raises(ValueError, match=r"levels must be in \[0, 255\]"):
        UniformDequantization()(torch.tensor([[256]]))
    with pytest.raises(ValueError, match="integer levels"):
        UniformDequantization()(torch.tensor([[0.5]]))


def test_variational_dequantisation_log_q_is_the_density_of_its_noise():
    torch.manual_seed(0)
    flow = [AffineCoupling(2, subnet=ConvNet, context_channels=2), Permute(2, mode="reverse")]
    deq = perturb_parameters(VariationalDequantization(flow).double(), scale=0.5)
    x = torch.randint(0, 256, (2, 2, 1, 1)).double()
    y, log_q = deq(x)
    assert torch.equal((y * 256).floor(), x)
    # the density of u = y * 256 - x, by inverting the noise flow and the sigmoid
    u = y * 256 - x
    v = torch.log(u) - torch.log1p(-u)
    eps, inv_logdet = deq.flow.inverse(v, context=deq.context(x))
    log_normal = torch.distributions.Normal(0.0, 1.0).log_prob(eps).sum((1, 2, 3))
    log_sigmoid_grad = (torch.log(u) + torch.log1p(-u)).sum((1, 2, 3))
    assert torch.allclose(log_q, log_normal + inv_logdet - log_sigmoid_grad, atol=1e-8)


def test_the_top_prior_is_a_normflows_base_distribution():
    model = Glow((1, 4, 4), levels=1, steps=1, hidden=8)
    assert isinstance(model.base, nf.distributions.BaseDistribution) and model.base.shape == (4, 2, 2)
    assert RealNVP((1, 4, 4), levels=2, hidden=8).base.shape == (2, 2, 2)
