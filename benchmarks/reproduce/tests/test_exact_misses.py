"""benchmarks.reproduce.exact_misses: its exact share is roundtrip_gap's, its shares are fractions."""

import pytest
import torch

from benchmarks.reproduce.exact_misses import misses
from flowkit.models import build


def test_the_exact_share_is_roundtrip_gaps_and_the_shares_are_fractions():
    torch.manual_seed(0)
    model = build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1)
    with torch.no_grad():  # F far from the identity, so some entries miss
        for p in model.flow.parameters():
            p.add_(0.3 * torch.randn_like(p))
    images = [torch.rand(3, 16, 16), torch.rand(3, 16, 16)]
    out = misses(model, images)
    with torch.no_grad():
        expected = sum(model.roundtrip_gap(hr[None])["exact"].item() for hr in images) / 2  # equal sizes
    assert out["exact"] == pytest.approx(expected)
    assert out["exact"] < 1
    for key in ("missed_by_one_step", "missed_in_clipped_pixels", "entries_in_clipped_pixels"):
        assert 0.0 <= out[key] <= 1.0
    assert len(out["roundtrip_loss"]) == 2 and all(v >= 0 for v in out["roundtrip_loss"])
