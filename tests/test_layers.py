"""Exactness of every layer: inverse, log-det vs autograd Jacobian, cancellation, gradients."""

import math

import pytest
import torch

import flowkit as fk
from flowkit.testing import FlowCheckError, check_flow, check_invertible, check_logdet, perturb_parameters
from tests.layer_zoo import LAYERS


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("perturb", [False, True], ids=["init", "perturbed"])
def test_layer_is_an_exact_flow(name, dtype, perturb):
    make, shape = LAYERS[name]
    layer = make().to(dtype)
    if perturb:
        perturb_parameters(layer)
    x = torch.randn(shape, dtype=dtype)
    check_flow(layer, x)


@pytest.mark.parametrize("name", LAYERS)
def test_every_layer_is_a_normflows_flow(name):
    import normflows as nf

    assert isinstance(LAYERS[name][0](), nf.flows.Flow)


@pytest.mark.parametrize("name", ["AffineCoupling", "FlowCell", "InvBlockExp", "AdditiveCoupling"])
def test_couplings_start_at_identity(name):
    make, shape = LAYERS[name]
    x = torch.randn(shape)
    y, logdet = make()(x)
    assert torch.equal(y, x)
    assert torch.equal(logdet, torch.zeros(shape[0]))


@pytest.mark.parametrize("name", ["AffineCoupling", "FlowCell", "InvBlockExp", "Invertible1x1Conv"])
def test_perturbed_layers_are_not_trivial(name):
    """Guards the exactness tests: after perturbation the map and its log-det really move."""
    make, shape = LAYERS[name]
    layer = perturb_parameters(make().double())
    x = torch.randn(shape, dtype=torch.float64)
    y, logdet = layer(x)
    assert (y - x).abs().max() > 1e-2
    assert logdet.abs().min() > 1e-3


def test_haar_matches_irn_convolution_kernels():
    """Reference: DESIGN section 4 / official IRN: 2x2 kernels, stride 2, /4, sub-band-major channels."""
    kernels = torch.tensor([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], dtype=torch.float64).view(
        4, 1, 2, 2
    )
    c = 3
    x = torch.randn(2, c, 6, 8, dtype=torch.float64)
    ref = torch.nn.functional.conv2d(x, kernels.repeat(c, 1, 1, 1), stride=2, groups=c) / 4
    ref = ref.view(2, c, 4, 3, 4).transpose(1, 2).reshape(2, 4 * c, 3, 4)
    y, logdet = fk.HaarDownsampling(c)(x)
    torch.testing.assert_close(y, ref, rtol=0, atol=1e-14)
    # low-pass channels are the 2x2 box average of each colour
    torch.testing.assert_close(y[:, :c], torch.nn.functional.avg_pool2d(x, 2), rtol=0, atol=1e-14)
    assert torch.allclose(
        logdet, torch.full((2,), c * 3 * 4 * torch.log(torch.tensor(1 / 16.0)).item(), dtype=torch.float64)
    )


def test_squeeze_channel_layout():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    y, _ = fk.Squeeze(2)(x)
    # channel p*2+q holds pixel (2h+p, 2w+q)
    assert y[0, :, 0, 0].tolist() == [0.0, 1.0, 4.0, 5.0]
    assert y[0, :, 1, 1].tolist() == [10.0, 11.0, 14.0, 15.0]


def test_invertible_1x1_conv_logdet_is_slogdet_of_weight():
    conv = perturb_parameters(fk.Invertible1x1Conv(5).double())
    x = torch.randn(2, 5, 3, 4, dtype=torch.float64)
    _, logdet = conv(x)
    expected = torch.linalg.slogdet(conv.weight())[1] * 12
    torch.testing.assert_close(logdet, expected.expand(2))


def test_actnorm_data_dependent_init_forward_and_inverse():
    x = 3.0 + 2.0 * torch.randn(256, 2, 4, 4)
    y, _ = fk.ActNorm(2)(x)
    assert y.mean(dim=(0, 2, 3)).abs().max() < 1e-4
    assert (y.std(dim=(0, 2, 3), unbiased=False) - 1).abs().max() < 1e-4
    # inverse first (normflows' log_prob direction): the latent side is standardised
    norm = fk.ActNorm(2)
    z, _ = norm.inverse(x)
    assert z.mean(dim=(0, 2, 3)).abs().max() < 1e-4
    assert (z.std(dim=(0, 2, 3), unbiased=False) - 1).abs().max() < 1e-4
    # the init flag is part of the state dict: a loaded layer is not re-initialised
    fresh = fk.ActNorm(2)
    fresh.load_state_dict(norm.state_dict())
    z2, _ = fresh.inverse(torch.randn(8, 2, 4, 4))
    assert bool(fresh.initialized)
    torch.testing.assert_close(fresh.log_scale, norm.log_scale)


def test_permute_modes_and_explicit():
    assert fk.Permute(4, mode="reverse").perm.tolist() == [3, 2, 1, 0]
    assert fk.Permute(4, mode="shift").perm.tolist() == [1, 2, 3, 0]
    assert fk.Permute(3, permutation=[2, 0, 1]).perm.tolist() == [2, 0, 1]
    assert torch.equal(fk.Permute(6, seed=3).perm, fk.Permute(6, seed=3).perm)


