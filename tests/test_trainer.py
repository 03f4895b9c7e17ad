"""The trainer: exact resume, non-finite steps skipped and never saved, logs, EMA."""

import dataclasses
import json
import math

import pytest
import torch

from flowkit import precision
from flowkit.image import save_png
from flowkit.models import build, load_model
from flowkit.precision import SUBNETS
from flowkit.train import Trainer, TrainingError, load_config
from flowkit.train.checkpoint import latest_checkpoint, strip_checkpoint
from flowkit.train.cuda_graph import graphed_objective


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("train")
    gen = torch.Generator().manual_seed(0)
    for i in range(6):
        base = torch.rand(3, 6, 8, generator=gen)
        img = torch.nn.functional.interpolate(base[None], size=(48, 64), mode="bicubic", align_corners=False)[0]
        save_png(d / f"img{i}.png", img.clamp(0, 1))
    return d


def _config(train_dir, model="fgrn", **extra):
    small = {
        "fgrn": {"channels": 8, "gd_blocks": 1, "gu_blocks": 1, "flow_cells": 1, "flow_growth": 4},
        "irn": {"blocks": 1, "growth": 4},
    }[model]
    fields = {
        "model": model,
        "scale": 2,
        "model_config": small,
        "train_dirs": [str(train_dir)],
        "patch_size": 16,
        "batch_size": 4,
        "iterations": 8,
        "lr": 1e-3,
        "workers": 0,
        "log_every": 1,
        "val_every": 4,
        "checkpoint_every": 4,
        "val_holdout": 1,
        "lr_milestones": [5],
        **extra,
    }
    return load_config(None, [f"{k}={json.dumps(v)}" for k, v in fields.items()])


def _losses(run_dir):
    return [json.loads(line)["total"] for line in (run_dir / "log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(("model", "extra"), [("fgrn", {}), ("irn", {}), ("fgrn", {"channels_last": True})])
def test_resume_reproduces_the_uninterrupted_run(tmp_path, train_dir, model, extra):
    full = Trainer.from_config(_config(train_dir, model, **extra), tmp_path / "full", progress=False, tensorboard=False)
    full.run()
    # the same run, stopped after 4 steps and resumed in a new Trainer
    part = Trainer.from_config(
        _config(train_dir, model, iterations=4, **extra), tmp_path / "part", progress=False, tensorboard=False
    )
    part.run()
    resumed = Trainer.from_config(
        _config(train_dir, model, **extra), tmp_path / "part", resume=True, progress=False, tensorboard=False
    )
    assert resumed.step == 4
    resumed.run()
    assert _losses(tmp_path / "part") == _losses(tmp_path / "full")  # bit-identical on the CPU
    a = latest_checkpoint(tmp_path / "full" / "checkpoints")
    b = latest_checkpoint(tmp_path / "part" / "checkpoints")
    assert a.step == b.step == 8
    assert all(torch.equal(a.tensors[k], b.tensors[k]) for k in a.tensors if k.startswith("model."))


def test_batches_cut_on_the_device_train_exactly_like_the_dataloader(tmp_path, train_dir):
    Trainer.from_config(_config(train_dir), tmp_path / "loader", progress=False, tensorboard=False).run()
    Trainer.from_config(
        _config(train_dir, data_on_device=True, workers=3), tmp_path / "device", progress=False, tensorboard=False
    ).run()
    assert _losses(tmp_path / "device") == _losses(tmp_path / "loader")  # bit-identical on the CPU
    part = Trainer.from_config(
        _config(train_dir, data_on_device=True, iterations=4), tmp_path / "part", progress=False, tensorboard=False
    )
    part.run()
    Trainer.from_config(
        _config(train_dir, data_on_device=True), tmp_path / "part", resume=True, progress=False, tensorboard=False
    ).run()
    assert _losses(tmp_path / "part") == _losses(tmp_path / "loader")


def test_a_weights_only_checkpoint_is_refused_for_resuming(tmp_path, train_dir):
    Trainer.from_config(_config(train_dir, iterations=4), tmp_path / "run", progress=False, tensorboard=False).run()
    ckpt = latest_checkpoint(tmp_path / "run" / "checkpoints")
    strip_checkpoint(ckpt.path, tmp_path / "slim" / "checkpoints")
    with pytest.raises(ValueError, match="weights only .* cannot be resumed"):
        Trainer.from_config(_config(train_dir), tmp_path / "slim", resume=True, progress=False, tensorboard=False)


def test_log_validation_and_tensorboard(tmp_path, train_dir):
    trainer = Trainer.from_config(_config(train_dir), tmp_path, progress=False, tensorboard=True)
    metrics = trainer.run()
    trainer.close()
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 9))
    assert {"rec", "guide", "lr", "it_per_s"} <= set(records[0])
    assert "val_psnr" in records[3] and math.isfinite(records[3]["val_psnr"])
    assert records[-1]["lr"] == pytest.approx(5e-4)  # halved at the milestone 5
    assert metrics["step"] == 8 and metrics["ranks_max_abs_diff"] == 0.0
    assert any((tmp_path / "tensorboard").iterdir())
    assert json.loads((tmp_path / "config.json").read_text())["iterations"] == 8


