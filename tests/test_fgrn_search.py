"""The encoder-side search over the rounding of FGRN's LR (flowkit.models.fgrn.search_lr)."""

import pytest
import torch

from flowkit.examples.sample_image import test_card as make_card
from flowkit.metrics import psnr
from flowkit.models import FGRN, FGRNConfig, build, pretrained
from flowkit.models.fgrn import search_lr

SMALL_FGRN = {"channels": 16, "gd_blocks": 1, "gu_blocks": 1, "flow_cells": 2, "flow_growth": 8}


def squared_error(model: FGRN, lr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """Per image ``(B,)``."""
    return (model.upscale(lr, size=tuple(hr.shape[-2:])) - hr).square().flatten(1).sum(1)


@pytest.fixture(scope="module")
def shipped_x4() -> FGRN:
    return pretrained("fgrn", 4).eval()


@pytest.fixture(scope="module")
def card() -> torch.Tensor:
    return make_card(96, 128)[None, :, 24:72, 40:104]  # a 48 x 64 crop with edges and colour


@torch.no_grad()
def test_search_reconstructs_the_shipped_x4_better(shipped_x4: FGRN, card: torch.Tensor) -> None:
    plain = shipped_x4.downscale(card)
    # 16 steps: the shipped x4 recovers about 99 % of its representation exactly, so few entries of this small crop
    # are worth moving and 8 steps gained less than 0.01 dB (0.0095 with the file shipped on 2026-12-02)
    found = search_lr(shipped_x4, card, steps=16)
    assert found.shape == plain.shape and found.dtype == plain.dtype
    assert torch.equal(found, (found * 255).round() / 255)  # on the 8-bit grid
    assert (found - plain).abs().max().item() <= 1 / 255 + 1e-6  # at most one level from the nearest rounding
    assert not torch.equal(found, plain)
    size = tuple(card.shape[-2:])
    gain = psnr(shipped_x4.upscale(found, size), card, crop_border=4) - psnr(
        shipped_x4.upscale(plain, size), card, crop_border=4
    )
    assert gain.item() > 0.01


@torch.no_grad()
@pytest.mark.parametrize("guidance", ["flow", "none"])
@pytest.mark.parametrize("hw", [(16, 24), (15, 22)])
def test_search_never_reconstructs_worse(guidance: str, hw: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = FGRN(FGRNConfig.for_scale(2, guidance=guidance, bicubic_skip=True, **SMALL_FGRN)).eval()
    hr = torch.rand(2, 3, *hw)
    plain = model.downscale(hr)
    found = search_lr(model, hr, steps=4, p_kept=0.2)
    assert found.shape == plain.shape == (2, 3, (hw[0] + 1) // 2, (hw[1] + 1) // 2)
    assert torch.equal(found, (found * 255).round() / 255)
    assert (squared_error(model, found, hr) <= squared_error(model, plain, hr)).all()  # per image
    # the bicubic skip makes the upscale depend on every entry, so some proposal helps
    assert squared_error(model, found, hr).sum() < squared_error(model, plain, hr).sum()


@torch.no_grad()
def test_search_is_deterministic_and_zero_steps_is_downscale() -> None:
    torch.manual_seed(1)
    model = FGRN(FGRNConfig.for_scale(2, **SMALL_FGRN)).eval()
    hr = torch.rand(1, 3, 12, 12)
    assert torch.equal(search_lr(model, hr, steps=0), model.downscale(hr))
    assert torch.equal(search_lr(model, hr, steps=3), search_lr(model, hr, steps=3))
    g = torch.Generator().manual_seed(5)
    assert torch.equal(
        search_lr(model, hr, steps=3, generator=g),
        search_lr(model, hr, steps=3, generator=torch.Generator().manual_seed(5)),
    )


def test_search_refuses_bad_arguments() -> None:
    model = FGRN(FGRNConfig.for_scale(2, **SMALL_FGRN))
    hr = torch.rand(1, 3, 8, 8)
    with pytest.raises(TypeError, match="needs an FGRN, got IRN"):
        search_lr(build("irn", 2, blocks=1, growth=4), hr)
    for kwargs, match in (
        ({"steps": -1}, "steps must be >= 0"),
        ({"p_lost": 1.5}, r"p_lost must be in \[0, 1\]"),
        ({"p_kept": -0.1}, r"p_kept must be in \[0, 1\]"),
        ({"window": 4}, "window must be a positive odd number"),
        ({"window": 0}, "window must be a positive odd number"),
    ):
        with pytest.raises(ValueError, match=match):
            search_lr(model, hr, **kwargs)
    with pytest.raises(ValueError, match=r"expected an RGB batch"):
        search_lr(model, torch.rand(3, 8, 8))
