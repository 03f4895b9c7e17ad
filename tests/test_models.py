"""FGRN, IRN and the bicubic baseline: interface, exactness, parameter counts, training signal."""

import json
import math

import pytest
import torch

import flowkit as fk
from flowkit.metrics import psnr
from flowkit.models import FGRN, IRN, Bicubic, FGRNConfig, IRNConfig, build
from flowkit.testing import check_flow, check_invertible, perturb_parameters

SMALL_FGRN = {"channels": 16, "gd_blocks": 1, "gu_blocks": 1, "flow_cells": 2, "flow_growth": 8}
SMALL_IRN = {"blocks": 2, "growth": 8}


def _small(name, scale, **kw):
    base = {"fgrn": SMALL_FGRN, "irn": SMALL_IRN, "bicubic": {}}[name]
    return build(name, scale, **{**base, **kw})


def _on_grid(t):
    return bool(torch.equal(t * 255, torch.round(t * 255))) and t.min() >= 0 and t.max() <= 1


@pytest.mark.parametrize("name", ["fgrn", "irn", "bicubic"])
@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("size", [(16, 24), (17, 30), (5, 3)])
def test_interface_shapes_and_8bit_lr(name, scale, size):
    torch.manual_seed(0)
    model = _small(name, scale).eval()
    perturb_parameters(model, 0.2)
    hr = torch.rand(2, 3, *size)
    with torch.no_grad():
        lr = model.downscale(hr)
        assert lr.shape == (2, 3, math.ceil(size[0] / scale), math.ceil(size[1] / scale))
        assert model.lr_size(size) == tuple(lr.shape[-2:])
        assert _on_grid(lr)
        assert model.upscale(lr).shape == (2, 3, lr.shape[2] * scale, lr.shape[3] * scale)
        assert model.upscale(lr, size=size).shape == hr.shape
        assert model.rescale(hr).shape == hr.shape


def test_parameter_counts():
    assert IRN(IRNConfig.for_scale(2)).num_parameters() == 1_667_952
    assert IRN(IRNConfig.for_scale(4)).num_parameters() == 4_355_136
    # FGRN: within 5% of the paper's Table 1 (1.33M, 3.35M); exact counts of our choice
    for scale, paper, ours in [(2, 1.33e6, 1_315_067), (4, 3.35e6, 3_286_367)]:
        n = FGRN(FGRNConfig.for_scale(scale)).num_parameters()
        assert n == ours and abs(n - paper) / paper < 0.05
    assert Bicubic(fk.models.BicubicConfig(scale=4)).num_parameters() == 0


def test_fgrn_flow_is_an_exact_flow_with_library_logdet():
    model = FGRN(FGRNConfig.for_scale(4)).double()
    flow = perturb_parameters(model.flow, 0.3)
    assert all(isinstance(f, (fk.FlowCell, fk.Permute)) for f in flow)
    x = torch.rand(2, 3, 5, 6, dtype=torch.float64)
    check_flow(flow, x)  # exact inverse, log-det vs autograd Jacobian, cancellation, gradients
    assert check_invertible(flow.float(), torch.rand(2, 3, 32, 32)) <= 1e-5
    # the model's log-det bookkeeping is the sum of the cells' log-dets
    flow.double()
    _, logdet, inter = flow.forward_with_intermediates(x)
    torch.testing.assert_close(logdet, sum(f(v)[1] for f, v in zip(flow, inter[:-1], strict=True)))


def test_fgrn_lossless_at_init_and_roundtrip_report():
    model = FGRN(FGRNConfig.for_scale(2, **SMALL_FGRN)).eval()
    hr = torch.rand(2, 3, 16, 16)
    gap = model.roundtrip_gap(hr)
    assert gap["exact"].tolist() == [1.0, 1.0]  # F starts at the identity
    assert torch.isinf(gap["psnr"]).all()
    # lossless: an exact round trip is what the 8-bit LR gives, scored as evaluate() does, at
    # the input's size also when the model pads it
    for x in (hr, torch.rand(1, 3, 17, 13)):  # stride 2: padded
        torch.testing.assert_close(model.roundtrip_gap(x)["psnr_exact"], psnr(model.rescale(x), x, crop_border=2))
    perturb_parameters(model.flow, 0.5)
    gap = model.roundtrip_gap(hr)
    assert (gap["exact"] > 0).all() and (gap["exact"] <= 1).all()
    assert gap["psnr_exact"].shape == (2,) and torch.isfinite(gap["psnr_exact"]).all()