def test_nonfinite_steps_are_skipped_counted_and_never_saved(tmp_path, train_dir, monkeypatch):
    trainer = Trainer.from_config(_config(train_dir), tmp_path, progress=False, tensorboard=False)
    real = trainer.model.training_losses
    calls = {"n": 0}

    def poisoned(hr, lr):
        calls["n"] += 1
        if calls["n"] in (2, 3):  # a NaN batch, twice
            hr = hr.clone()
            hr[0, 0, 0, 0] = float("nan")
        return real(hr, lr)

    monkeypatch.setattr(trainer.model, "training_losses", poisoned)
    metrics = trainer.run()
    assert metrics["nonfinite_total"] == 2
    assert metrics["step"] == 8  # the skipped batches do not count as steps
    ckpt = latest_checkpoint(tmp_path / "checkpoints")
    assert ckpt.info["nonfinite_total"] == 2
    assert all(torch.isfinite(v).all() for k, v in ckpt.tensors.items() if k.startswith(("model.", "optim.")))


def test_training_stops_after_repeated_nonfinite_losses(tmp_path, train_dir, monkeypatch):
    trainer = Trainer.from_config(_config(train_dir, max_nonfinite=3), tmp_path, progress=False, tensorboard=False)
    real = trainer.model.training_losses
    calls = {"n": 0}

    def diverged(hr, lr):
        calls["n"] += 1
        out = real(hr, lr)
        if calls["n"] > 5:
            out["total"] = out["total"] * float("inf")
        return out

    monkeypatch.setattr(trainer.model, "training_losses", diverged)
    with pytest.raises(TrainingError, match="non-finite for 3 consecutive steps at step 8"):
        trainer.run()
    assert latest_checkpoint(tmp_path / "checkpoints").step == 4


def test_ema_weights_are_saved_and_preferred_for_inference(tmp_path, train_dir):
    trainer = Trainer.from_config(_config(train_dir, ema_decay=0.9), tmp_path, progress=False, tensorboard=False)
    trainer.run()
    ckpt = latest_checkpoint(tmp_path / "checkpoints")
    assert any(k.startswith("ema.") for k in ckpt.tensors)
    model = load_model(tmp_path / "checkpoints" / "step-00000008.safetensors")
    ema = {k[len("ema.module.") :]: v for k, v in ckpt.tensors.items() if k.startswith("ema.module.")}
    assert all(torch.equal(model.state_dict()[k], v) for k, v in ema.items())
    resumed = Trainer.from_config(
        _config(train_dir, ema_decay=0.9, iterations=10), tmp_path, resume=True, progress=False, tensorboard=False
    )
    assert resumed.step == 8


def test_config_errors(train_dir, tmp_path):
    with pytest.raises(ValueError, match=r"--set iterationz=5: unknown field\(s\) \[.iterationz.\]"):
        load_config(None, ["iterationz=5"])
    with pytest.raises(ValueError, match="no config file 'nope'"):
        load_config("nope")
    with pytest.raises(ValueError, match="patch_size 15 must be a multiple"):
        load_config(None, ["patch_size=15"])
    with pytest.raises(ValueError, match="no training data"):
        Trainer.from_config(load_config(None, []), tmp_path)
    with pytest.raises(ValueError, match="no checkpoint"):
        Trainer.from_config(_config(train_dir), tmp_path / "empty", resume=True, progress=False, tensorboard=False)
    cfg = load_config("cpu-small-x2", ["model_config.gamma=0.01", "iterations=10"])
    assert cfg.model_config == {"gamma": 0.01} and cfg.iterations == 10 and cfg.patch_size == 64


