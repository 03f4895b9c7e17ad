"""CUDA: the same results as on the CPU. Skipped without a GPU; the lent-GPU session
(``benchmarks/gpu_session.sh``) runs this file, which needs nothing beyond the runtime
dependencies and pytest."""

import json

import pytest
import torch

from flowkit.image import imresize
from flowkit.models import build
from flowkit.testing import perturb_parameters
from flowkit.train.cuda_graph import graphed_objective

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


SMALL = {
    "fgrn": {"channels": 8, "gd_blocks": 1, "gu_blocks": 1, "flow_cells": 1, "flow_growth": 4},
    "irn": {"blocks": 2, "growth": 4},
}
# the sample-efficient recipe's FGRN: Gd and Gu resize bicubically inside the model, the chroma
# term converts colours inside the loss, the round-trip term runs F's inverse with gradient, and
# the range term bounds F's output
SMALL["fgrn-skip"] = SMALL["fgrn"] | {
    "bicubic_skip": True,
    "guide_to_gd": 0.05,
    "guide_chroma": 1.0,
    "guide_chroma_hf": 1.0,
    "guide_rmse": 1.0,
    "logdet_hinge": 0.1,
    "logdet_margin": 0.05,
    "roundtrip_weight": 0.1,
    "range_weight": 0.1,
}


def test_a_training_step_on_cuda_matches_the_cpu():
    torch.manual_seed(0)
    model = build("fgrn", 2, **SMALL["fgrn"]).double()
    hr = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    lr = imresize(hr, 0.5)
    grads = []
    for device in ("cpu", "cuda"):
        model.to(device).zero_grad()
        model.training_losses(hr.to(device), lr.to(device))["total"].backward()
        grads.append(torch.cat([p.grad.reshape(-1).cpu() for p in model.parameters()]))
    torch.testing.assert_close(grads[1], grads[0])


# ---------------------------------------------------------------- CUDA graphs (flowkit.train.cuda_graph)
def _small(name):
    """A small deterministic model on CUDA (IRN with z = 0)."""
    model = name.removesuffix("-skip")
    return build(model, 2, **SMALL[name], **({"z_mode": "zero"} if model == "irn" else {})).cuda()


def _train(data, out, **fields):
    """Train a small model on CUDA from the PNGs in ``data``; returns the run's log lines."""
    from flowkit.train import Trainer, load_config

    fields = {"scale": 2, "train_dirs": [str(data)], "patch_size": 16, "workers": 0, "device": "cuda", **fields}
    fields["model_config"] = fields.get("model_config", SMALL[fields["model"]])
    trainer = Trainer.from_config(
        load_config(None, [f"{k}={json.dumps(v)}" for k, v in fields.items()]), out, progress=False, tensorboard=False
    )
    trainer.run()
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def _pngs(folder, n, size):
    from flowkit.image import save_png

    folder.mkdir()
    gen = torch.Generator().manual_seed(0)
    for i in range(n):
        save_png(folder / f"img{i}.png", torch.rand(3, size, size, generator=gen))
    return folder


def _grads(model):
    return torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None])