def test_irn_network_exact_with_z():
    model = IRN(IRNConfig.for_scale(2)).double()
    perturb_parameters(model, 0.1)
    x = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    check_flow(model.net, x)  # whole IRN x2: inverse, log-det vs Jacobian (Haar included)
    model4 = perturb_parameters(IRN(IRNConfig.for_scale(4, **SMALL_IRN)).double(), 0.3)
    hr = torch.rand(1, 3, 16, 20, dtype=torch.float64)
    out, _ = model4.net(hr)
    back, _ = model4.net.inverse(out)  # with the true z, the inverse is exact
    torch.testing.assert_close(back, hr, rtol=0, atol=1e-10)


def test_irn_z_modes():
    model = IRN(IRNConfig.for_scale(2, **SMALL_IRN, z_mode="zero"))
    lr = torch.rand(1, 3, 4, 4)
    assert torch.equal(model.latent(lr), torch.zeros(1, 9, 4, 4))
    with torch.no_grad():
        assert torch.equal(model.upscale(lr), model.upscale(lr))  # deterministic
    g = IRN(IRNConfig.for_scale(2, **SMALL_IRN))
    z = g.latent(lr)
    assert z.shape == (1, 9, 4, 4) and z.std() > 0.3
    with pytest.raises(ValueError, match="z must have shape"):
        g.upscale(lr, z=torch.zeros(1, 3, 4, 4))


def _train(model, steps=25, lr=2e-3, size=32, seed=0):
    """Loss on a fixed tiny batch before and after ``steps`` Adam steps."""
    gen = torch.Generator().manual_seed(seed)
    base = torch.rand(2, 3, size // 8, size // 8, generator=gen)
    hr = fk.image.imresize(base, 8).clamp(0, 1)  # smooth, image-like patches
    lr_bic = fk.image.imresize(hr, 1 / model.scale)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    torch.manual_seed(seed)
    first = None
    for _ in range(steps):
        losses = model.training_losses(hr, lr_bic)
        first = first or {k: v.item() for k, v in losses.items()}
        opt.zero_grad()
        losses["total"].backward()
        opt.step()
    with torch.no_grad():
        torch.manual_seed(seed)
        last = {k: v.item() for k, v in model.training_losses(hr, lr_bic).items()}
    return first, last


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("fgrn", {}),
        ("fgrn", {"guidance": "bicubic"}),
        ("fgrn", {"guidance": "none"}),
        ("fgrn", {"gamma": 0.0}),
        ("fgrn", {"train_on_roundtrip": False}),
        ("fgrn", {"rec_loss": "rmse"}),
        ("irn", {}),
        ("irn", {"z_mode": "zero"}),
    ],
    ids=["FGRN", "DU_bic", "DU_none", "gamma0", "no-roundtrip", "rmse", "IRN", "IRN-z0"],
)
def test_training_reduces_the_loss(name, overrides):
    torch.manual_seed(0)
    model = _small(name, 2, **overrides)
    first, last = _train(model)
    assert last["total"] < 0.7 * first["total"], (first, last)
    assert last["rec"] < first["rec"]
    if overrides.get("guidance", "flow") == "flow" and name == "fgrn":
        assert last["guide_l1"] < first["guide_l1"]


def test_fgrn_guidance_gradient_does_not_reach_gd():
    model = _small("fgrn", 2)
    perturb_parameters(model, 0.2)
    hr = torch.rand(2, 3, 16, 16)
    lr_bic = fk.image.imresize(hr, 0.5)
    losses = model.training_losses(hr, lr_bic)
    grads = torch.autograd.grad(
        losses["guide"], list(model.gd.parameters()) + list(model.flow.parameters()), allow_unused=True
    )
    n_gd = len(list(model.gd.parameters()))
    assert all(g is None or g.abs().max() == 0 for g in grads[:n_gd])
    assert any(g is not None and g.abs().max() > 0 for g in grads[n_gd:])
    # and L_rec does not train F
    rec_grads = torch.autograd.grad(losses["rec"], list(model.flow.parameters()), allow_unused=True)
    assert all(g is None for g in rec_grads)


def test_du_bic_guidance_trains_gd():
    model = _small("fgrn", 2, guidance="bicubic")
    assert model.flow is None
    hr = torch.rand(1, 3, 16, 16)
    losses = model.training_losses(hr, fk.image.imresize(hr, 0.5))
    grads = torch.autograd.grad(losses["guide"], list(model.gd.parameters()))
    assert any(g.abs().max() > 0 for g in grads)