def test_tf32_is_a_config_field_that_the_cpu_ignores(train_dir, tmp_path):
    before = torch.backends.cudnn.allow_tf32
    cfg = _config(train_dir, tf32=False, iterations=1, device="cpu")
    assert cfg.tf32 is False
    Trainer.from_config(cfg, tmp_path / "run", progress=False, tensorboard=False)
    assert torch.backends.cudnn.allow_tf32 is before  # only set when training on CUDA


def test_cuda_graph_is_refused_where_it_cannot_work(train_dir, tmp_path):
    with pytest.raises(ValueError, match="cuda_graph needs device cuda"):
        load_config(None, ["cuda_graph=true", "device=cpu"])
    if not torch.cuda.is_available():  # "auto" resolves to the CPU here
        with pytest.raises(ValueError, match="cuda_graph needs a CUDA device"):
            Trainer.from_config(_config(train_dir, cuda_graph=True), tmp_path / "g", progress=False, tensorboard=False)
    with pytest.raises(ValueError, match="need CUDA tensors"):
        graphed_objective(build("fgrn", 2), torch.rand(1, 3, 8, 8), torch.rand(1, 3, 4, 4))


def test_init_weights_starts_from_a_weights_file_with_a_fresh_optimiser(tmp_path, train_dir):
    Trainer.from_config(_config(train_dir, iterations=4), tmp_path / "first", progress=False, tensorboard=False).run()
    weights = tmp_path / "first" / "checkpoints" / "step-00000004.safetensors"
    trained = load_model(weights).state_dict()
    # gamma is a loss setting, not a tensor: it may differ from the file's
    small = dict(_config(train_dir).model_config, gamma=0.5)
    second = Trainer.from_config(
        _config(train_dir, init_weights=str(weights), model_config=small),
        tmp_path / "second",
        progress=False,
        tensorboard=False,
    )
    assert second.step == 0 and not second.optimizer.state
    assert all(torch.equal(second.model.state_dict()[k], v) for k, v in trained.items())
    fresh = Trainer.from_config(_config(train_dir), tmp_path / "fresh", progress=False, tensorboard=False)
    assert not all(torch.equal(fresh.model.state_dict()[k], v) for k, v in trained.items())


def test_init_weights_refuses_another_model_or_network(tmp_path, train_dir):
    Trainer.from_config(_config(train_dir, iterations=4), tmp_path / "first", progress=False, tensorboard=False).run()
    weights = str(tmp_path / "first" / "checkpoints" / "step-00000004.safetensors")
    wider = dict(_config(train_dir).model_config, channels=12)
    with pytest.raises(ValueError, match="built as another network than this run's \\(channels 8, this run 12\\)"):
        Trainer.from_config(
            _config(train_dir, init_weights=weights, model_config=wider),
            tmp_path / "a",
            progress=False,
            tensorboard=False,
        )
    # same tensors, another network: the bicubic skip changes what they compute, not their shapes
    skip = dict(_config(train_dir).model_config, bicubic_skip=True)
    fix = r"bicubic_skip False, this run True\); .* --set model_config.bicubic_skip=false"
    with pytest.raises(ValueError, match=fix):
        Trainer.from_config(
            _config(train_dir, init_weights=weights, model_config=skip),
            tmp_path / "s",
            progress=False,
            tensorboard=False,
        )
    with pytest.raises(ValueError, match="weights are for model 'fgrn', not 'irn'"):
        Trainer.from_config(
            _config(train_dir, "irn", init_weights=weights), tmp_path / "b", progress=False, tensorboard=False
        )
    with pytest.raises(ValueError, match="no such weights file and no shipped model of that name"):
        Trainer.from_config(
            _config(train_dir, init_weights="nope-x2"), tmp_path / "c", progress=False, tensorboard=False
        )


