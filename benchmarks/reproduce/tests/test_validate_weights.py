"""benchmarks.reproduce.validate_weights: the test-card guard scores what ``flowkit demo`` prints; ``--digits``."""

import re

import pytest

from benchmarks.reproduce.validate_weights import test_card_psnr as card_psnr
from flowkit.models import build


@pytest.mark.parametrize(("scale", "expected"), [(2, 21.20), (4, 15.41)])
def test_the_test_card_guard_gives_the_demos_bicubic_psnr(scale, expected):
    # `flowkit demo --scale S` prints these for bicubic (Y-PSNR, the scale's border cropped)
    assert card_psnr(build("bicubic", scale)) == pytest.approx(expected, abs=0.005)


def test_digits_sets_the_decimals_printed(shared_data, monkeypatch, capsys):
    from benchmarks.reproduce.validate_weights import main
    from flowkit.models.pretrained import weights_path

    monkeypatch.setenv("FLOWKIT_DATA", str(shared_data))
    path = str(weights_path("fgrn", 4))
    out = main(["--digits", "4", path])
    line = capsys.readouterr().out.strip()
    assert f"validation PSNR {out[path]:.4f} dB," in line
    assert re.fullmatch(r".*LR vs bicubic LR \d+\.\d{4} dB \(RGB\), test card \d+\.\d{4} dB", line)