def test_configs_round_trip_json_and_reject_unknown_fields():
    for cfg in (FGRNConfig.for_scale(2, gamma=0.1), IRNConfig.for_scale(4, z_mode="zero")):
        again = type(cfg).from_dict(json.loads(cfg.to_json()))
        assert again == cfg
    assert IRNConfig.for_scale(2).lambda_fit == 4.0 and IRNConfig.for_scale(4).lambda_fit == 16.0
    with pytest.raises(ValueError, match="unknown field"):
        FGRNConfig.from_dict({"scale": 2, "z_mode": "zero"})
    with pytest.raises(ValueError, match="scale must be 2 or 4"):
        FGRNConfig.for_scale(3)
    with pytest.raises(ValueError, match="guidance must be one of"):
        FGRNConfig.for_scale(2, guidance="magic")
    with pytest.raises(ValueError, match="unknown model"):
        build("edsr", 2)


LOSS_CHANGES = {
    "fgrn": {
        "gamma": 0.05,
        "bicubic_weight": 2.0,
        "train_on_roundtrip": False,
        "logdet_hinge": 0.1,
        "logdet_margin": 0.01,
        "roundtrip_weight": 0.2,
        "range_weight": 0.1,
        "guide_to_gd": 0.1,
        "guide_chroma": 3.0,
        "guide_chroma_hf": 2.0,
        "guide_rmse": 1.5,
        "rec_loss": "rmse",
    },
    "irn": {"lambda_fit": 3.0, "lambda_rec": 2.0, "lambda_ce": 0.5},
}


@pytest.mark.parametrize("name", ["fgrn", "irn"])
def test_configs_differing_only_in_loss_fields_build_the_same_network(name):
    changes = LOSS_CHANGES[name]
    plain = _small(name, 2)
    assert set(changes) == type(plain.config).LOSS_FIELDS
    other = _small(name, 2, **changes)
    assert other.config != plain.config and other.config.architecture() == plain.config.architecture()
    assert other.config.architecture() == other.config.architecture().architecture()
    other.load_state_dict(plain.state_dict())  # the same tensors, names and shapes
    hr = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        lrs = [m.downscale(hr) for m in (plain, other)]
        torch.manual_seed(0)
        first = plain.upscale(lrs[0])
        torch.manual_seed(0)
        second = other.upscale(lrs[1])
    assert torch.equal(lrs[0], lrs[1]) and torch.equal(first, second)
    assert _small(name, 2, **{"fgrn": {"flow_clamp": 1.0}, "irn": {"clamp": 2.0}}[name]).config.architecture() != (
        plain.config.architecture()
    )


@pytest.mark.parametrize(
    "field", ["gamma", "bicubic_weight", "logdet_hinge", "guide_chroma", "guide_chroma_hf", "guide_rmse"]
)
def test_fgrn_loss_weights_must_not_be_negative(field):
    with pytest.raises(ValueError, match=f"{field} must be >= 0, got -0.1"):
        FGRNConfig.for_scale(2, **{field: -0.1})


def test_unsqueeze_is_pixel_shuffle():
    x = torch.randn(2, 48, 3, 5)
    torch.testing.assert_close(fk.Unsqueeze(4)(x)[0], torch.nn.PixelShuffle(4)(x))


def test_bicubic_model_is_matlab_bicubic():
    hr = torch.rand(1, 3, 16, 12, dtype=torch.float64)
    model = Bicubic(fk.models.BicubicConfig(scale=4))
    torch.testing.assert_close(model.downscale(hr), torch.round(fk.image.imresize(hr, 0.25).clamp(0, 1) * 255) / 255)


def test_models_refuse_non_rgb():
    with pytest.raises(ValueError, match=r"expected an RGB batch \(B, 3, H, W\)"):
        _small("fgrn", 2).downscale(torch.rand(1, 1, 8, 8))


def test_weight_files_round_trip_and_refuse_foreign_files(tmp_path):
    from safetensors.torch import save_file

    from flowkit.models import ModelFileError, load_model, save_model

    model = perturb_parameters(_small("fgrn", 4, gamma=0.05), 0.1)
    save_model(model, tmp_path / "m.safetensors")
    again = load_model(tmp_path / "m.safetensors")
    assert again.config == model.config
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), model.state_dict().values(), strict=True))
    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ModelFileError, match="no flowkit model metadata"):
        load_model(tmp_path / "plain.safetensors")
    with pytest.raises(ModelFileError, match="no such weights file"):
        load_model(tmp_path / "missing.safetensors")


def test_logdet_hinge_penalises_only_contraction():
    from flowkit.models.fgrn.losses import guidance_loss

    lr, bic = torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    n = 48
    contracting, expanding = torch.tensor([-0.5 * n, -0.1 * n]), torch.tensor([0.2 * n, 0.4 * n])
    assert guidance_loss(lr, bic, contracting, 0.0, hinge=2.0)[0].item() == pytest.approx(2.0 * 0.3)
    assert guidance_loss(lr, bic, expanding, 0.0, hinge=2.0)[0].item() == 0.0
    assert guidance_loss(lr, bic, contracting, 1e-3)[0].item() == pytest.approx(1e-3 * 0.3)  # paper: no hinge
    logdet = contracting.clone().requires_grad_()
    guidance_loss(lr, bic, logdet, 0.0, hinge=2.0)[0].backward()
    assert torch.allclose(logdet.grad, torch.full((2,), -2.0 / (2 * n)))