def test_init_weights_builds_the_files_network_where_the_config_is_silent(tmp_path, train_dir):
    deep = dict(_config(train_dir).model_config, gd_blocks=2, gu_blocks=3)
    Trainer.from_config(_config(train_dir, iterations=4, model_config=deep), tmp_path / "deep", progress=False).run()
    weights = str(tmp_path / "deep" / "checkpoints" / "step-00000004.safetensors")
    silent = {k: v for k, v in deep.items() if k not in ("gd_blocks", "gu_blocks")}  # the scale's defaults: 3 and 5
    run = _config(train_dir, init_weights=weights, model_config=dict(silent, gamma=0.5), iterations=6)
    trainer = Trainer.from_config(run, tmp_path / "more", progress=False, tensorboard=False)
    assert (trainer.model.config.gd_blocks, trainer.model.config.gu_blocks) == (2, 3)
    assert trainer.model.config.gamma == 0.5  # loss settings stay the run's
    assert all(torch.equal(trainer.model.state_dict()[k], v) for k, v in load_model(weights).state_dict().items())
    trainer.run()
    saved = json.loads((tmp_path / "more" / "checkpoints" / "step-00000006.json").read_text())["model_config"]
    assert (saved["gd_blocks"], saved["gu_blocks"]) == (2, 3)
    # resumed, the run keeps the network it was built as, even if the file it started from now holds another
    Trainer.from_config(_config(train_dir, iterations=4), tmp_path / "other", progress=False).run()
    other = tmp_path / "other" / "checkpoints" / "step-00000004.safetensors"
    (tmp_path / "deep" / "checkpoints" / "step-00000004.safetensors").write_bytes(other.read_bytes())
    resumed = Trainer.from_config(
        dataclasses.replace(run, iterations=8),
        tmp_path / "more",
        resume=True,
        progress=False,
        tensorboard=False,
    )
    assert resumed.step == 6 and resumed.model.config.gd_blocks == 2
    # a field the config sets is the config's, and refused when the file's network differs
    with pytest.raises(ValueError, match=r"gd_blocks 1, this run 2\); .* --set model_config.gd_blocks=1"):
        Trainer.from_config(
            _config(train_dir, init_weights=str(other), model_config=dict(silent, gd_blocks=2)),
            tmp_path / "refused",
            progress=False,
            tensorboard=False,
        )


def test_freeze_trains_the_other_parts_only_and_leaves_the_lr_as_it_was(tmp_path, train_dir):
    Trainer.from_config(_config(train_dir, iterations=4), tmp_path / "first", progress=False, tensorboard=False).run()
    weights = tmp_path / "first" / "checkpoints" / "step-00000004.safetensors"
    start = load_model(weights)
    cfg = _config(train_dir, init_weights=str(weights), freeze=["gd", "flow"], ema_decay=0.9)
    trainer = Trainer.from_config(cfg, tmp_path / "gu", progress=False, tensorboard=False)
    trained = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert trained == {id(p) for p in trainer.model.gu.parameters()}
    trainer.run()
    end = load_model(tmp_path / "gu" / "checkpoints" / "step-00000008.safetensors")  # the EMA weights
    before, after = start.state_dict(), end.state_dict()
    for name, value in before.items():
        if name.startswith(("gd.", "flow.")):
            assert torch.equal(after[name], value), name
    assert not all(torch.equal(after[k], v) for k, v in before.items() if k.startswith("gu."))
    hr = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(end.downscale(hr), start.downscale(hr))
    with pytest.raises(ValueError, match=r"was trained with freeze=\['gd', 'flow'\], and this run has freeze=\[\]"):
        Trainer.from_config(
            _config(train_dir, iterations=10, ema_decay=0.9), tmp_path / "gu", resume=True, progress=False
        )
    with pytest.raises(ValueError, match="freeze: fgrn has no part 'decoder'; its parts: gd, gu, flow"):
        Trainer.from_config(_config(train_dir, freeze=["decoder"]), tmp_path / "x", progress=False, tensorboard=False)
    with pytest.raises(ValueError, match="has no parameters to train"):
        Trainer.from_config(_config(train_dir, freeze=["gd", "gu", "flow"]), tmp_path / "y", progress=False)


def test_init_weights_resolves_shipped_names():
    from flowkit.models.pretrained import available, resolve_weights, weights_path

    for name, scale in available():
        assert resolve_weights(f"{name}-x{scale}", 2) == weights_path(name, scale)
        assert resolve_weights(name, scale) == weights_path(name, scale)


