"""Growing FGRN: added residual blocks start as identities, so the grown network computes what its source did."""

import pytest
import torch

from flowkit.image import bicubic_lr
from flowkit.models import FGRN, FGRNConfig
from flowkit.models.fgrn.growth import grow


def _small(**fields) -> FGRN:
    torch.manual_seed(0)
    cfg = FGRNConfig.for_scale(2, channels=8, gd_blocks=1, gu_blocks=1, flow_cells=1, flow_growth=4, **fields)
    model = FGRN(cfg)
    with torch.no_grad():  # a trained-looking network: no tensor left at its zero initialisation
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.mark.parametrize(("gd", "gu"), [(None, 3), (2, None), (3, 2)])
def test_grown_network_computes_what_its_source_computes(gd, gu):
    source = _small(bicubic_skip=True, gamma=0.01)
    before = {k: v.clone() for k, v in source.state_dict().items()}
    grown = grow(source, gd_blocks=gd, gu_blocks=gu)
    assert (grown.config.gd_blocks, grown.config.gu_blocks) == (gd or 1, gu or 1)
    assert grown.config.replace(gd_blocks=1, gu_blocks=1) == source.config  # loss weights kept
    assert len(grown.gd.body) == (gd or 1) and len(grown.gu.body) == (gu or 1)
    assert all(torch.equal(source.state_dict()[k], v) for k, v in before.items())  # the source is left as it was
    hr = torch.rand(2, 3, 16, 12)
    with torch.no_grad():
        lr = source.downscale(hr)
        assert torch.equal(grown.downscale(hr), lr)
        assert torch.equal(grown.upscale(lr), source.upscale(lr))
    theirs = source.training_losses(hr, bicubic_lr(hr, 2))
    ours = grown.training_losses(hr, bicubic_lr(hr, 2))
    assert theirs.keys() == ours.keys()
    for key in theirs:
        torch.testing.assert_close(ours[key], theirs[key], rtol=0, atol=1e-6)


def test_added_blocks_learn():
    grown = grow(_small(), gu_blocks=2)
    new = grown.gu.body[1]
    assert not new.conv2.weight.any() and not new.conv2.bias.any() and new.conv1.weight.any()
    hr = torch.rand(2, 3, 16, 16)
    grown.training_losses(hr, bicubic_lr(hr, 2))["total"].backward()
    assert new.conv2.weight.grad.abs().sum() > 0  # the zero convolution is not a dead end


def test_grow_keeps_dtype_and_refuses_to_shrink_or_do_nothing():
    source = _small().double()
    grown = grow(source, gu_blocks=2)
    assert {p.dtype for p in grown.parameters()} == {torch.float64}
    hr = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        lr = source.downscale(hr)
        assert torch.equal(grown.upscale(lr), source.upscale(lr))
    with pytest.raises(ValueError, match="grow: gd_blocks 0 is fewer than the model's 1"):
        grow(source, gd_blocks=0)
    with pytest.raises(ValueError, match="grow: no block added"):
        grow(source, gu_blocks=1)