def test_logdet_margin_asks_f_to_expand():
    from flowkit.models.fgrn.losses import guidance_loss

    lr, bic = torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    n = 48
    logdet = torch.tensor([0.02 * n, 0.3 * n])  # expanding: below and above a margin of 0.05
    assert guidance_loss(lr, bic, logdet, 0.0, hinge=2.0)[0].item() == 0.0
    assert guidance_loss(lr, bic, logdet, 0.0, hinge=2.0, margin=0.05)[0].item() == pytest.approx(2.0 * 0.03 / 2)
    logdet.requires_grad_()
    guidance_loss(lr, bic, logdet, 0.0, hinge=2.0, margin=0.05)[0].backward()
    assert torch.allclose(logdet.grad, torch.tensor([-2.0 / (2 * n), 0.0]))  # only the image below the margin
    with pytest.raises(ValueError, match="logdet_margin must be >= 0"):
        fk.models.FGRNConfig(logdet_hinge=0.1, logdet_margin=-0.1)
    with pytest.raises(ValueError, match="set logdet_hinge above 0"):
        fk.models.FGRNConfig(logdet_margin=0.05)


def test_logdet_margin_reaches_the_training_loss():
    torch.manual_seed(0)
    hr, bic = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 4, 4)
    plain = fk.models.FGRN(fk.models.FGRNConfig(scale=4, channels=8, gd_blocks=1, gu_blocks=1, logdet_hinge=1.0))
    margin = fk.models.FGRN(
        fk.models.FGRNConfig(scale=4, channels=8, gd_blocks=1, gu_blocks=1, logdet_hinge=1.0, logdet_margin=0.5)
    )
    margin.load_state_dict(plain.state_dict())
    a, b = plain.training_losses(hr, bic), margin.training_losses(hr, bic)
    assert b["logdet"].item() == pytest.approx(a["logdet"].item())
    expected = (0.5 - a["logdet"].item()) - max(0.0, -a["logdet"].item())  # the extra hinge, F barely expanding at init
    assert b["guide"].item() - a["guide"].item() == pytest.approx(expected, abs=1e-5)


def test_roundtrip_loss_counts_8bit_steps_beyond_the_tolerance():
    from flowkit.models.fgrn.losses import ROUNDTRIP_TOLERANCE, roundtrip_loss

    x = torch.full((1, 3, 1, 4), 0.5)
    steps = torch.tensor([0.0, 0.2, -0.5, 1.0])  # in 8-bit steps; the sign does not matter
    x_back = x + steps / 255
    expected = (steps.abs() - ROUNDTRIP_TOLERANCE).clamp_min(0).mean().item()  # [0, 0, 0.25, 0.75] / 4
    assert ROUNDTRIP_TOLERANCE == 0.25 and expected == pytest.approx(0.25)
    assert roundtrip_loss(x_back, x).item() == pytest.approx(expected, rel=1e-4)


def _fgrn_pair(**option):
    """Two small FGRN x4 with the same tensors, the second with loss options, and one batch: ``(plain, model, hr,
    bicubic LR)``."""
    torch.manual_seed(0)
    small = {"scale": 4, "channels": 8, "gd_blocks": 1, "gu_blocks": 1}
    hr, bic = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 4, 4)
    plain = fk.models.FGRN(fk.models.FGRNConfig(**small))
    model = fk.models.FGRN(fk.models.FGRNConfig(**small, **option))
    model.load_state_dict(plain.state_dict())
    return plain, model, hr, bic


@pytest.mark.parametrize(
    ("option", "key", "other_guidance"),
    [("roundtrip_weight", "roundtrip", "none"), ("range_weight", "range", "bicubic")],
)
def test_extra_terms_of_l_guide_train_f_alone(option, key, other_guidance):
    # the round trip through F's inverse (F asked to make the LR file lossless) and F's output
    # beyond [0, 1] (what the quantiser's clamp loses), each weighted into L_guide
    plain, model, hr, bic = _fgrn_pair(**{option: 2.0})
    with torch.no_grad():  # F far from the identity: its inverse misses the rounded grid, its output leaves [0, 1]
        for p in model.flow.parameters():
            p.add_(0.3 * torch.randn_like(p))
    plain.load_state_dict(model.state_dict())
    a, b = plain.training_losses(hr, bic), model.training_losses(hr, bic)
    assert key not in a and b[key].item() > 0
    assert b["guide"].item() == pytest.approx(a["guide"].item() + 2.0 * b[key].item(), rel=1e-5)
    assert b["exact"].item() == pytest.approx(a["exact"].item())  # the same round trip, counted the same way
    model.zero_grad()
    b[key].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.flow.parameters())
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.gd.parameters())  # guide_to_gd 0
    with pytest.raises(ValueError, match=f"{option} needs guidance 'flow'"):
        fk.models.FGRNConfig(guidance=other_guidance, **{option: 1.0})
    with pytest.raises(ValueError, match=f"{option} must be >= 0"):
        fk.models.FGRNConfig(**{option: -1.0})