def test_cosine_schedule_with_warmup_and_exact_resume(tmp_path, train_dir):
    extra = {"lr_schedule": "cosine", "warmup": 2, "lr_milestones": [], "ema_decay": 0.9}
    full = Trainer.from_config(_config(train_dir, **extra), tmp_path / "full", progress=False, tensorboard=False)
    full.run()
    lrs = [json.loads(line)["lr"] for line in (tmp_path / "full" / "log.jsonl").read_text().splitlines()]
    # the lr logged after step k is the one for step k + 1: warm-up 1/2, 2/2, then cosine to 0 at step 8
    expected = [1e-3 * 0.5 * (1 + math.cos(math.pi * min(k - 2, 6) / 6)) for k in range(2, 9)]
    assert lrs == pytest.approx([1e-3] + expected)
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)
    # resume from the full run's step-4 checkpoint (the schedule depends on iterations, so a
    # shorter run is not the first half of this one)
    (tmp_path / "part" / "checkpoints").mkdir(parents=True)
    for p in (tmp_path / "full" / "checkpoints").glob("step-00000004.*"):
        (tmp_path / "part" / "checkpoints" / p.name).write_bytes(p.read_bytes())
    Trainer.from_config(
        _config(train_dir, **extra), tmp_path / "part", resume=True, progress=False, tensorboard=False
    ).run()
    assert _losses(tmp_path / "part") == _losses(tmp_path / "full")[4:]
    with pytest.raises(ValueError, match="warmup must be >= 0, and is for lr_schedule 'cosine' only"):
        load_config(None, ["warmup=5"])
    with pytest.raises(ValueError, match="lr_schedule must be one of 'step', 'cosine'"):
        load_config(None, ['lr_schedule="linear"'])


def test_fgrn_with_bicubic_skip_starts_as_bicubic_and_bicubic(train_dir, tmp_path):
    from flowkit.image import imresize
    from flowkit.layers.quantize import quantize

    torch.manual_seed(0)
    model = build("fgrn", 4, bicubic_skip=True).eval()
    hr = torch.rand(2, 3, 48, 40)
    lr = model.downscale(hr)
    assert torch.equal(lr, quantize(imresize(hr, 0.25)))
    assert torch.allclose(model.upscale(lr), imresize(lr, 4))
    assert torch.equal(model.rescale(hr), build("bicubic", 4).rescale(hr))
    cfg = _config(train_dir, model_config={**_config(train_dir).model_config, "bicubic_skip": True}, iterations=2)
    trainer = Trainer.from_config(cfg, tmp_path, progress=False, tensorboard=False)
    trainer.run()
    assert trainer.model.gu.tail.weight.abs().sum() > 0  # the residual trains away from zero


def test_checkpoints_record_training_time_across_resumes_and_the_machine(tmp_path, train_dir):
    Trainer.from_config(_config(train_dir, iterations=4), tmp_path, progress=False, tensorboard=False).run()
    first = latest_checkpoint(tmp_path / "checkpoints").info
    assert first["train_seconds"] > 0 and first["machine"]["torch_threads"] == torch.get_num_threads()
    Trainer.from_config(_config(train_dir), tmp_path, resume=True, progress=False, tensorboard=False).run()
    second = latest_checkpoint(tmp_path / "checkpoints").info
    assert second["train_seconds"] > first["train_seconds"]


def test_every_bundled_config_loads_and_builds_its_model():
    from flowkit.train import list_bundled_configs

    names = list_bundled_configs()
    assert {"fast-fgrn-x2", "fast-fgrn-x4"} <= set(names)
    for name in names:
        c = load_config(name)
        model = build(c.model, c.scale, **c.model_config)
        assert model.scale == c.scale and c.patch_size % c.scale == 0
    for scale in (2, 4):
        fast = load_config(f"fast-fgrn-x{scale}")
        adopted_at_x4 = {"guide_to_gd": 0.05} if scale == 4 else {}  # arm F, measured at x4 only
        assert fast.scale == scale and fast.model_config == {"gamma": 0.001, "bicubic_skip": True, **adopted_at_x4}
        assert (fast.lr_schedule, fast.warmup, fast.ema_decay) == ("cosine", 100, 0.995)


def test_resume_accepts_a_checkpoint_written_before_a_config_field_existed(tmp_path, train_dir):
    Trainer.from_config(_config(train_dir, iterations=4), tmp_path, progress=False, tensorboard=False).run()
    record_path = latest_checkpoint(tmp_path / "checkpoints").path
    record = json.loads(record_path.read_text())
    del record["model_config"]["bicubic_skip"]  # as written by a version without that field
    record_path.write_text(json.dumps(record))
    assert Trainer.from_config(_config(train_dir), tmp_path, resume=True, progress=False, tensorboard=False).step == 4
    record["model_config"]["channels"] = 12  # a real difference is still refused
    record_path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="checkpoint is for a different model configuration"):
        Trainer.from_config(_config(train_dir), tmp_path, resume=True, progress=False, tensorboard=False)


