"""Loading IRN checkpoints saved by the official code (pkuxmq/Invertible-Image-Rescaling).

The official ``InvRescaleNet`` keeps its layers in ``operations`` (Haar first, then 8
InvBlockExp per stage), each block's subnets as ``F``, ``G``, ``H`` (DenseBlock
``conv1..conv5``), and the fixed Haar kernels as a parameter ``haar_weights`` of shape
(4C, 1, 2, 2). ``save_network`` strips DataParallel's ``module.`` prefix; older files may
keep it. The state dicts below are built here in that layout.
"""

import pytest
import torch

from flowkit.models import IRN, IRNConfig


def _official_haar(channels):
    w = torch.ones(4, 1, 2, 2)
    w[1, 0, 0, 1] = w[1, 0, 1, 1] = -1
    w[2, 0, 1, 0] = w[2, 0, 1, 1] = -1
    w[3, 0, 1, 0] = w[3, 0, 0, 1] = -1
    return torch.cat([w] * channels, 0)


def _official_state_dict(scale, prefix=""):
    gen = torch.Generator().manual_seed(scale)
    sd = {}
    op = 0
    channels = 3
    for _ in range({2: 1, 4: 2}[scale]):
        sd[f"{prefix}operations.{op}.haar_weights"] = _official_haar(channels)
        op += 1
        channels *= 4
        for _ in range(8):
            for sub, (cin, cout) in {"F": (channels - 3, 3), "G": (3, channels - 3), "H": (3, channels - 3)}.items():
                ins = [cin, cin + 32, cin + 64, cin + 96, cin + 128]
                outs = [32, 32, 32, 32, cout]
                for k, (i, o) in enumerate(zip(ins, outs, strict=True), start=1):
                    sd[f"{prefix}operations.{op}.{sub}.conv{k}.weight"] = torch.randn(o, i, 3, 3, generator=gen) * 0.01
                    sd[f"{prefix}operations.{op}.{sub}.conv{k}.bias"] = torch.randn(o, generator=gen) * 0.01
            op += 1
    return sd


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("prefix", ["", "module."])
def test_load_official_state_dict(scale, prefix):
    official = _official_state_dict(scale, prefix)
    model = IRN(IRNConfig.for_scale(scale)).load_official(official)
    ours = model.state_dict()
    assert len(ours) == len([k for k in official if "haar" not in k])
    # spot checks of the mapping F->alpha, G->phi, H->beta
    assert torch.equal(ours["net.flows.1.alpha.conv1.weight"], official[f"{prefix}operations.1.F.conv1.weight"])
    assert torch.equal(ours["net.flows.8.phi.conv5.bias"], official[f"{prefix}operations.8.G.conv5.bias"])
    assert torch.equal(ours["net.flows.3.beta.conv3.weight"], official[f"{prefix}operations.3.H.conv3.weight"])
    if scale == 4:
        assert ours["net.flows.10.alpha.conv1.weight"].shape == (32, 45, 3, 3)


def test_load_official_from_pth_file(tmp_path):
    torch.save(_official_state_dict(2), tmp_path / "IRN_x2.pth")
    model = IRN(IRNConfig.for_scale(2)).load_official(str(tmp_path / "IRN_x2.pth"))
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert model.downscale(x).shape == (1, 3, 4, 4)


def test_wrong_checkpoints_are_refused():
    with pytest.raises(ValueError, match="does not fit IRN x4"):
        IRN(IRNConfig.for_scale(4)).load_official(_official_state_dict(2))
    sd = _official_state_dict(2)
    sd["operations.0.haar_weights"] = torch.rand(12, 1, 2, 2)
    with pytest.raises(ValueError, match="not IRN's fixed Haar kernel"):
        IRN(IRNConfig.for_scale(2)).load_official(sd)
    sd = _official_state_dict(2)
    sd["netG.something"] = torch.zeros(1)
    with pytest.raises(ValueError, match="unexpected key 'netG.something'"):
        IRN(IRNConfig.for_scale(2)).load_official(sd)
    with pytest.raises(ValueError, match="has shape"):
        IRN(IRNConfig.for_scale(2, growth=16)).load_official(_official_state_dict(2))