def test_quantizer_rounds_to_8bit_grid_with_identity_gradient():
    x = torch.tensor([-0.3, 0.0, 0.1, 0.50196, 0.999, 1.7], requires_grad=True)
    q = fk.StraightThroughQuantizer()(x)
    assert torch.equal(q * 255, torch.round(q * 255))
    assert q.tolist()[0] == 0.0 and q.tolist()[-1] == 1.0
    assert round(q[2].item() * 255) == 26  # 0.1 * 255 = 25.5 rounds half to even -> 26
    (g,) = torch.autograd.grad((q * torch.arange(6.0)).sum(), x)
    assert g.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_sequential_intermediates_and_logdet_sum():
    seq = perturb_parameters(fk.InvertibleSequential(fk.Squeeze(2), fk.AffineCoupling(12), fk.FlowCell(12)).double())
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    y, logdet, inter = seq.forward_with_intermediates(x)
    assert len(inter) == 4 and inter[0] is x and torch.equal(inter[-1], y)
    parts = sum(layer(inp)[1] for layer, inp in zip(seq, inter[:-1], strict=True))
    torch.testing.assert_close(logdet, parts)
    x_back, ld_inv, inter_inv = seq.inverse_with_intermediates(y)
    torch.testing.assert_close(x_back, x)
    assert len(inter_inv) == 4 and torch.equal(inter_inv[-1], x_back)
    torch.testing.assert_close(ld_inv, -logdet)
    head = seq[:2]  # a slice is a chain of those members
    assert isinstance(head, fk.InvertibleSequential) and len(head) == 2 and head[1] is seq[1]
    torch.testing.assert_close(head(x)[0], inter[2])


def test_float64_inverse_tolerance_is_met_after_perturbation():
    """The contract's numbers: 1e-10 relative in float64, 1e-5 in float32."""
    cell = perturb_parameters(fk.InvertibleSequential(*[fk.FlowCell(3) for _ in range(4)]))
    x = torch.rand(2, 3, 16, 16)
    assert check_invertible(cell, x) <= 1e-5
    assert check_invertible(cell.double(), x.double()) <= 1e-10


def test_logdet_on_vectors_via_jacobian():
    layer = perturb_parameters(
        fk.InvertibleSequential(fk.ActNorm(3), fk.Invertible1x1Conv(3), LAYERS["AffineCoupling-mlp"][0]()).double()
    )
    ref = check_logdet(layer, torch.randn(6, 3, dtype=torch.float64))
    assert ref.abs().min() > 0


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_agrees_on_an_empty_batch(name):
    make, shape = LAYERS[name]
    layer = make()
    layer(torch.randn(*shape))  # data-dependent initialisation happens on real data
    empty = torch.randn(0, *shape[1:])
    y, logdet = layer(empty)
    x, logdet_inv = layer.inverse(y)
    assert y.shape[0] == 0 and x.shape == empty.shape
    assert logdet.shape == (0,) and logdet_inv.shape == (0,)


@pytest.mark.parametrize(
    "data",
    [
        torch.randn(0, 3, 2, 2),
        torch.full((2, 3, 2, 2), float("nan")),
        torch.tensor([1.0, float("inf"), 0.0]).view(1, 3, 1, 1).repeat(2, 1, 2, 2),
    ],
)
@pytest.mark.parametrize("direction", ["forward", "inverse"])
def test_actnorm_refuses_to_initialise_from_empty_or_non_finite_data_and_stays_uninitialised(data, direction):
    norm = fk.ActNorm(3)
    with pytest.raises(ValueError, match="ActNorm: cannot initialise"):
        getattr(norm, direction)(data)
    assert not norm.initialized and torch.equal(norm.log_scale, torch.zeros(3))
    y, _ = norm(5 + 2 * torch.randn(16, 3, 4, 4))  # a good batch then initialises it
    assert norm.initialized and torch.isfinite(y).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_invertible_1x1_conv_inverts_in_low_precision(dtype):
    torch.manual_seed(0)
    conv = fk.Invertible1x1Conv(6)
    reference = torch.linalg.inv(conv.weight().double())
    low = conv.to(dtype)
    assert torch.allclose(low.inverse_weight().double(), reference, atol=2e-2)
    x = torch.randn(2, 6, 3, 3).to(dtype)
    y, logdet = low(x)
    back, logdet_inv = low.inverse(y)
    assert back.dtype == dtype and logdet_inv.dtype == dtype
    tol = {torch.float16: 5e-3, torch.bfloat16: 5e-2}[dtype]
    assert (back.float() - x.float()).abs().max() <= tol * x.float().abs().max()
    assert torch.equal(logdet_inv, -logdet)


