"""benchmarks.reproduce.validate_weights: the test-card guard scores what ``flowkit demo`` prints; ``--digits``."""

import contextlib
import io
import re

import pytest

from benchmarks.reproduce.validate_weights import test_card_psnr as card_psnr
from flowkit.models import build


@pytest.mark.parametrize(("scale", "expected"), [(2, 21.20), (4, 15.41)])
def test_the_test_card_guard_gives_the_demos_bicubic_psnr(scale, expected):
    # `flowkit demo --scale S` prints these for bicubic (Y-PSNR, the scale's border cropped)
    assert card_psnr(build("bicubic", scale)) == pytest.approx(expected, abs=0.005)


def test_the_piqe_reference_is_the_8bit_bicubic_lr_and_lr_piqe_its_mean():
    import torch

    from benchmarks.reproduce.validate_weights import bicubic_lrs, lr_piqe
    from flowkit.image import imresize
    from flowkit.layers.quantize import quantize
    from flowkit.metrics import piqe
    from flowkit.train.validation import validate

    torch.manual_seed(0)
    images = [torch.rand(3, 64, 64), torch.rand(3, 48, 80)]
    # what validate() hands back as the LR samples of Bicubic & Bicubic: the 8-bit bicubic LR
    samples = validate(build("bicubic", 2), images, torch.device("cpu"))["samples"]
    reference = bicubic_lrs(images, 2)
    assert [lr.shape for lr in reference] == [(3, 32, 32), (3, 24, 40)]
    assert all(torch.equal(lr, ref) for (_, lr, _), ref in zip(samples, reference, strict=True))
    assert torch.equal(reference[0], quantize(imresize(images[0][None], 0.5))[0])
    assert lr_piqe(reference) == pytest.approx((piqe(reference[0]).item() + piqe(reference[1]).item()) / 2)


def test_rgb_psnr_is_the_mean_rgb_psnr_of_the_round_trips_with_the_border_cropped():
    import torch

    from benchmarks.reproduce.validate_weights import rgb_psnr
    from flowkit.metrics import psnr

    torch.manual_seed(0)
    hr = torch.rand(3, 16, 16)
    sr = hr.clone()
    sr[0, 2:14, 2:14] += 0.1  # red only, inside the cropped border: Y weighs it by 65.481/255, RGB counts all of it
    far = hr.clone()
    far[:, :2] = 1 - far[:, :2]  # all of it in the cropped border
    samples = [(hr, None, sr), (hr, None, far)]
    crop = psnr(sr[None], hr[None], crop_border=2, y_channel=False).item()
    assert rgb_psnr(samples[:1], 2) == pytest.approx(crop)
    assert crop < psnr(sr[None], hr[None], crop_border=2).item()  # the Y-PSNR misses the colour
    assert rgb_psnr(samples, 2) == float("inf")  # the second is exact inside the border; the mean is inf
    assert rgb_psnr(samples, 1) < crop


def test_lr_luma_chroma_splits_the_lrs_distance_from_the_bicubic_lr():
    import math

    import torch

    from benchmarks.reproduce.validate_weights import bicubic_lrs, lr_luma_chroma

    torch.manual_seed(0)
    hrs = [torch.rand(3, 32, 32) * 0.5 + 0.25, torch.rand(3, 24, 40) * 0.5 + 0.25]
    bicubic = bicubic_lrs(hrs, 2)
    grey = [lr + 4 / 255 for lr in bicubic]  # R = G = B shift: luma only
    luma, chroma = lr_luma_chroma(grey, bicubic)
    assert luma == pytest.approx(-20 * math.log10(4 * 219 / 255**2)) and chroma > 100  # 0 up to float32 rounding
    blue = [lr + torch.tensor([0, 0, 4 / 255])[:, None, None] for lr in bicubic]
    luma, chroma = lr_luma_chroma(blue, bicubic)  # shift s = 4/255 of B: dY, dCb, dCr = (24.966, 112, -18.214) s / 255
    assert luma == pytest.approx(-20 * math.log10(4 * 24.966 / 255**2))
    assert chroma == pytest.approx(-10 * math.log10((112**2 + 18.214**2) / 2 * (4 / 255**2) ** 2))


