"""benchmarks.reproduce.validate_weights: the test-card guard scores what ``flowkit demo`` prints."""

import pytest

from benchmarks.reproduce.validate_weights import test_card_psnr as card_psnr
from flowkit.models import build


@pytest.mark.parametrize(("scale", "expected"), [(2, 21.20), (4, 15.41)])
def test_the_test_card_guard_gives_the_demos_bicubic_psnr(scale, expected):
    # `flowkit demo --scale S` prints these for bicubic (Y-PSNR, the scale's border cropped)
    assert card_psnr(build("bicubic", scale)) == pytest.approx(expected, abs=0.005)