def test_range_loss_counts_8bit_steps_beyond_the_half_step_rounding_absorbs():
    from flowkit.models.fgrn.losses import range_loss

    steps = torch.tensor([-2.0, -0.4, 0.0, 128.0, 255.0, 255.3, 256.0, 258.5])  # F's output, in 8-bit steps
    lr = (steps / 255).reshape(1, 1, 2, 4).expand(1, 3, 2, 4)
    # below 0: 1.5 and 0 beyond the half step; above 255: 0, 0.5 and 3.0
    assert range_loss(lr).item() == pytest.approx((1.5 + 0.5 + 3.0) / 8, rel=1e-5)
    assert range_loss(torch.rand(2, 3, 4, 4)).item() == 0.0  # an LR inside [0, 1] costs nothing
    y = lr.clone().requires_grad_()
    range_loss(y).backward()  # pushes the clipped entries back, leaves the others alone
    g = y.grad[0, 0].flatten() * y.numel() / 255  # d(mean)/dy = ±255 / numel beyond the half step, else 0
    assert g.tolist() == pytest.approx([-1, 0, 0, 0, 0, 0, 1, 1], abs=1e-5)


def test_guide_chroma_weighs_only_colour_deviations():
    from flowkit.models.fgrn.losses import guidance_loss

    bic = torch.full((1, 3, 4, 4), 0.5)
    grey = bic + 0.1  # brighter, same colour: no chroma difference
    red = bic + torch.tensor([0.1, 0.0, 0.0]).view(1, 3, 1, 1)  # BT.601: Cb -37.797/255, Cr +112/255 per unit R
    logdet = torch.zeros(1)
    plain_grey, plain_red = (guidance_loss(x, bic, logdet, 0.0)[0].item() for x in (grey, red))
    assert guidance_loss(grey, bic, logdet, 0.0, chroma=3.0)[0].item() == pytest.approx(plain_grey, abs=1e-6)
    chroma_l1 = 0.1 * (37.797 + 112.0) / 255 / 2  # the mean over Cb and Cr
    assert guidance_loss(red, bic, logdet, 0.0, chroma=3.0)[0].item() == pytest.approx(plain_red + 3.0 * chroma_l1)
    assert guidance_loss(red, bic, logdet, 0.0, chroma=3.0)[1].item() == pytest.approx(plain_red)  # l1 unchanged
    with pytest.raises(ValueError, match="guide_chroma must be >= 0"):
        fk.models.FGRNConfig(guide_chroma=-1.0)


def test_high_pass_removes_smooth_images_and_keeps_speckle():
    from flowkit.models.fgrn.losses import high_pass

    assert high_pass(torch.full((1, 2, 5, 6), 0.3)).abs().max().item() < 1e-7  # constant: nothing
    ramp = torch.arange(6.0).view(1, 1, 1, 6).expand(1, 2, 5, 6) * 0.01 + torch.arange(5.0).view(1, 1, 5, 1) * 0.02
    assert high_pass(ramp)[..., 1:-1, 1:-1].abs().max().item() < 1e-7  # linear: nothing off the border
    i, j = torch.meshgrid(torch.arange(6), torch.arange(7), indexing="ij")
    board = 0.1 * (1 - 2 * ((i + j) % 2)).float().expand(1, 2, 6, 7)  # ±0.1, alternating
    # a pixel's 3 x 3 mean is v (itself) - 4v (edges) + 4v (corners), over 9: v / 9; 8v / 9 remains
    assert torch.allclose(high_pass(board)[..., 1:-1, 1:-1], board[..., 1:-1, 1:-1] * 8 / 9)
    edge = board.clone().requires_grad_()
    high_pass(edge).abs().sum().backward()
    assert edge.grad.abs().sum() > 0