# ---------------------------------------------------------------- the Python API
def test_a_model_object_trains_like_the_config_that_names_it(tmp_path, train_dir):
    config = _config(train_dir)
    Trainer.from_config(config, tmp_path / "named", progress=False, tensorboard=False).run()
    torch.manual_seed(config.seed)
    model = build("fgrn", 2, **config.model_config)
    plain = load_config(
        None,
        [
            f"train_dirs={json.dumps([str(train_dir)])}",
            "patch_size=16",
            "batch_size=4",
            "iterations=8",
            "lr=1e-3",
            "workers=0",
            "log_every=1",
            "val_every=4",
            "checkpoint_every=4",
            "val_holdout=1",
            "lr_milestones=[5]",
            'model="irn"',
            "scale=4",
        ],
    )
    trainer = Trainer(model, plain, tmp_path / "object", progress=False, tensorboard=False)
    # the model's name, scale and config replace the config's
    assert (trainer.config.model, trainer.config.scale) == ("fgrn", 2)
    assert build("fgrn", 2, **trainer.config.model_config).config == model.config
    trainer.run()
    assert _losses(tmp_path / "object") == _losses(tmp_path / "named")
    saved = json.loads((tmp_path / "object" / "config.json").read_text())
    assert saved["model"] == "fgrn" and saved["scale"] == 2
    assert (
        load_model(latest_checkpoint(tmp_path / "object" / "checkpoints").path.with_suffix(".safetensors")).config
        == model.config
    )


def test_train_step_is_one_optimiser_step(tmp_path, train_dir):
    trainer = Trainer.from_config(_config(train_dir), tmp_path, progress=False, tensorboard=False)
    hr = torch.rand(4, 3, 16, 16)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    losses, norm = trainer.train_step(hr, torch.nn.functional.avg_pool2d(hr, 2))
    assert trainer.step == 1 and "total" in losses and norm is not None and float(norm) > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True))
    assert trainer.validate().keys() == {"val_psnr", "val_lr_psnr_rgb"}
    assert trainer.save_checkpoint({}).name == "step-00000001.json"


@pytest.mark.filterwarnings("ignore:amp. this CPU .* emulated:UserWarning")  # CPUs without bfloat16 warn
@pytest.mark.parametrize("model", ["fgrn", "irn"])
def test_amp_runs_the_loss_in_bfloat16_on_the_cpu_too(tmp_path, train_dir, model):
    hr = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    lr = torch.nn.functional.avg_pool2d(hr, 2)
    steps = {}
    for amp in (False, True):
        torch.manual_seed(0)  # the same initial weights (and IRN's z draw) for both
        cfg = _config(train_dir, model, amp=amp, device="cpu")
        trainer = Trainer.from_config(cfg, tmp_path / str(amp), progress=False, tensorboard=False)
        with torch.no_grad():  # move off the zero-initialised last layers, where every dtype gives the same
            for param in trainer.model.parameters():
                param.add_(0.05 * torch.randn(param.shape, generator=torch.Generator().manual_seed(param.numel())))
        losses, norm = trainer.train_step(hr, lr)
        steps[amp] = float(losses["rec"].detach()), float(norm)
        assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in trainer.model.parameters())
    (rec32, norm32), (rec16, norm16) = steps[False], steps[True]
    assert rec16 != rec32  # the convolutions ran in bfloat16 (8 bits of mantissa) ...
    assert rec16 == pytest.approx(rec32, rel=0.05) and norm16 == pytest.approx(norm32, rel=0.1)  # ... close to fp32


def test_amp_with_cuda_graphs_turns_autocasts_weight_cache_off():
    # a graph must not keep a cast made during capture: a stale copy of the weights on every replay
    model = torch.nn.Linear(2, 2)
    for overrides, cache in ((["amp=true"], True), (["amp=true", "cuda_graph=true"], False)):
        with load_config(None, overrides).loss_precision(model, "cpu"):
            assert torch.is_autocast_enabled("cpu") and torch.is_autocast_cache_enabled() is cache
    with load_config(None, ["cuda_graph=true"]).loss_precision(model, "cpu"):
        assert not torch.is_autocast_enabled("cpu")
    # the subnet scopes: autocast only inside the subnetworks, with the same cache setting
    fgrn = build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1, flow_cells=1, flow_growth=4)
    subnet = next(m for m in fgrn.gd.modules() if isinstance(m, SUBNETS))
    conv = next(m for m in subnet.modules() if isinstance(m, torch.nn.Conv2d))
    seen = []
    spy = conv.register_forward_hook(lambda *_: seen.append(torch.is_autocast_cache_enabled()))
    for scope in ("subnets", "outer_subnets"):
        for graph, cache in (("false", True), ("true", False)):
            seen.clear()
            config = load_config(None, ["amp=true", f"amp_scope={scope}", f"cuda_graph={graph}"])
            with torch.no_grad(), config.loss_precision(fgrn, "cpu"):
                assert not torch.is_autocast_enabled("cpu")
                fgrn.downscale(torch.rand(1, 3, 16, 16))
            assert seen == [cache]
    spy.remove()