@pytest.mark.parametrize("name", ["fgrn", "fgrn-skip", "irn"])
def test_the_graphed_loss_and_gradient_equal_the_eager_ones(name):
    torch.manual_seed(0)
    model = _small(name)
    batches = [torch.rand(4, 3, 16, 16, device="cuda") for _ in range(3)]
    objective = graphed_objective(model, batches[0], imresize(batches[0], 0.5))
    for hr in batches[1:]:  # new inputs each replay: the graph reads them, not the capture's
        lr = imresize(hr, 0.5)
        model.zero_grad(set_to_none=True)
        graphed = objective(hr, lr)
        graphed = {k: v.clone() for k, v in graphed.items()}
        graphed["total"].backward()
        g_graph = _grads(model).clone()
        model.zero_grad(set_to_none=True)
        eager = model.training_losses(hr, lr)
        eager["total"].backward()
        assert set(graphed) == set(eager)
        for k in eager:
            torch.testing.assert_close(graphed[k], eager[k].float(), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(g_graph, _grads(model), rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("name", ["fgrn-skip", "irn"])
def test_a_graph_captured_under_autocast_replays_the_bfloat16_loss_and_gradient(name):
    torch.manual_seed(0)
    model = _small(name)
    hr0, hr = torch.rand(4, 3, 16, 16, device="cuda"), torch.rand(4, 3, 16, 16, device="cuda")
    bf16 = torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False)
    with torch.autocast("cuda", dtype=torch.bfloat16), pytest.raises(ValueError, match="weight cache must be off"):
        graphed_objective(model, hr0, imresize(hr0, 0.5))
    with bf16:
        objective = graphed_objective(model, hr0, imresize(hr0, 0.5))
    lr = imresize(hr, 0.5)
    model.zero_grad(set_to_none=True)
    graphed = {k: v.clone() for k, v in objective(hr, lr).items()}  # replayed outside the context
    graphed["total"].backward()
    g_graph = _grads(model).clone()
    model.zero_grad(set_to_none=True)
    with bf16:
        eager = model.training_losses(hr, lr)
    eager["total"].backward()
    with torch.no_grad():
        full = model.training_losses(hr, lr)  # float32: bfloat16 must differ from it, a little
    assert float(graphed["rec"]) != float(full["rec"])
    assert float(graphed["rec"]) == pytest.approx(float(full["rec"]), rel=0.05)
    for k in eager:
        torch.testing.assert_close(graphed[k], eager[k].float(), rtol=1e-3, atol=1e-5)
    torch.testing.assert_close(g_graph, _grads(model), rtol=1e-2, atol=1e-5)


def test_a_graphed_gaussian_z_is_drawn_anew_on_every_replay():
    # the reconstruction depends on z (at initialisation z is the high Haar band itself)
    torch.manual_seed(0)
    model = build("irn", 2, **SMALL["irn"]).cuda()
    hr = torch.rand(2, 3, 16, 16, device="cuda")
    lr = imresize(hr, 0.5)
    objective = graphed_objective(model, hr, lr)
    first = objective(hr, lr)["rec"].item()
    assert objective(hr, lr)["rec"].item() != first


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"amp": True},
        {"amp": True, "channels_last": True},
        {"amp": True, "amp_scope": "subnets"},
        {"amp": True, "amp_scope": "outer_subnets"},
        {"freeze": ["gd", "flow"]},  # the captured backward reaches the upscaler's weights only
    ],
)
def test_training_with_cuda_graphs_follows_the_eager_run(tmp_path, fields):
    data = _pngs(tmp_path / "data", 4, 40)
    eager, graphed = (
        _train(
            data,
            tmp_path / f"graph{graph}",
            **fields,
            model="fgrn",
            batch_size=4,
            iterations=6,
            lr=1e-3,
            log_every=1,
            val_every=3,
            checkpoint_every=3,
            val_holdout=1,
            cuda_graph=graph,
        )
        for graph in (False, True)
    )
    assert [r["step"] for r in graphed] == list(range(1, 7))
    rel = 1e-2 if fields.get("amp") else 1e-3  # bfloat16: kernels chosen at capture may round differently
    for a, b in zip(eager, graphed, strict=True):
        assert b["total"] == pytest.approx(a["total"], rel=rel)
    assert graphed[-1]["val_psnr"] == pytest.approx(eager[-1]["val_psnr"], abs=0.05)


@pytest.mark.parametrize("tf32", [False, True])
def test_the_trainer_sets_tf32_for_convolutions(tmp_path, tf32):
    _train(
        _pngs(tmp_path / "data", 3, 32),
        tmp_path / "run",
        model="irn",
        model_config={"blocks": 1, "growth": 4},
        iterations=1,
        tf32=tf32,
    )
    assert torch.backends.cudnn.allow_tf32 is tf32