def test_guide_chroma_hf_weighs_only_colour_speckle():
    from flowkit.models.fgrn.losses import guidance_loss, high_pass

    bic = torch.full((1, 3, 6, 6), 0.5)
    logdet = torch.zeros(1)
    i, j = torch.meshgrid(torch.arange(6), torch.arange(6), indexing="ij")
    board = (1 - 2 * ((i + j) % 2)).float()  # ±1, alternating
    red = torch.tensor([0.1, 0.0, 0.0]).view(1, 3, 1, 1)  # BT.601: Cb -37.797/255, Cr +112/255 per unit R
    cases = {
        "smooth red": bic + red,  # one colour shift over the whole LR
        "grey speckle": bic + 0.1 * board,  # speckle in brightness only
        "red speckle": bic + red * board,  # speckle in colour
    }
    extra = {}
    for name, lr in cases.items():
        plain, plain_l1 = guidance_loss(lr, bic, logdet, 0.0, chroma=3.0)
        loss, l1 = guidance_loss(lr, bic, logdet, 0.0, chroma=3.0, chroma_hf=2.0)
        assert l1.item() == pytest.approx(plain_l1.item())  # the reported L1 is unchanged
        extra[name] = (loss - plain).item() / 2.0
    assert extra["smooth red"] == pytest.approx(0.0, abs=1e-6)
    assert extra["grey speckle"] == pytest.approx(0.0, abs=1e-6)
    # the red speckle's chroma is ±(Cb, Cr) of 0.1 R; its high pass keeps 8/9 of it inside, more on the edge
    dc = (0.1 * torch.tensor([-37.797, 112.0]) / 255).view(1, 2, 1, 1) * board
    assert extra["red speckle"] == pytest.approx(high_pass(dc).abs().mean().item(), rel=1e-5)
    assert extra["red speckle"] > 8 / 9 * dc.abs().mean().item()
    off, on, hr, lr_bic = _fgrn_pair(guide_chroma_hf=2.0)  # weighed into L_guide, its gradient to F
    a, b = off.training_losses(hr, lr_bic), on.training_losses(hr, lr_bic)
    f_lr, _ = on.flow(on.quantize(on.gd(hr)))
    dc = (fk.image.rgb_to_ycbcr(f_lr) - fk.image.rgb_to_ycbcr(lr_bic))[:, 1:]
    assert b["guide"].item() == pytest.approx(a["guide"].item() + 2.0 * high_pass(dc).abs().mean().item(), rel=1e-5)
    on.zero_grad()
    (b["guide"] - a["guide"].detach()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in on.flow.parameters())
    with pytest.raises(ValueError, match="guide_chroma_hf needs guidance 'flow'"):
        fk.models.FGRNConfig(guidance="bicubic", guide_chroma_hf=1.0)


def test_guide_rmse_presses_hardest_on_the_largest_deviations():
    from flowkit.models.fgrn.losses import guidance_loss

    bic = torch.full((1, 3, 2, 2), 0.5)
    steps = torch.zeros(1, 3, 2, 2)
    steps[0, 0, 0, 0], steps[0, 1, 1, 1] = 1.0, 8.0  # two entries off, by one and by eight 8-bit steps
    lr = (bic + steps / 255).requires_grad_()
    logdet = torch.zeros(1)
    plain, plain_l1 = guidance_loss(lr, bic, logdet, 0.0)
    loss, l1 = guidance_loss(lr, bic, logdet, 0.0, rmse=1.5)
    rmse = math.sqrt((1 + 64) / 12) / 255
    assert loss.item() == pytest.approx(plain.item() + 1.5 * rmse, rel=1e-5)
    assert l1.item() == pytest.approx(plain_l1.item())  # the reported L1 is unchanged
    (loss - plain).backward()  # d/d e_i of 1.5 sqrt(mean e^2) = 1.5 e_i / (12 rmse)
    expected = 1.5 * (steps / 255) / (12 * rmse)
    assert torch.allclose(lr.grad, expected, rtol=1e-4, atol=1e-9)
    assert lr.grad[0, 1, 1, 1] == pytest.approx(8 * lr.grad[0, 0, 0, 0].item(), rel=1e-4)  # L1: the same push
    off, on, hr, lr_bic = _fgrn_pair(guide_rmse=1.5)  # the model weighs the term into L_guide
    a, b = off.training_losses(hr, lr_bic), on.training_losses(hr, lr_bic)
    f_lr, _ = on.flow(on.quantize(on.gd(hr)))
    expected_rmse = (f_lr - lr_bic).square().mean().sqrt().item()
    assert b["guide"].item() == pytest.approx(a["guide"].item() + 1.5 * expected_rmse, rel=1e-5)
    with pytest.raises(ValueError, match="guide_rmse needs guidance 'flow'"):
        fk.models.FGRNConfig(guidance="none", guide_rmse=1.0)


