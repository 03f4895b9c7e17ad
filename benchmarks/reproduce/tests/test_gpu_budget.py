"""The GPU-budget study: one iteration count for every run, configs that load, runs
that count as finished at their own iteration count, and an export that comes back."""

import argparse
import json

import pytest
import torch

from benchmarks.reproduce import common, gpu_budget, table1, table4
from benchmarks.reproduce.gpu_budget import append_record, budget_overrides, export_mib, pick_iterations, small_export
from benchmarks.reproduce.records import GPU_RUNS
from flowkit.models import build
from flowkit.train import TrainConfig, load_config
from flowkit.train.checkpoint import save_checkpoint, strip_checkpoint


def test_one_iteration_count_fits_the_summed_step_times():
    steps = {"fgrn": 0.027, "irn": 0.164}
    n = pick_iterations(steps, 300, 0.75)
    assert n % 100 == 0 and n * sum(steps.values()) <= 300 * 0.75 < (n + 100) * sum(steps.values())
    with pytest.raises(ValueError, match="fewer than 100 steps"):
        pick_iterations(steps, 10, 0.75)


@pytest.mark.parametrize("key", list(GPU_RUNS))
def test_every_gpu_run_loads_with_the_budget_overrides(key):
    base, extra, _ = GPU_RUNS[key]
    c = load_config(common.CONFIGS / f"{base}.json", extra + budget_overrides(1700, 16, 144, 2))
    assert (c.iterations, c.batch_size, c.patch_size, c.device) == (1700, 16, 144, "cuda")
    assert c.milestones() == [850, 1275] and c.val_every == c.checkpoint_every == 425
    fast = {"gamma": 0.001, "bicubic_skip": True}
    expected = {
        "gpu-fgrn-x4": {"gamma": 0.05},
        "gpu-fast-fgrn-x4": {**fast, "guide_to_gd": 0.05},  # as fast-fgrn-x4
        "gpu-fast-fgrn-x2": fast,
        "gpu-cont-fgrn-x4": {**fast, "guide_to_gd": 0.05},  # as the shipped continuations
        "gpu-cont-fgrn-x2": {**fast, "guide_to_gd": 0.05},
        "fgrn-x4-fast": {**fast, "guide_to_gd": 0.05},  # Table 1's fast-recipe FGRN
        "fgrn-x4-fast-s1": {**fast, "guide_to_gd": 0.05},
        "fgrn-x2-fast": fast,
        "fgrn-x2-fast-s1": fast,
        "irn-z0-x4-fast": {"z_mode": "zero"},  # Table 4's z0 runs
        "irn-z0-x4-fast-s1": {"z_mode": "zero"},
        "irn-z0-x2-fast": {"z_mode": "zero"},
        "irn-z0-x2-fast-s1": {"z_mode": "zero"},
    }
    shipped_losses = {**fast, "guide_chroma": 3.0, "rec_loss": "rmse_luma", "roundtrip_weight": 0.2}
    shipped_losses["range_weight"] = 0.1  # the losses of the shipped files' last training
    expected["gpu-cont2-fgrn-x4"] = {**shipped_losses, "guide_to_gd": 0.14, "logdet_hinge": 0.1, "gd_blocks": 8}
    expected["gpu-cont2-fgrn-x2"] = {**shipped_losses, "guide_to_gd": 0.08}
    assert c.model_config == expected.get(key, {})  # the rest: the paper's γ
    generic = key.startswith("gpu-fast-") or key.endswith("-generic") or "-fast" in key  # cosine, warm-up, EMA
    if key.startswith(("gpu-cont-", "gpu-cont2-")):  # the shipped file of its model and scale, a short warm-up
        assert c.init_weights == key.split("-", 2)[2]
        assert (c.lr_schedule, c.warmup, c.ema_decay, c.seed) == ("cosine", 50, 0.995, 3)
        if key.startswith("gpu-cont2-"):
            assert not c.amp  # float32 on the GPU
    else:
        assert c.init_weights is None
        assert (c.lr_schedule, c.warmup, c.ema_decay) == (("cosine", 100, 0.995) if generic else ("step", 0, None))


