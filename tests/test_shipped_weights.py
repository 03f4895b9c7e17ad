"""The weights shipped in the package: loadable by name, described by their cards, and good.

The quality check uses the bundled test card, an image no training, validation or study
evaluation used.
"""

import pytest
import torch
from safetensors import safe_open

from flowkit.examples import sample_image
from flowkit.metrics import psnr
from flowkit.models import available, build, model_card, pretrained
from flowkit.models.io import tensor_digest
from flowkit.models.pretrained import weights_path
from flowkit.rescale import downscale_image, upscale_image

SHIPPED = available()


def test_fgrn_ships_at_both_scales():
    assert ("fgrn", 2) in SHIPPED and ("fgrn", 4) in SHIPPED


@pytest.mark.parametrize("name, scale", SHIPPED)
def test_card_describes_the_weights(name, scale):
    model = pretrained(name, scale)
    card = model_card(name, scale)
    assert (card["model"], card["scale"]) == (name, scale) == (model.name, model.scale)
    assert card["parameters"] == model.num_parameters()
    with safe_open(str(weights_path(name, scale)), framework="pt") as f:  # the stored tensors (maybe 16-bit)
        stored = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
    assert card["sha256"] == tensor_digest(stored)
    dtype = getattr(torch, card.get("storage", {}).get("dtype", "float32"))
    assert all(v.dtype == dtype for v in stored.values() if v.is_floating_point())
    assert all(torch.equal(model.state_dict()[k], v.to(model.state_dict()[k].dtype)) for k, v in stored.items())
    training, ledger = card["training"], card.get("ledger")
    if "average" in training:  # a weight average: no iterations of its own, every run behind it in the ledger
        assert training["budget"]["iterations"] == 0 and len(training["average"]["ingredients"]) >= 2
        runs, ingredients = {e["run"] for e in ledger}, training["average"]["ingredients"]
        named = [i.get("run", i.get("average", i.get("stored_parent"))) for i in ingredients if "shipped" not in i]
        assert all(n in runs for n in named)
        # the file shipped before, a point on a line from it: named by the averaging line, its runs before it
        averaging = ledger[-1]["started_from"]
        assert all(f"{i['shipped']} (shipped, sha256" in averaging for i in ingredients if "shipped" in i)
    else:  # a finished run, or the newest checkpoint of a continuing one
        assert training["budget"]["iterations"] <= training["config"]["iterations"]
    if ledger:
        assert ledger[-1]["iterations"] == training["budget"]["iterations"]
        assert card["ledger_total"]["iterations"] == sum(e["iterations"] for e in ledger)
    for report in card["evaluation"].values():
        assert 0 < report["psnr"] < 60 and 0 < report["ssim"] <= 1


def _card_psnr(model, scale):
    hr = sample_image.test_card()
    torch.manual_seed(0)
    sr = upscale_image(model, downscale_image(model, hr), size=tuple(hr.shape[-2:]))
    return psnr(sr[None], hr[None], crop_border=scale).item()


@pytest.mark.parametrize("scale, margin", [(2, 3.0), (4, 1.0)])
def test_shipped_fgrn_beats_bicubic_on_an_unseen_image(scale, margin):
    # the synthetic card is mostly fine texture, hard at x4 (on the evaluation sets the
    # shipped models gain 5-6 dB at x2 and about 3 dB at x4: see their cards)
    fgrn, bicubic = _card_psnr(pretrained("fgrn", scale), scale), _card_psnr(build("bicubic", scale), scale)
    assert fgrn > bicubic + margin, (fgrn, bicubic)