def test_rmse_reconstruction_loss_is_the_batch_rmse_and_reaches_the_model():
    from flowkit.models.fgrn.losses import reconstruction_loss

    hr = torch.zeros(2, 3, 2, 2)
    sr = hr.clone()
    sr[0, 0, 0, 0], sr[1, 2, 1, 1] = 0.3, -0.4  # squared errors 0.09 and 0.16 over 24 elements
    assert reconstruction_loss(sr, hr).item() == pytest.approx(0.7 / 24)  # the paper's L1
    assert reconstruction_loss(sr, hr, "rmse").item() == pytest.approx(math.sqrt(0.25 / 24))
    sr.requires_grad_()
    reconstruction_loss(sr, hr, "rmse").backward()  # d/d e_i sqrt(mean e^2) = e_i / (N rmse)
    expected = (sr - hr).detach() / (24 * math.sqrt(0.25 / 24))
    assert torch.allclose(sr.grad, expected)
    luma = [65.481 / 255 * 0.3, 24.966 / 255 * -0.4]  # BT.601 luma of the two errors, over 8 pixels
    rmse_luma = math.sqrt(sum(v * v for v in luma) / 8)
    assert reconstruction_loss(sr, hr, "rmse_luma").item() == pytest.approx(0.5 * (math.sqrt(0.25 / 24) + rmse_luma))
    with pytest.raises(ValueError, match="kind must be one of"):
        reconstruction_loss(sr, hr, "l2")
    with pytest.raises(ValueError, match="rec_loss must be one of"):
        fk.models.FGRNConfig(rec_loss="mse")

    torch.manual_seed(0)
    model = perturb_parameters(_small("fgrn", 2, rec_loss="rmse"), 0.05)
    torch.manual_seed(1)
    hr = torch.rand(2, 3, 16, 16)
    out = model.training_losses(hr, fk.image.imresize(hr, 0.5))
    with torch.no_grad():  # Gu sees the 8-bit round trip of the representation (train_on_roundtrip)
        x = model.quantize(model.gd(hr))
        sr = model.gu(model.from_lr(model.quantize(model.flow(x)[0])))
    assert out["rec"].item() == pytest.approx(((sr - hr).square().mean().sqrt()).item(), rel=1e-5)


def test_guide_to_gd_scales_only_the_guidance_gradient_reaching_gd():
    def grads(weight):
        torch.manual_seed(0)
        model = perturb_parameters(_small("fgrn", 2, bicubic_skip=True, guide_to_gd=weight), 0.05)
        torch.manual_seed(1)
        hr = torch.rand(2, 3, 16, 16)
        out = model.training_losses(hr, fk.image.imresize(hr, 0.5))
        out["guide"].backward()
        gd = torch.cat([torch.zeros(p.numel()) if p.grad is None else p.grad.flatten() for p in model.gd.parameters()])
        flow = torch.cat([p.grad.flatten() for p in model.flow.parameters()])
        return out["guide"].detach(), gd, flow

    paper, half, full = grads(0.0), grads(0.5), grads(1.0)
    assert torch.equal(paper[0], half[0]) and torch.equal(paper[0], full[0])  # the loss value is unchanged
    assert torch.count_nonzero(paper[1]) == 0 and torch.count_nonzero(full[1]) > 0  # the paper: F alone
    torch.testing.assert_close(half[1], 0.5 * full[1])
    torch.testing.assert_close(paper[2], half[2])  # F's gradient does not depend on the weight
    with pytest.raises(ValueError, match="guide_to_gd must be >= 0"):
        FGRNConfig(scale=2, guide_to_gd=-0.1)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_weights_stored_in_16_bits_load_into_float32(tmp_path, dtype):
    from flowkit.models import load_model, save_model

    torch.manual_seed(0)
    model = perturb_parameters(build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1, flow_cells=1, flow_growth=4))
    save_model(model, tmp_path / "full.safetensors")
    save_model(model, tmp_path / "half.safetensors", dtype=dtype)
    assert (tmp_path / "half.safetensors").stat().st_size < 0.6 * (tmp_path / "full.safetensors").stat().st_size
    again = load_model(tmp_path / "half.safetensors")
    for name, value in model.state_dict().items():
        loaded = again.state_dict()[name]
        assert loaded.dtype == value.dtype
        expected = value.to(dtype).to(value.dtype) if value.is_floating_point() else value
        assert torch.equal(loaded, expected), name


def test_cast_floating_casts_only_floating_point_tensors_and_never_in_place():
    from flowkit.models.io import cast_floating

    tensors = {"w": torch.tensor([1.0, 1.0 + 2**-10]), "steps": torch.tensor([3], dtype=torch.long)}
    half = cast_floating(tensors, torch.bfloat16)
    assert half["w"].dtype == torch.bfloat16 and half["w"].tolist() == [1.0, 1.0]  # below bfloat16's step
    assert half["steps"].dtype == torch.long and torch.equal(half["steps"], tensors["steps"])
    assert tensors["w"].dtype == torch.float32 and tensors["w"][1].item() == 1.0 + 2**-10
    same = cast_floating(tensors, None)
    assert same is not tensors and same.keys() == tensors.keys() and all(same[k] is tensors[k] for k in same)


