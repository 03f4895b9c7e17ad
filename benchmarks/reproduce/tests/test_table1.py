"""Table 1 with the sample-efficient recipe: FGRN with its recipe against IRN with the recipe's
generic parts (Table 4's z run) at the study's budget, judged by a rule on two training seeds."""

import json

import pytest

from benchmarks.reproduce import report, table1
from benchmarks.reproduce.paper import SETS
from benchmarks.reproduce.recipe_ablation import FAST_RECIPE, GENERIC_RECIPE

BUDGET = {"iterations": 4000, "batch": 8, "patch": 64, "lr": 2e-4, "wall_seconds": 3600.0, "machine": None}


def evaluation(psnr):
    return {
        s: {"label": s, "psnr": psnr, "ssim": 0.9, "niqe": 5.0, "piqe": 40.0, "images": 5, "draws": 1} for s in SETS
    }


def test_fast_runs_share_irn_with_table4_and_give_fgrn_its_recipe():
    assert table1.runs("irn", 2, recipe="fast") == ("irn-x2-fast", GENERIC_RECIPE)
    assert table1.runs("fgrn", 2, recipe="fast") == ("fgrn-x2-fast", FAST_RECIPE)
    assert table1.runs("fgrn", 4, seed=1, recipe="fast") == (
        "fgrn-x4-fast-s1",
        [*FAST_RECIPE, "model_config.guide_to_gd=0.05", "seed=1"],
    )
    assert table1.runs("irn", 4, seed=1) == ("irn-x4-s1", ["seed=1"])  # the paper recipe is unchanged


def test_fast_recipe_trains_its_own_runs_and_writes_its_own_tables(monkeypatch, tmp_path):
    monkeypatch.setattr(report, "OUT", tmp_path)
    calls = []

    def run_report(name, base, overrides, model, scale, *, train_first, iterations=None, draws=5):
        calls.append((name, base, list(overrides), draws))
        return evaluation(30.0 if model == "irn" else 31.0), BUDGET

    monkeypatch.setattr(table1, "run_report", run_report)
    monkeypatch.setattr(table1, "evaluate_run", lambda name, weights, model, scale: evaluation(28.0))
    table1.main(["--train", "--recipe", "fast", "--seed", "1"])
    assert [c[0] for c in calls] == ["fgrn-x2-fast-s1", "irn-x2-fast-s1", "fgrn-x4-fast-s1", "irn-x4-fast-s1"]
    assert calls[1] == ("irn-x2-fast-s1", "irn-x2", [*GENERIC_RECIPE, "seed=1"], 1)  # one draw, as the rule says
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "table1_fast_seed1.json",
        "table1_fast_seed1.md",
        "table2_fast_seed1.json",
        "table2_fast_seed1.md",
    ]  # no judged table while seed 0's is missing
    text = (tmp_path / "table1_fast_seed1.md").read_text()
    assert table1.FAST_RULE in text and "IRN, generic recipe" in text and "8000 iterations" not in text
    assert sorted(json.loads((tmp_path / "table1_fast_seed1.json").read_text())["x4"]["reports"]) == [
        "bicubic",
        "fgrn",
        "irn",
    ]


def test_the_fast_rule_compares_the_seed_means_per_set_and_scale(monkeypatch, tmp_path):
    monkeypatch.setattr(report, "OUT", tmp_path)

    def seed_table(stem, irn, fgrn, scales=("x2",)):
        payload = {
            s: {"reports": {"bicubic": evaluation(28.0), "irn": evaluation(irn), "fgrn": evaluation(fgrn)}}
            for s in scales
        }
        (tmp_path / f"{stem}.json").write_text(json.dumps(payload))

    seed_table("table1_fast", 30.0, 30.2)
    assert table1.judge_fast() == {}  # seed 1 not in yet
    assert not (tmp_path / "table1_fast_judged.md").exists()
    seed_table("table1_fast_seed1", 30.0, 29.9)  # mean FGRN - IRN = +0.05
    verdicts = table1.judge_fast()
    assert list(verdicts) == ["x2"] and verdicts["x2"]["Set5"] == {"fgrn_minus_irn": pytest.approx(0.05), "met": True}
    seed_table("table1_fast_seed1", 30.0, 29.7)  # -0.05
    assert not table1.judge_fast()["x2"]["BSD100"]["met"]
    assert "| Set5 | 30.00 | 29.95 | -0.05 | no |" in (tmp_path / "table1_fast_judged.md").read_text()


def test_the_fast_recipe_tests_irn_with_the_rules_one_draw(capsys):
    with pytest.raises(SystemExit):
        table1.main(["--recipe", "fast", "--irn-draws", "5"])
    assert "--irn-draws 1" in capsys.readouterr().err
