"""PSNR/SSIM/NIQE/PIQE against published values and independent implementations."""

import math

import numpy as np
import pytest
import torch
from pypiqe import piqe as pypiqe_reference
from skimage.metrics import structural_similarity

from flowkit.image import EvalSet, imresize, load, rgb_to_gray
from flowkit.metrics import niqe, piqe, psnr, ssim
from flowkit.metrics.common import prepare_pair


def test_psnr_hand_computed():
    a = torch.zeros(1, 3, 8, 8, dtype=torch.float64)
    b = a.clone()
    b[..., 0, 0] = 10 / 255  # one pixel off by 10 levels in every channel
    assert psnr(a, b, y_channel=False).item() == pytest.approx(10 * math.log10(255**2 / (100 / 64)))
    # Y channel: the pixel differs by 10 * (65.481 + 128.553 + 24.966) / 255 levels
    dy = 10 * (65.481 + 128.553 + 24.966) / 255
    assert psnr(a, b).item() == pytest.approx(10 * math.log10(255**2 / (dy**2 / 64)))
    # crop_border removes the differing pixel
    assert psnr(a, b, crop_border=1).item() == math.inf


def test_psnr_rounds_to_8bit_and_clamps_first():
    a = torch.rand(2, 3, 6, 6, dtype=torch.float64)
    levels = torch.round(a * 255) / 255
    assert torch.isinf(psnr(levels + 0.4 / 255, levels)).all()  # under half a level: same 8-bit image
    over = levels.clone()
    over[0, :, 0, 0] = 1.7
    clamped = over.clamp(0, 1)
    assert psnr(over, clamped)[0].item() == math.inf
    assert psnr(a[0], a[0]).shape == (1,)


def test_psnr_bad_input():
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5))
    with pytest.raises(ValueError, match="crop_border 2 leaves nothing"):
        psnr(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), crop_border=2)
    with pytest.raises(ValueError, match="NaN"):
        psnr(torch.full((1, 3, 4, 4), float("nan")), torch.rand(1, 3, 4, 4))


@pytest.mark.parametrize("y_channel", [True, False])
@pytest.mark.parametrize("crop", [0, 4])
def test_ssim_matches_scikit_image(y_channel, crop):
    """Reference: skimage structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=255), per channel, averaged."""
    torch.manual_seed(2)
    a = torch.rand(2, 3, 41, 37, dtype=torch.float64)
    b = (a + 0.1 * torch.randn_like(a)).clamp(0, 1)
    ours = ssim(a, b, crop_border=crop, y_channel=y_channel)
    p, t = prepare_pair("test", a, b, crop, y_channel)
    for i in range(2):
        ref = np.mean(
            [
                structural_similarity(
                    p[i, c].numpy(),
                    t[i, c].numpy(),
                    gaussian_weights=True,
                    sigma=1.5,
                    use_sample_covariance=False,
                    data_range=255,
                )
                for c in range(p.shape[1])
            ]
        )
        assert ours[i].item() == pytest.approx(ref, abs=1e-12)


def _bicubic_bicubic(directory, scale):
    ps, ss = [], []
    for im in EvalSet(directory, scale):
        sr = imresize(im.lr[None], scale)
        ps.append(psnr(sr, im.hr[None], crop_border=scale).item())
        ss.append(ssim(sr, im.hr[None], crop_border=scale).item())
    return float(np.mean(ps)), float(np.mean(ss))


@pytest.mark.parametrize("scale, paper_psnr, paper_ssim", [(2, 33.66, 0.9299), (4, 28.42, 0.8104)])
def test_bicubic_bicubic_reproduces_paper_table1_on_set5(shared_data, scale, paper_psnr, paper_ssim):
    """Reference: FGRN paper Table 1, 'Bicubic & Bicubic' on Set5 (MATLAB-made numbers).
    Measured here: x2 33.68 / 0.9305, x4 28.43 / 0.8113."""
    p, s = _bicubic_bicubic(shared_data / "eval" / "Set5", scale)
    assert abs(p - paper_psnr) < 0.05
    assert abs(s - paper_ssim) < 0.002