def test_models_are_built_with_keywords_and_configs_resolve_the_scale():
    from flowkit.models import FGRN, IRN, Bicubic, FGRNConfig, build

    assert FGRN(scale=2).config == build("fgrn", 2).config and FGRN(scale=2).num_parameters() == 1_315_067
    assert FGRNConfig(scale=2).channels == 64 and FGRNConfig(scale=4).channels == 96
    assert FGRNConfig(scale=2, channels=32).channels == 32
    assert FGRN(scale=4, gamma=1e-3).config.gamma == 1e-3
    assert IRN(scale=4).num_parameters() == 4_355_136 and Bicubic(scale=2).scale == 2
    assert FGRN.from_config(FGRNConfig(scale=2)).config == FGRN(scale=2).config
    with pytest.raises(
        TypeError,
        match=r"config must be an instance of FGRNConfig, got int \(for a scale, write "
        r"FGRN\(scale=\.\.\.\)\)",
    ):
        FGRN(2)
    with pytest.raises(TypeError, match="give a config or keyword fields, not both"):
        FGRN(FGRNConfig(scale=2), gamma=0.1)
    with pytest.raises(ValueError, match="FGRN: unknown field"):
        FGRN(scale=2, blocks=3)


def test_configs_are_frozen_and_replace_validates():
    import dataclasses

    from flowkit.models import FGRNConfig, IRNConfig

    config = FGRNConfig(scale=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.gamma = 1.0
    assert config.replace(gamma=0.5).gamma == 0.5 and config.gamma == 1e-3
    with pytest.raises(ValueError, match="scale must be 2 or 4"):
        config.replace(scale=3)
    assert IRNConfig(scale=2).lambda_fit == 4.0 and hash(IRNConfig(scale=2)) == hash(IRNConfig(scale=2))


def test_a_registered_user_model_works_wherever_a_name_is_accepted(tmp_path):
    import json

    from flowkit.image import save_png
    from flowkit.models import MODELS, Bicubic, build, load_model, register, save_model
    from flowkit.train import Trainer, load_config

    @register
    class Shrunk(Bicubic):
        """Bicubic with one trainable gain on the upscale (a user's model)."""

        name = "shrunk-test"

        def __init__(self, config=None, **fields):
            super().__init__(config, **fields)
            self.gain = torch.nn.Parameter(torch.tensor(0.9))

        def upscale(self, lr, size=None):
            return super().upscale(lr, size) * self.gain

        def training_losses(self, hr, lr_bicubic):
            loss = (self.upscale(self.downscale(hr), tuple(hr.shape[-2:])) - hr).abs().mean()
            return {"total": loss, "rec": loss}

    try:
        model = build("shrunk-test", 2)
        save_model(model, tmp_path / "w.safetensors")
        assert isinstance(load_model(tmp_path / "w.safetensors"), Shrunk)
        (tmp_path / "train").mkdir()
        for i in range(3):
            save_png(tmp_path / "train" / f"{i}.png", torch.rand(3, 32, 32))
        fields = {
            "model": "shrunk-test",
            "scale": 2,
            "train_dirs": [str(tmp_path / "train")],
            "patch_size": 16,
            "batch_size": 2,
            "iterations": 3,
            "workers": 0,
            "lr": 0.01,
            "val_every": 0,
        }
        trainer = Trainer.from_config(
            load_config(None, [f"{k}={json.dumps(v)}" for k, v in fields.items()]),
            tmp_path / "run",
            progress=False,
            tensorboard=False,
        )
        trainer.run()
        assert trainer.model.gain.item() != pytest.approx(0.9)
        with pytest.raises(ValueError, match="the name 'shrunk-test' is taken"):
            register(type("Other", (Bicubic,), {"name": "shrunk-test"}))
    finally:
        MODELS.pop("shrunk-test", None)


def test_crop_and_stochastic_are_public():
    from flowkit.models import FGRN, IRN, RescalingModel

    x = torch.rand(1, 3, 10, 12)
    assert RescalingModel.crop(x, (7, 9)).shape == (1, 3, 7, 9) and RescalingModel.crop(x, None) is x
    with pytest.raises(ValueError, match="cannot crop"):
        RescalingModel.crop(x, (11, 9))
    assert IRN(scale=2).stochastic and not IRN(scale=2, z_mode="zero").stochastic and not FGRN(scale=2).stochastic