def _conv_dtypes(model, run):
    """``({part: dtypes its convolutions computed in}, run())``: parts are the subnetworks of
    ``gd``, ``gu`` and ``flow``, and ``other`` for the convolutions outside subnetworks."""
    in_subnet = {
        id(conv): part
        for part in ("gd", "gu", "flow")
        for sub in getattr(model, part).modules()
        if isinstance(sub, SUBNETS)
        for conv in sub.modules()
    }
    seen, hooks = {}, []
    for conv in model.modules():
        if isinstance(conv, torch.nn.Conv2d):
            part = in_subnet.get(id(conv), "other")
            hooks.append(conv.register_forward_hook(lambda m, i, out, p=part: seen.setdefault(p, set()).add(out.dtype)))
    try:
        result = run()
    finally:
        for h in hooks:
            h.remove()
    return seen, result


@pytest.mark.filterwarnings("ignore:amp. this CPU .* emulated:UserWarning")  # CPUs without bfloat16 warn
@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("loss", {"gd": torch.bfloat16, "gu": torch.bfloat16, "flow": torch.bfloat16, "other": torch.bfloat16}),
        ("subnets", {"gd": torch.bfloat16, "gu": torch.bfloat16, "flow": torch.bfloat16, "other": torch.float32}),
        ("outer_subnets", {"gd": torch.bfloat16, "gu": torch.bfloat16, "flow": torch.float32, "other": torch.float32}),
    ],
)
def test_amp_scope_chooses_what_the_training_step_computes_in_bfloat16(tmp_path, train_dir, scope, expected):
    hr = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    lr = torch.nn.functional.avg_pool2d(hr, 2)
    steps = {}
    for amp in (False, True):
        torch.manual_seed(0)
        cfg = _config(train_dir, amp=amp, amp_scope=scope, device="cpu")
        trainer = Trainer.from_config(cfg, tmp_path / str(amp), progress=False, tensorboard=False)
        with torch.no_grad():  # move off the zero-initialised last layers, where every dtype gives the same
            for param in trainer.model.parameters():
                param.add_(0.05 * torch.randn(param.shape, generator=torch.Generator().manual_seed(param.numel())))
        seen, (losses, norm) = _conv_dtypes(trainer.model, lambda t=trainer: t.train_step(hr, lr))
        steps[amp] = float(losses["rec"].detach()), float(norm)
        if amp:
            assert seen == {part: {dtype} for part, dtype in expected.items()}
            # outside the step nothing stays patched: the model computes in float32 again
            seen_after, _ = _conv_dtypes(trainer.model, lambda t=trainer: t.model.downscale(hr))
            assert {dtype for dtypes in seen_after.values() for dtype in dtypes} == {torch.float32}
        assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in trainer.model.parameters())
    (rec32, norm32), (rec16, norm16) = steps[False], steps[True]
    assert rec16 != rec32 and rec16 == pytest.approx(rec32, rel=0.05) and norm16 == pytest.approx(norm32, rel=0.1)


@pytest.mark.parametrize("amp", [False, True])
def test_amp_warns_on_a_device_without_bfloat16_instructions(tmp_path, train_dir, monkeypatch, recwarn, amp):
    monkeypatch.setattr(precision, "native_bfloat16", lambda device: False)
    Trainer.from_config(_config(train_dir, amp=amp, device="cpu"), tmp_path, progress=False, tensorboard=False)
    emulated = [str(w.message) for w in recwarn.list if "bfloat16 is emulated" in str(w.message)]
    assert len(emulated) == amp and all(m.startswith("amp: this CPU (") for m in emulated)


def test_amp_scope_is_checked():
    with pytest.raises(ValueError, match="amp_scope must be one of 'loss', 'subnets', 'outer_subnets', got 'flows'"):
        load_config(None, ["amp_scope=flows"])
    with pytest.raises(ValueError, match="amp_scope 'subnets' swaps the subnetworks' forward each step: not with"):
        load_config(None, ["amp=true", "amp_scope=subnets", "compile=true"])
    load_config(None, ["amp_scope=subnets", "compile=true"])  # the scope means nothing without amp