def test_exact_fraction_is_fgrns_roundtrip_share():
    import torch

    from benchmarks.reproduce.validate_weights import exact_fraction

    torch.manual_seed(0)
    model = build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1)
    images = [torch.rand(3, 16, 16), torch.rand(3, 12, 20)]
    expected = sum(model.roundtrip_gap(hr[None])["exact"].item() for hr in images) / 2
    assert exact_fraction(model, images) == pytest.approx(expected)
    assert exact_fraction(build("bicubic", 2), images) is None


def test_flow_logdet_is_fs_log_det_per_lr_element_on_the_representation():
    import torch

    from benchmarks.reproduce.validate_weights import flow_logdet

    torch.manual_seed(0)
    model = build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1)
    images = [torch.rand(3, 16, 16), torch.rand(3, 12, 20)]
    with torch.no_grad():
        per_image = [
            model.flow(model.representation(hr[None]))[1].item() / (3 * h * w // 4)
            for hr in images
            for h, w in [hr.shape[-2:]]
        ]
    assert flow_logdet(model, images) == pytest.approx(sum(per_image) / 2)
    assert flow_logdet(build("irn", 2), images) is None
    assert flow_logdet(build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1, guidance="none"), images) is None


def test_whole_images_keep_those_with_a_niqe_block_and_lr_niqe_is_the_mean(tmp_path, shared_data, monkeypatch):
    import torch

    from benchmarks.reproduce.validate_weights import bicubic_lrs, lr_niqe, whole_images
    from flowkit.image import save_png
    from flowkit.metrics import niqe

    monkeypatch.setenv("FLOWKIT_DATA", str(shared_data))  # NIQE's pristine model
    torch.manual_seed(0)
    for name, size in [("big", (200, 230)), ("narrow", (190, 400)), ("odd", (193, 195))]:
        save_png(tmp_path / f"{name}.png", torch.rand(3, *size))
    kept = whole_images(sorted(tmp_path.glob("*.png")), 2)  # big, narrow, odd
    assert [tuple(hr.shape[-2:]) for hr in kept] == [(200, 230), (192, 194)]  # mod-cropped, not cropped to 256
    assert whole_images(sorted(tmp_path.glob("*.png")), 4) == []  # no LR of 96 pixels a side at x4
    lrs = bicubic_lrs(kept, 2)
    assert lr_niqe(lrs) == pytest.approx((niqe(lrs[0]).item() + niqe(lrs[1]).item()) / 2)


def test_decide_needs_a_candidate_beside_the_shipped_file(capsys):
    from benchmarks.reproduce.validate_weights import main

    with pytest.raises(SystemExit) as stop:
        main(["--decide", "shipped.safetensors"])
    assert (
        stop.value.code == 2 and "--decide needs the shipped file and at least one candidate" in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--rule", "trade_ratio=4", "a.safetensors"], "--rule needs --decide"),
        (["--decide", "--rule", "ratio=4", "a.safetensors", "b.safetensors"], "'ratio=4' is not NAME=VALUE"),
    ],
)
def test_a_rule_is_read_before_any_file_is_scored(argv, said, capsys):
    from benchmarks.reproduce.validate_weights import main

    with pytest.raises(SystemExit) as stop:
        main(argv)  # the files do not exist: the parser stops first
    assert stop.value.code == 2 and said in capsys.readouterr().err


def test_paired_difference_is_the_mean_its_standard_error_and_the_count_up():
    import math

    from benchmarks.reproduce.validate_weights import paired_difference

    mean, se, up = paired_difference([30.0, 31.0, 32.0, 33.0], [30.1, 31.3, 31.9, 33.1])
    diffs = [0.1, 0.3, -0.1, 0.1]
    expected = sum(diffs) / 4
    assert mean == pytest.approx(expected)
    assert se == pytest.approx(math.sqrt(sum((x - expected) ** 2 for x in diffs) / 3 / 4))
    assert up == 3
    assert math.isnan(paired_difference([1.0], [2.0])[1])
    with pytest.raises(ValueError, match="same images"):
        paired_difference([1.0, 2.0], [1.0])


def test_validate_gives_each_images_psnr_whose_mean_is_the_psnr():
    import torch

    from flowkit.train.validation import validate

    torch.manual_seed(0)
    images = [torch.rand(3, 64, 64), torch.rand(3, 48, 80), torch.rand(3, 32, 32)]
    result = validate(build("bicubic", 2), images, torch.device("cpu"))
    assert len(result["psnr_per_image"]) == 3
    assert sum(result["psnr_per_image"]) / 3 == pytest.approx(result["psnr"])
    assert len(set(result["psnr_per_image"])) == 3  # one per image, not the mean repeated