def test_batches_cut_on_the_gpu_equal_those_of_the_cpu(tmp_path):
    from flowkit.train.data import PatchDataset, find_images

    files = find_images([_pngs(tmp_path / "data", 3, 40)])
    ks = list(range(0, 40, 3))
    cpu = PatchDataset(files, patch_size=16, scale=4, seed=1, length=40).batch(ks)
    gpu = PatchDataset(files, patch_size=16, scale=4, seed=1, length=40).to("cuda").batch(ks)
    assert gpu[0].device.type == gpu[1].device.type == "cuda"
    # the same crops and transforms: the same 8-bit values (CUDA divides by 255 as a product
    # with 1/255, so the floats may differ in the last bit)
    assert torch.equal((gpu[0].cpu() * 255).round(), (cpu[0] * 255).round())
    torch.testing.assert_close(gpu[0].cpu(), cpu[0])
    torch.testing.assert_close(gpu[1].cpu(), cpu[1])


def test_training_with_data_on_the_gpu_follows_the_dataloader_run(tmp_path):
    data = _pngs(tmp_path / "data", 4, 40)
    loader, device = (
        _train(
            data,
            tmp_path / f"device{on}",
            model="fgrn",
            batch_size=4,
            iterations=4,
            lr=1e-3,
            log_every=1,
            val_every=0,
            checkpoint_every=4,
            data_on_device=on,
        )
        for on in (False, True)
    )
    for a, b in zip(loader, device, strict=True):
        assert b["total"] == pytest.approx(a["total"], rel=1e-3)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("flows", [False, True])
def test_subnetworks_in_low_precision_on_cuda_keep_the_lr_on_the_8bit_grid(dtype, flows):
    from flowkit.precision import subnets_in

    torch.manual_seed(0)
    model = perturb_parameters(build("fgrn", 4), 0.05).cuda().eval()
    hr = torch.rand(1, 3, 64, 48, device="cuda")
    with torch.inference_mode():
        lr32 = model.downscale(hr)
        sr32 = model.upscale(lr32)
        with subnets_in(model, dtype, flows=flows):
            lr = model.downscale(hr)
            sr = model.upscale(lr)
    assert lr.dtype == sr.dtype == torch.float32
    assert torch.equal(lr, (lr * 255).round() / 255)  # on the 8-bit grid as this device computes it
    assert (lr - lr32).abs().max() <= 1 / 255 + 1e-6
    assert float(((sr - sr32) ** 2).mean()) < 1e-4


def test_the_rescaling_commands_take_a_dtype_on_cuda(tmp_path):
    from flowkit.cli import main
    from flowkit.image import load, save_png

    save_png(tmp_path / "in.png", torch.rand(3, 40, 36))
    for dtype in ("float32", "bfloat16", "float16"):
        assert (
            main(
                [
                    "downscale",
                    str(tmp_path / "in.png"),
                    str(tmp_path / f"lr-{dtype}.png"),
                    "--device",
                    "cuda",
                    "--dtype",
                    dtype,
                    "--quiet",
                ]
            )
            == 0
        )
        assert (
            main(
                [
                    "upscale",
                    str(tmp_path / f"lr-{dtype}.png"),
                    str(tmp_path / f"out-{dtype}.png"),
                    "--device",
                    "cuda",
                    "--dtype",
                    dtype,
                    "--quiet",
                ]
            )
            == 0
        )
        assert load(tmp_path / f"out-{dtype}.png").shape == (3, 40, 36)
        assert (load(tmp_path / f"lr-{dtype}.png") - load(tmp_path / "lr-float32.png")).abs().max() <= 1 / 255 + 1e-6


def test_the_trainer_uses_fused_adam_on_cuda(tmp_path):
    from flowkit.train import Trainer, load_config

    fields = {
        "model": "fgrn",
        "scale": 2,
        "model_config": SMALL["fgrn"],
        "patch_size": 16,
        "workers": 0,
        "iterations": 1,
        "device": "cuda",
        "train_dirs": [str(_pngs(tmp_path / "data", 2, 32))],
    }
    trainer = Trainer.from_config(
        load_config(None, [f"{k}={json.dumps(v)}" for k, v in fields.items()]),
        tmp_path / "run",
        progress=False,
        tensorboard=False,
    )
    assert trainer.optimizer.defaults["fused"] is True
    trainer.run()
