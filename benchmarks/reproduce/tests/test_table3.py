"""benchmarks.reproduce.table3: the runs of each recipe and seed."""

import json

import pytest

from benchmarks.reproduce import report, table3
from benchmarks.reproduce.paper import SETS
from benchmarks.reproduce.recipe_ablation import FAST_RECIPE


def test_the_paper_recipe_keeps_its_run_names():
    assert table3.runs()["DU_flow"] == ("sweep-g1e-3", ["model_config.gamma=0.001"])
    assert table3.runs(seed=1)["DU_none"] == ("du-none-x4-s1", ["model_config.guidance=none", "seed=1"])


def test_the_fast_recipe_switches_only_the_guidance_between_its_three_runs():
    fast = table3.runs("fast", seed=1)
    assert [name for name, _ in fast.values()] == ["du-none-x4-fast-s1", "du-bic-x4-fast-s1", "du-flow-x4-fast-s1"]
    guidance = {"DU_none": ["model_config.guidance=none"], "DU_bic": ["model_config.guidance=bicubic"], "DU_flow": []}
    for label, (_, overrides) in fast.items():
        assert overrides == [*FAST_RECIPE, *guidance[label], "seed=1"]


def _write_seed_table(out, stem, psnr_by_label):
    reports = {k: {s: {"label": s, "psnr": v + i} for i, s in enumerate(SETS)} for k, v in psnr_by_label.items()}
    (out / f"{stem}.json").write_text(json.dumps({"reports": reports, "budgets": {}}))


def test_the_fast_rule_is_applied_to_the_seed_means_once_both_seeds_are_written(monkeypatch, tmp_path):
    monkeypatch.setattr(report, "OUT", tmp_path)
    _write_seed_table(tmp_path, "table3_fast", {"DU_none": 31.0, "DU_bic": 30.0, "DU_flow": 31.2})
    assert table3.judge_fast() is None and not (tmp_path / "table3_fast_judged.md").exists()
    # seed means: none 31.0, bic 30.96 (+0.04 only), flow 30.94 (-0.06: one margin too far)
    _write_seed_table(tmp_path, "table3_fast_seed1", {"DU_none": 31.0, "DU_bic": 31.92, "DU_flow": 30.68})
    verdicts = table3.judge_fast()
    assert verdicts["Set5"]["flow_minus_none"] == pytest.approx(-0.06)
    assert verdicts["Set5"]["none_minus_bic"] == pytest.approx(0.04)
    assert not verdicts["Set5"]["reproduced"]
    _write_seed_table(tmp_path, "table3_fast_seed1", {"DU_none": 31.0, "DU_bic": 29.0, "DU_flow": 30.8})
    verdicts = table3.judge_fast()
    assert verdicts["Set5"]["flow_minus_none"] == pytest.approx(0.0) and verdicts["Set5"]["reproduced"]
    text = (tmp_path / "table3_fast_judged.md").read_text()
    assert table3.FAST_RULE in text and "| Set5 | 31.00 | 29.50 | 31.00 | 0.00 | 1.50 | yes |" in text


def test_seed_means_wait_for_every_row_of_every_seed(monkeypatch, tmp_path):
    monkeypatch.setattr(report, "OUT", tmp_path)
    _write_seed_table(tmp_path, "a", {"DU_none": 31.0, "DU_bic": 30.0})
    _write_seed_table(tmp_path, "b", {"DU_none": 32.0})
    assert report.seed_means(["a", "b"]) is None and report.seed_means(["a", "missing"]) is None
    _write_seed_table(tmp_path, "b", {"DU_none": 32.0, "DU_bic": 30.0})
    assert report.seed_means(["a", "b"])["DU_none"] == {"Set5": 31.5, "Set14": 32.5, "BSD100": 33.5, "Urban100": 34.5}