def test_niqe_reference_value_on_baboon(shared_data):
    """Reference: BasicSR calculate_niqe on baboon.png = 5.7295763 (MATLAB R2021a: 5.72957338).
    flowkit computes in float64 and gives 5.72996; BasicSR's float32 pipeline gives 5.72958."""
    img = load(shared_data / "eval" / "Set14" / "baboon.png")
    value = niqe(img, params=shared_data / "niqe" / "niqe_pris_params.npz")
    assert value.shape == (1,)
    assert value.item() == pytest.approx(5.72957, abs=1e-3)


def test_niqe_params_from_environment(shared_data, monkeypatch):
    monkeypatch.setenv("FLOWKIT_NIQE_PARAMS", str(shared_data / "niqe" / "niqe_pris_params.npz"))
    img = load(shared_data / "eval" / "Set5" / "baby.png")[:, :200, :200]
    noisy = (img + 0.1 * torch.randn_like(img)).clamp(0, 1)
    clean, degraded = niqe(torch.stack((img, noisy))).tolist()
    assert degraded > clean + 1  # noise makes the image less natural


def test_niqe_missing_params_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("FLOWKIT_NIQE_PARAMS", raising=False)
    monkeypatch.delenv("FLOWKIT_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="niqe_pris_params.npz.*FLOWKIT_NIQE_PARAMS"):
        niqe(torch.rand(3, 100, 100))
    with pytest.raises(FileNotFoundError, match="not found"):
        niqe(torch.rand(3, 100, 100), params=tmp_path / "nope.npz")


def test_niqe_too_small_image(shared_data):
    with pytest.raises(ValueError, match="at least 96x96"):
        niqe(torch.rand(3, 95, 200), params=shared_data / "niqe" / "niqe_pris_params.npz")


def _pypiqe_of(img):
    """Reference: pypiqe (a port of MATLAB's piqe.m, 'tested against the MATLAB function'),
    fed the MATLAB rgb2gray uint8 image so both see the same gray levels."""
    gray = torch.round(rgb_to_gray(torch.round(img * 255)))[0].numpy().astype(np.uint8)
    return pypiqe_reference(gray)[0]


def test_piqe_matches_reference_on_real_images(shared_data):
    names = ["Set5/baby.png", "Set5/woman.png", "Set14/comic.png", "Set14/bridge.png"]
    for name in names:
        img = load(shared_data / "eval" / name, dtype=torch.float64)
        for im in (img, imresize(img[None], 0.25)[0].clamp(0, 1)):  # sizes off the 16 grid too
            assert piqe(im).item() == pytest.approx(_pypiqe_of(im), abs=1e-8), name


def test_piqe_matches_reference_on_random_sizes():
    gen = torch.Generator().manual_seed(3)
    for h, w in [(16, 16), (37, 50), (64, 21), (9, 9)]:
        base = torch.rand(3, h, w, generator=gen, dtype=torch.float64)
        smooth = imresize(imresize(base[None], 0.5), size=(h, w))[0].clamp(0, 1)
        for im in (base, smooth):
            assert piqe(im).item() == pytest.approx(_pypiqe_of(im), abs=1e-8)


def test_piqe_flat_and_batched():
    flat = torch.full((2, 3, 32, 48), 0.3)
    assert piqe(flat).tolist() == [100.0, 100.0]
    assert piqe(torch.zeros(1, 3, 20, 20)).tolist() == [100.0]


def test_lr_quality_scores_an_lr_as_evaluate_does(shared_data):
    """PIQE always; NIQE only from 96x96 pixels (its block), as evaluate() averages it."""
    from flowkit.evaluation import lr_quality

    params = shared_data / "niqe" / "niqe_pris_params.npz"
    img = load(shared_data / "eval" / "Set5" / "baby.png")[None, :, :100, :120]
    q = lr_quality(img, params)
    assert q["piqe"] == pytest.approx(piqe(img).item())
    assert q["niqe"] == pytest.approx(niqe(img, params=params).item())
    small = lr_quality(img[..., :95, :], params)
    assert small["niqe"] is None and small["piqe"] == pytest.approx(piqe(img[..., :95, :]).item())