@pytest.mark.parametrize("model", ["fgrn", "irn"])
def test_channels_last_trains_the_same_run_in_the_other_memory_layout(tmp_path, train_dir, model):
    runs = {}
    for cl in (False, True):
        torch.manual_seed(0)  # the same initial weights (and IRN's z draws) for both
        cfg = _config(train_dir, model, channels_last=cl, device="cpu", iterations=4, val_every=2)
        trainer = Trainer.from_config(cfg, tmp_path / str(cl), progress=False, tensorboard=False)
        convs = [p for p in trainer.model.parameters() if p.dim() == 4 and p.shape[1] > 1 and p.shape[-1] > 1]
        assert convs and all(p.is_contiguous(memory_format=torch.channels_last) is cl for p in convs)
        trainer.run()
        runs[cl] = [json.loads(line) for line in (tmp_path / str(cl) / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in runs[True]] == [1, 2, 3, 4]
    for a, b in zip(runs[False], runs[True], strict=True):
        assert b["total"] == pytest.approx(a["total"], rel=1e-4)
        if "val_psnr" in a:
            assert b["val_psnr"] == pytest.approx(a["val_psnr"], abs=1e-3)
    # the checkpoint holds plain contiguous tensors: it loads into a model in the default layout
    weights = tmp_path / "True" / "checkpoints" / "step-00000004.safetensors"
    Trainer.from_config(
        _config(train_dir, model, init_weights=str(weights), device="cpu", iterations=1),
        tmp_path / "again",
        progress=False,
        tensorboard=False,
    )


def test_a_users_model_trains_once_registered(tmp_path, train_dir):
    from flowkit.models import FGRN, MODELS, register

    class Mine(FGRN):
        name = "mine-test"

    small = {"channels": 8, "gd_blocks": 1, "gu_blocks": 1, "flow_cells": 1, "flow_growth": 4}
    with pytest.raises(ValueError, match="not registered under its name 'mine-test'"):
        Trainer(Mine(scale=2, **small), _config(train_dir), tmp_path / "a", progress=False, tensorboard=False)
    with pytest.raises(TypeError, match="model must be a RescalingModel, got Linear"):
        Trainer(torch.nn.Linear(2, 2), _config(train_dir), tmp_path / "b", progress=False, tensorboard=False)
    register(Mine)
    try:
        Trainer(
            Mine(scale=2, **small), _config(train_dir, iterations=4), tmp_path / "c", progress=False, tensorboard=False
        ).run()
        ckpt = latest_checkpoint(tmp_path / "c" / "checkpoints")
        assert ckpt.info["model"] == "mine-test"
        assert type(load_model(ckpt.path.with_suffix(".safetensors"))) is Mine
        Trainer(
            Mine(scale=2, **small),
            _config(train_dir, iterations=6),
            tmp_path / "c",
            resume=True,
            progress=False,
            tensorboard=False,
        ).run()
        assert latest_checkpoint(tmp_path / "c" / "checkpoints").step == 6
    finally:
        del MODELS["mine-test"]


def test_compile_runs_the_loss_through_torch_compile(tmp_path, train_dir, monkeypatch):
    Trainer.from_config(_config(train_dir, iterations=4), tmp_path / "eager", progress=False, tensorboard=False).run()
    compiled = []

    def recording_compile(module, **kwargs):
        compiled.append(type(module).__name__)
        return module

    monkeypatch.setattr(torch, "compile", recording_compile)
    Trainer.from_config(
        _config(train_dir, iterations=4, compile=True), tmp_path / "compiled", progress=False, tensorboard=False
    ).run()
    assert compiled == ["_Objective"]
    assert _losses(tmp_path / "compiled") == _losses(tmp_path / "eager")
    with pytest.raises(ValueError, match="cuda_graph and compile are two ways of doing one thing"):
        _config(train_dir, compile=True, cuda_graph=True)


@pytest.mark.slow
def test_compile_with_the_real_compiler_follows_the_eager_run(tmp_path, train_dir):
    Trainer.from_config(_config(train_dir, iterations=4), tmp_path / "eager", progress=False, tensorboard=False).run()
    Trainer.from_config(
        _config(train_dir, iterations=4, compile=True), tmp_path / "compiled", progress=False, tensorboard=False
    ).run()
    for a, b in zip(_losses(tmp_path / "eager"), _losses(tmp_path / "compiled"), strict=True):
        assert b == pytest.approx(a, rel=1e-3)