def test_a_run_is_finished_at_its_own_iteration_count(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RUNS", tmp_path)
    model = build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1, flow_cells=1, flow_growth=4)
    opt = torch.optim.Adam(model.parameters())
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [5])
    assert not common.finished("short")
    save_checkpoint(
        tmp_path / "short" / "checkpoints",
        300,
        model=model,
        optimizer=opt,
        scheduler=sched,
        train_config={"iterations": 500},
    )
    assert not common.finished("short")
    save_checkpoint(
        tmp_path / "short" / "checkpoints",
        500,
        model=model,
        optimizer=opt,
        scheduler=sched,
        train_config={"iterations": 500},
    )
    assert common.finished("short") and not common.finished("short", 4000)


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("seed", [0, 1])
def test_table1s_fast_gpu_runs_are_the_runs_table1_trains(seed, scale):
    # the same names and configs, so `table1 --recipe fast` reads what a GPU call brings back
    for model in ("fgrn", "irn"):
        name, overrides = table1.runs(model, scale, seed, "fast")
        assert GPU_RUNS[name][:2] == (f"{model}-x{scale}", overrides)


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("seed", [0, 1])
def test_table4s_gpu_runs_are_the_runs_table4_trains(seed, scale):
    # the same names and configs, so `table4 --recipe fast` reads what a GPU call brings back
    z_run, z0_run, overrides = table4.runs(scale, seed, "fast")
    assert GPU_RUNS[z_run][:2] == (f"irn-x{scale}", overrides)
    assert GPU_RUNS[z0_run][:2] == (f"irn-x{scale}", ["model_config.z_mode=zero", *overrides])
    config = load_config(common.CONFIGS / f"irn-x{scale}.json", overrides)
    assert (config.iterations, config.batch_size, config.patch_size) == (4000, 8, 64)  # --iterations 4000 ...


def test_calls_with_one_tag_keep_every_record(tmp_path):
    path = tmp_path / "gpu_budget-n8000.json"
    append_record(path, {"wall_seconds_side_by_side": {"gpu-irn-x4-n8000": 507.0}})
    append_record(path, {"wall_seconds_side_by_side": {"gpu-fgrn-x4-n8000": 138.0}})
    walls = [r["wall_seconds_side_by_side"] for r in json.loads(path.read_text())]
    assert walls == [{"gpu-irn-x4-n8000": 507.0}, {"gpu-fgrn-x4-n8000": 138.0}]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_the_export_size_is_what_the_export_writes(tmp_path):
    model = build("fgrn", 2)
    ema = torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.99))
    opt = torch.optim.Adam(model.parameters())
    ckpt = save_checkpoint(
        tmp_path / "run",
        10,
        model=model,
        optimizer=opt,
        scheduler=torch.optim.lr_scheduler.MultiStepLR(opt, [5]),
        train_config={"iterations": 10},
        ema=ema,
    )
    config = TrainConfig(model="fgrn", scale=2, ema_decay=0.99)
    for small, kwargs in ((False, {}), (True, {"served_only": True, "dtype": torch.float16})):
        written = strip_checkpoint(ckpt, tmp_path / f"export-{small}", **kwargs).with_suffix(".safetensors")
        assert export_mib([config], small) == pytest.approx(written.stat().st_size / 2**20, rel=0.01)
    assert export_mib([config], False) == pytest.approx(4 * export_mib([config], True), rel=1e-9)
    no_ema = TrainConfig(model="fgrn", scale=2)
    assert export_mib([no_ema], False) == pytest.approx(2 * export_mib([no_ema], True), rel=1e-9)


def _call(limit: float, small: bool = False) -> argparse.Namespace:
    runs = ["gpu-cont2-fgrn-x4", "gpu-cont2-fgrn-x2", "gpu-cont-irn-x4", "gpu-cont-irn-x2"]
    return argparse.Namespace(
        runs=runs, batch=16, patch=128, workers=3, device="cuda", export_limit=limit, export_small=small
    )


def test_an_export_over_the_limit_is_made_small_and_one_that_cannot_fit_stops_the_call(capsys):
    # the four continuations: 83 MiB in float32 with their averaged weights, 21 MiB served in float16
    assert small_export(_call(48.0), []) is True
    assert "over --export-limit 48; exporting the served weights in float16" in capsys.readouterr().out
    assert small_export(_call(100.0), []) is False and small_export(_call(100.0, small=True), []) is True
    with pytest.raises(SystemExit, match="even a small export of these runs is 20.7 MiB, over --export-limit 16"):
        small_export(_call(16.0), [])
    assert gpu_budget.EXPORT_LIMIT_MIB + 8 < 64  # the benchmark tables and logs come back beside it