# The runs below score the shipped files on the held-out images, the costly part of this module:
# two calls serve four tests. The group keeps those tests on one pytest-xdist worker (--dist
# loadgroup), so each call is made once.
def _printed(data, argv):
    """What ``validate_weights`` returns and prints for ``argv``, with ``FLOWKIT_DATA=data``."""
    from benchmarks.reproduce.validate_weights import main

    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setenv("FLOWKIT_DATA", str(data))
        out = main(argv)
    return out, printed.getvalue().strip().splitlines()


@pytest.fixture(scope="module")
def x4_against_itself(shared_data):
    """``--digits 4 --decide X4 X4``: the shipped x4 file judged against itself (scored once)."""
    from flowkit.models.pretrained import weights_path

    path = str(weights_path("fgrn", 4))
    return (path, *_printed(shared_data, ["--digits", "4", "--decide", path, path]))


@pytest.fixture(scope="module")
def x2_against_x4(shared_data):
    """``--digits 3 --decide X4 X2``: a candidate at another scale than the shipped file."""
    from flowkit.models.pretrained import weights_path

    return _printed(
        shared_data, ["--digits", "3", "--decide", str(weights_path("fgrn", 4)), str(weights_path("fgrn", 2))]
    )


@pytest.mark.xdist_group("validate-shipped")
def test_digits_sets_the_decimals_printed(x4_against_itself):
    path, out, lines = x4_against_itself
    assert list(out) == [path]
    line = lines[0]  # a file named twice is scored and printed once
    assert line.startswith(f"{path}: fgrn x4, ") and not lines[1].startswith(f"{path}: ")
    assert f"validation PSNR {out[path]:.4f} dB (RGB " in line
    match = re.fullmatch(
        r".*LR vs bicubic LR \d+\.\d{4} dB \(RGB; its Y \d+\.\d{4}, CbCr \d+\.\d{4}\), "
        r"test card \d+\.\d{4} dB, exact (\d\.\d{4}), "
        r"F log-det [+-]\d\.\d{4} per LR element, LR PIQE (\d+\.\d{4}) \(bicubic LR (\d+\.\d{4})\)",
        line,
    )
    assert match and 0.5 < float(match[1]) < 1.0  # FGRN: the share of its representation recovered exactly
    assert 0 < float(match[2]) < 100 and 0 < float(match[3]) < 100  # PIQE's range, 0 best


@pytest.mark.xdist_group("validate-shipped")
def test_decide_judges_the_candidates_against_the_first_file(x4_against_itself):
    path, _, lines = x4_against_itself
    assert lines[-3] == (
        f"{path} against {path}: PSNR +0.0000 dB, LR +0.0000 dB, test card +0.0000 dB, exact +0.0000: no clause holds"
    )
    assert lines[-2] == "  per image (reported, not a clause): +0.0000 dB, standard error 0.0000 over 10 images, 0 up"
    assert lines[-1] == "ships: none (the shipped file stays)"


@pytest.mark.xdist_group("validate-shipped")
def test_at_x2_the_line_ends_with_lr_niqe_on_the_whole_held_out_images(x2_against_x4):
    _, lines = x2_against_x4
    line = next(line for line in lines if ": fgrn x2, " in line)
    match = re.search(r", LR NIQE (\d+\.\d{3}) on 9 whole images \(bicubic LR (\d+\.\d{3})\)$", line)
    assert match, line
    # NIQE of natural LR images: single digits; the model's LR stays close to bicubic's
    assert 2 < float(match[2]) < 10 and abs(float(match[1]) - float(match[2])) < 1
    x4_line = next(line for line in lines if ": fgrn x4, " in line)
    assert "NIQE" not in x4_line  # at x4 no held-out LR holds a 96-pixel block a side


@pytest.mark.xdist_group("validate-shipped")
def test_no_per_image_report_between_files_of_two_scales(x2_against_x4):
    _, lines = x2_against_x4
    out = "\n".join(lines)
    assert " against " in out and "per image" not in out  # PSNRs at two scales are not paired
