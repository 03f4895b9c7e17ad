"""CUDA: the same results as on the CPU. Skipped without a GPU; the lent-GPU session
(``benchmarks/gpu_session.sh``) runs this file, which needs nothing beyond the runtime
dependencies and pytest."""

import pytest
import torch

from flowkit.image import imresize
from flowkit.models import build
from flowkit.testing import perturb_parameters

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_imresize_cuda_matches_cpu():
    x = torch.rand(2, 3, 21, 18, dtype=torch.float64)
    torch.testing.assert_close(imresize(x.cuda(), 0.25).cpu(), imresize(x, 0.25))


@pytest.mark.parametrize("name", ["fgrn", "irn"])
def test_rescaling_on_cuda_matches_the_cpu(name):
    torch.manual_seed(0)
    model = perturb_parameters(build(name, 4), 0.05).double().eval()
    hr = torch.rand(1, 3, 32, 48, dtype=torch.float64)
    with torch.inference_mode():
        lr_cpu = model.downscale(hr)
        lr_gpu = model.cuda().downscale(hr.cuda())
        torch.testing.assert_close(lr_gpu.cpu(), lr_cpu)  # both 8-bit: equal up to float64 rounding
        up = {"z": "zero"} if name == "irn" else {}
        sr_gpu = model.upscale(lr_gpu, **up).cpu()
        sr_cpu = model.cpu().upscale(lr_cpu, **up)
    torch.testing.assert_close(sr_gpu, sr_cpu)


def test_a_training_step_on_cuda_matches_the_cpu():
    torch.manual_seed(0)
    model = build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1, flow_cells=1, flow_growth=4).double()
    hr = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    lr = imresize(hr, 0.5)
    grads = []
    for device in ("cpu", "cuda"):
        model.to(device).zero_grad()
        model.training_losses(hr.to(device), lr.to(device))["total"].backward()
        grads.append(torch.cat([p.grad.reshape(-1).cpu() for p in model.parameters()]))
    torch.testing.assert_close(grads[1], grads[0])
