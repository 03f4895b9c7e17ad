"""Table 4's Gaussian-z IRN: its run when there is one, else the shipped IRN only if that was
trained with the same config (the study's runs are not kept in the repository)."""

import json

import pytest

from benchmarks.reproduce import report, table4
from benchmarks.reproduce.common import CONFIGS
from benchmarks.reproduce.paper import SETS
from benchmarks.reproduce.recipe_ablation import GENERIC_RECIPE
from flowkit.models.pretrained import weights_path
from flowkit.train import load_config


def study_card(seed=1):
    """The card of an IRN x2 shipped straight from the study's run ``irn-x2[-s<seed>]`` (the
    shipped file itself has been continued since, so it stands in for no run)."""
    config = json.loads(json.dumps(load_config(CONFIGS / "irn-x2.json", [f"seed={seed}"]).to_dict()))
    budget = {"iterations": 4000, "batch": 8, "patch": 64, "lr": 2e-4, "wall_seconds": 5508.0, "machine": {}}
    return {"sha256": "ab" * 32, "training": {"config": config, "budget": budget}}


@pytest.fixture
def shipped_from_the_study(monkeypatch):
    card = study_card()
    monkeypatch.setattr(table4, "model_card", lambda model, scale: card)
    return card


def test_z_model_falls_back_to_the_shipped_irn_of_the_same_config(monkeypatch, shipped_from_the_study):
    monkeypatch.setattr(table4, "finished", lambda name: False)
    card = shipped_from_the_study
    seed = card["training"]["config"]["seed"]
    name, weights, budget = table4.z_model(2, seed)
    # cached under the weights' digest: evaluations of weights shipped before are not reused
    assert (name, weights) == (f"shipped-irn-x2-{card['sha256'][:8]}", weights_path("irn", 2))
    assert budget == card["training"]["budget"] and budget["iterations"] == 4000


def test_z_model_refuses_a_shipped_irn_of_another_seed(monkeypatch, capsys, shipped_from_the_study):
    monkeypatch.setattr(table4, "finished", lambda name: False)
    other = shipped_from_the_study["training"]["config"]["seed"] + 1
    assert table4.z_model(2, other) is None
    assert "differs from configs/irn-x2.json" in capsys.readouterr().out


def test_z_model_refuses_a_shipped_irn_trained_otherwise(monkeypatch, capsys):
    card = study_card()
    card["training"]["config"]["iterations"] = 8000
    monkeypatch.setattr(table4, "finished", lambda name: False)
    monkeypatch.setattr(table4, "model_card", lambda model, scale: card)
    assert table4.z_model(2, card["training"]["config"]["seed"]) is None
    assert "in ['iterations']" in capsys.readouterr().out


def test_seed_names_both_runs_and_the_table(monkeypatch, tmp_path):
    calls, written = [], {}
    report = {s: {"label": s, "psnr": 30.0, "ssim": 0.9} for s in ("Set5", "Set14", "BSD100", "Urban100")}
    monkeypatch.setattr(table4, "finished", lambda name: name in ("irn-x2-s3", "irn-z0-x2-s3"))
    monkeypatch.setattr(table4, "final_weights", lambda name: tmp_path / f"{name}.safetensors")
    monkeypatch.setattr(table4, "budget", lambda name: {"iterations": 4000, "batch": 8, "patch": 64, "lr": 2e-4})

    def evaluate_run(name, weights, *args, **kwargs):
        calls.append((name, weights.stem if weights else None))
        return report

    monkeypatch.setattr(table4, "evaluate_run", evaluate_run)
    monkeypatch.setattr(table4, "z_scale_probe", lambda weights, scale: {"0": 1.0})
    monkeypatch.setattr(table4, "write", lambda stem, data, text: written.update({stem: text}))
    table4.main(["--scale", "2", "--seed", "3", "--draws", "1"])
    assert calls[:3] == [("irn-x2-s3", "irn-x2-s3"), ("irn-z0-x2-s3", "irn-z0-x2-s3"), ("irn-x2-s3", "irn-x2-s3")]
    assert list(written) == ["table4_x2_seed3"] and "at x2, training seed 3" in written["table4_x2_seed3"]