def test_inverse_runs_a_flow_backwards_with_shared_parameters():
    coupling = perturb_parameters(fk.AffineCoupling(4).double())
    backwards = coupling.inv
    assert isinstance(backwards, fk.Inverse) and backwards.inv is coupling
    assert list(backwards.parameters())[0] is list(coupling.parameters())[0]
    y = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    x, logdet = backwards(y)
    x_ref, logdet_ref = coupling.inverse(y)
    assert torch.equal(x, x_ref) and torch.equal(logdet, logdet_ref)
    check_flow(backwards, y)
    with pytest.raises(TypeError, match="Inverse: expected a normflows.flows.Flow, got Linear"):
        fk.Inverse(torch.nn.Linear(2, 2))
    assert isinstance(fk.Unsqueeze(2), fk.Inverse) and fk.Unsqueeze(2).state_dict() == {}


def test_actnorm_explicit_initialisation_and_no_init_on_latent_draws():
    import normflows as nf

    data = 3.0 + 2.0 * torch.randn(128, 2, 3, 3)
    for side, run in (("input", lambda n: n(data)[0]), ("output", lambda n: n.inverse(data)[0])):
        norm = fk.ActNorm(2, init="explicit")
        for call in (norm, norm.inverse):
            with pytest.raises(RuntimeError, match=r"ActNorm\(init='explicit'\): .* call initialize\(data\) first"):
                call(data)
        assert not bool(norm.initialized)
        norm.initialize(data, side=side)
        out = run(norm)
        assert out.mean(dim=(0, 2, 3)).abs().max() < 1e-4
        assert (out.std(dim=(0, 2, 3), unbiased=False) - 1).abs().max() < 1e-4
    with pytest.raises(ValueError, match="init must be one of 'first-call', 'inverse', 'explicit'"):
        fk.ActNorm(2, init="lazy")
    # init="inverse" in a normflows model: sample() before log_prob() refuses instead of
    # initialising on latent draws; log_prob on data initialises, then sampling works
    model = nf.NormalizingFlow(nf.distributions.DiagGaussian((2, 3, 3)), [fk.ActNorm(2, init="inverse")])
    with pytest.raises(RuntimeError, match="forward before initialisation; run inverse"):
        model.sample(4)
    model.log_prob(data)
    assert torch.allclose(model.flows[0].bias, data.mean(dim=(0, 2, 3)), atol=1e-5)
    assert model.sample(4)[0].shape == (4, 2, 3, 3)


def test_an_initialised_actnorm_compiles_without_graph_breaks():
    norm = fk.ActNorm(3)
    norm.initialize(torch.randn(16, 3, 4, 4))
    x = torch.randn(2, 3, 4, 4)
    compiled = torch.compile(norm, fullgraph=True, backend="eager")
    y, logdet = compiled(x)
    torch.testing.assert_close(y, norm(x)[0])
    torch.testing.assert_close(logdet, norm(x)[1])
    back = torch.compile(norm.inverse, fullgraph=True, backend="eager")(y)[0]
    torch.testing.assert_close(back, x)
    loaded = fk.ActNorm(3)
    loaded.load_state_dict(norm.state_dict())
    torch.compile(loaded, fullgraph=True, backend="eager")(x)  # the flag comes with the state dict


def test_haar_downsampling_is_the_stride_2_convolution_with_its_kernels():
    from einops import rearrange

    from flowkit.layers.haar import haar_kernels

    x = torch.randn(2, 3, 6, 8)
    weight = haar_kernels().repeat(3, 1, 1).unsqueeze(1) / 4  # (4C, 1, 2, 2), sub-bands per channel
    by_conv = torch.nn.functional.conv2d(x, weight, stride=2, groups=3)  # channel-major: c0 LL,H,V,D, c1 ...
    y, _ = fk.layers.HaarDownsampling(3)(x)
    assert torch.allclose(y, rearrange(by_conv, "b (c k) h w -> b (k c) h w", k=4), atol=1e-6)


def test_a_coupling_is_only_its_transform():
    from flowkit.layers import Coupling

    class Incomplete(Coupling):
        pass

    with pytest.raises(NotImplementedError, match="Incomplete must implement couple"):
        Incomplete(4)(torch.randn(1, 4, 2, 2))
    with pytest.raises(NotImplementedError, match="Incomplete must implement uncouple"):
        Incomplete(4).inverse(torch.randn(1, 4, 2, 2))
    with pytest.raises(ValueError, match="Incomplete: split must be in"):
        Incomplete(4, split=4)
    with pytest.raises(ValueError, match=r"Incomplete\(channels=4, split=2\): expected 4 channels"):
        Incomplete(4)(torch.randn(1, 3, 2, 2))

    class Scale(Coupling):  # y2 = 2 x2, but uncouple forgets to undo it: the checks catch it
        def couple(self, x1, x2, context=None):
            return x1, 2 * x2, torch.full(x1.shape[:1], x2[0].numel() * math.log(2.0), dtype=x1.dtype)

        def uncouple(self, y1, y2, context=None):
            return y1, y2, torch.full(y1.shape[:1], -y2[0].numel() * math.log(2.0), dtype=y1.dtype)

    with pytest.raises(FlowCheckError):
        check_invertible(Scale(4).double(), torch.randn(2, 4, 2, 2, dtype=torch.float64))