def test_the_fast_recipe_adds_the_generic_recipe_to_both_runs():
    assert table4.runs(4) == ("irn-x4", "irn-z0-x4", [])
    assert table4.runs(4, seed=1, recipe="fast") == ("irn-x4-fast-s1", "irn-z0-x4-fast-s1", [*GENERIC_RECIPE, "seed=1"])


def test_the_fast_recipe_never_stands_the_shipped_irn_in(monkeypatch, shipped_from_the_study):
    monkeypatch.setattr(table4, "finished", lambda name: False)
    seed = shipped_from_the_study["training"]["config"]["seed"]
    assert table4.z_model(2, seed) is not None  # the paper recipe would use it
    assert table4.z_model(2, seed, recipe="fast") is None


def test_fast_recipe_trains_both_runs_and_writes_its_rule(monkeypatch, tmp_path):
    monkeypatch.setattr(report, "OUT", tmp_path)  # no other seed's table: nothing to judge yet
    trained, written = [], {}
    evaluation = {s: {"label": s, "psnr": 30.0, "ssim": 0.9} for s in ("Set5", "Set14", "BSD100", "Urban100")}
    done = set()
    monkeypatch.setattr(table4, "finished", lambda name: name in done)
    monkeypatch.setattr(
        table4, "train", lambda name, base, overrides: (trained.append((name, base, overrides)), done.add(name))
    )
    monkeypatch.setattr(table4, "final_weights", lambda name: tmp_path / f"{name}.safetensors")
    monkeypatch.setattr(table4, "budget", lambda name: {"iterations": 4000, "batch": 8, "patch": 64, "lr": 2e-4})
    monkeypatch.setattr(table4, "evaluate_run", lambda *args, **kwargs: evaluation)
    monkeypatch.setattr(table4, "z_scale_probe", lambda weights, scale: {"0": 1.0})
    monkeypatch.setattr(table4, "write", lambda stem, data, text: written.update({stem: text}))
    table4.main(["--train", "--recipe", "fast", "--seed", "1", "--draws", "1"])
    assert trained == [
        ("irn-x4-fast-s1", "irn-x4", [*GENERIC_RECIPE, "seed=1"]),
        ("irn-z0-x4-fast-s1", "irn-x4", ["model_config.z_mode=zero", *GENERIC_RECIPE, "seed=1"]),
    ]
    assert list(written) == ["table4_fast_seed1"]
    assert table4.FAST_RULE in written["table4_fast_seed1"] and "generic recipe" in written["table4_fast_seed1"]


def test_the_fast_rule_reads_z0_against_z_on_the_seed_means(monkeypatch, tmp_path):
    monkeypatch.setattr(report, "OUT", tmp_path)

    def seed_table(name, z, z0):
        rows = {"z": z, "z0": z0, "z-model, tested with z = 0": 10.0}
        reports = {k: {s: {"psnr": v} for s in SETS} for k, v in rows.items()}
        (tmp_path / f"{name}.json").write_text(json.dumps({"reports": reports}))

    seed_table("table4_fast", 30.0, 29.8)
    assert table4.judge_fast() is None
    seed_table("table4_fast_seed1", 30.0, 30.05)  # mean z0 - z = -0.075: within the margin
    assert table4.judge_fast()["Set5"] == {"z0_minus_z": pytest.approx(-0.075), "reproduced": True, "z0_better": False}
    seed_table("table4_fast_seed1", 30.0, 29.7)  # -0.25
    assert not table4.judge_fast()["BSD100"]["reproduced"]
    seed_table("table4_fast_seed1", 30.0, 30.5)  # +0.15
    assert table4.judge_fast()["Urban100"]["z0_better"]
    assert "| Set5 | 30.00 | 30.15 | +0.15 | yes, z0 better |" in (tmp_path / "table4_fast_judged.md").read_text()


def test_the_fast_recipe_tests_the_z_model_with_the_rules_one_draw(monkeypatch, capsys):
    with pytest.raises(SystemExit):
        table4.main(["--recipe", "fast", "--draws", "5"])
    assert "--draws 1" in capsys.readouterr().err
