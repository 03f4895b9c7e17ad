"""A second training seed of the study trains runs of its own (``<run>-s<seed>``) and writes
tables of its own, so it can never overwrite or be mixed into the seed-0 tables."""

import json

from benchmarks.reproduce import common, fig7_gamma, report, table1, table3

SET_REPORT = {
    s: {"label": s, "psnr": 30.0, "ssim": 0.9, "niqe": 5.0, "piqe": 40.0, "images": 5, "draws": 1} for s in common.SETS
}
BUDGET = {"iterations": 4000, "batch": 8, "patch": 64, "lr": 2e-4, "wall_seconds": 3600.0, "machine": None}


def test_seeded_names_and_overrides():
    assert common.seeded("irn-x4", 0) == ("irn-x4", [])
    assert common.seeded("irn-x4", 1) == ("irn-x4-s1", ["seed=1"])


def _fake_runs(monkeypatch, tmp_path, module, finished):
    calls = []

    def run_report(name, base, overrides, model, scale, *, train_first, iterations=None, draws=5):
        calls.append((name, base, list(overrides)))
        return (SET_REPORT, BUDGET) if name in finished else None

    monkeypatch.setattr(module, "run_report", run_report)
    monkeypatch.setattr(report, "OUT", tmp_path)
    return calls


def test_table1_of_seed_1_uses_seed_1_runs_and_its_own_files(monkeypatch, tmp_path):
    calls = _fake_runs(monkeypatch, tmp_path, table1, {"irn-x4-s1", "fgrn-x4-g5e-2-s1"})
    monkeypatch.setattr(table1, "evaluate_run", lambda name, weights, model, scale: SET_REPORT)
    table1.main(["--seed", "1"])

    assert ("irn-x4-s1", "irn-x4", ["seed=1"]) in calls
    assert ("fgrn-x2-s1", "fgrn-x2", ["seed=1"]) in calls
    assert ("fgrn-x4-g5e-2-s1", "fgrn-x4", ["model_config.gamma=0.05", "seed=1"]) in calls
    assert all(name.endswith("-s1") and overrides[-1] == "seed=1" for name, _, overrides in calls)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "table1_seed1.json",
        "table1_seed1.md",
        "table2_seed1.json",
        "table2_seed1.md",
    ]
    x4 = json.loads((tmp_path / "table1_seed1.json").read_text())["x4"]
    assert sorted(x4["reports"]) == ["bicubic", "fgrn-x4-g5e-2-s1", "irn"]  # unfinished runs are left out
    assert "training seed 1" in (tmp_path / "table1_seed1.md").read_text()


def test_table1_of_seed_0_keeps_the_study_run_names(monkeypatch, tmp_path):
    calls = _fake_runs(monkeypatch, tmp_path, table1, set())
    monkeypatch.setattr(table1, "evaluate_run", lambda name, weights, model, scale: SET_REPORT)
    table1.main([])
    assert ("irn-x4", "irn-x4", []) in calls and ("fgrn-x4-g5e-2-8k", "fgrn-x4", table1.EXTRA[4][1][3]) in calls
    assert (tmp_path / "table1.md").exists() and "training seed" not in (tmp_path / "table1.md").read_text()


def test_table3_of_seed_1_uses_seed_1_runs(monkeypatch, tmp_path):
    calls = _fake_runs(monkeypatch, tmp_path, table3, {"du-none-x4-s1"})
    table3.main(["--seed", "1"])
    assert [c[0] for c in calls] == ["du-none-x4-s1", "du-bic-x4-s1", "sweep-g1e-3-s1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table3_seed1.json", "table3_seed1.md"]


def _fake_fig7(monkeypatch, tmp_path, finished):
    calls = _fake_runs(monkeypatch, tmp_path, fig7_gamma, finished)
    plots = []
    monkeypatch.setattr(
        fig7_gamma,
        "training_end",
        lambda name, steps: {"logdet": -0.5 if name.endswith("-s1") else 0.25, "exact": 0.5, "guide_l1": 0.03},
    )
    monkeypatch.setattr(fig7_gamma, "plot", lambda results, path: plots.append(results))
    return calls, plots


def test_fig7_of_seed_1_uses_seed_1_runs(monkeypatch, tmp_path):
    calls, plots = _fake_fig7(monkeypatch, tmp_path, {"sweep-g1e-3-s1", "sweep-g1e-2-s1"})
    fig7_gamma.main(["--seed", "1", "--gammas", "1e-3", "1e-2"])
    assert calls == [
        ("sweep-g1e-3-s1", "fgrn-x4-short", ["model_config.gamma=0.001", "seed=1"]),
        ("sweep-g1e-2-s1", "fgrn-x4-short", ["model_config.gamma=0.01", "seed=1"]),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig7_gamma_seed1.json", "fig7_gamma_seed1.md"]
    assert plots == []  # only the seed-0 call draws the plot
    assert (
        "| 0.001 | 30.00 / 40.00 | 30.00 / 40.00 | 30.00 / 40.00 | 30.00 / 40.00 | -0.50 / 50% / 0.030 |"
        in (tmp_path / "fig7_gamma_seed1.md").read_text()
    )


def test_fig7_plots_seed_1_only_where_its_sweep_is_complete(monkeypatch, tmp_path):
    seed0 = {"sweep-g1e-3", "sweep-g1e-2"}
    _, plots = _fake_fig7(monkeypatch, tmp_path, seed0 | {"sweep-g1e-3-s1"})
    fig7_gamma.main(["--gammas", "1e-3", "1e-2"])
    _, plots_complete = _fake_fig7(monkeypatch, tmp_path, seed0 | {"sweep-g1e-3-s1", "sweep-g1e-2-s1"})
    fig7_gamma.main(["--gammas", "1e-3", "1e-2"])
    assert [sorted(p) for p in plots] == [[0]] and [sorted(p) for p in plots_complete] == [[0, 1]]
    assert sorted(plots_complete[0][1]) == [1e-3, 1e-2]
    flow = json.loads((tmp_path / "fig7_gamma.json").read_text())["flow_at_end"]
    assert flow == {g: {"logdet": 0.25, "exact": 0.5, "guide_l1": 0.03} for g in ("0.001", "0.01")}


def test_training_end_averages_the_last_200_steps_of_the_log(monkeypatch, tmp_path):
    monkeypatch.setattr(common, "RUNS", tmp_path)
    (tmp_path / "run").mkdir()
    records = [{"step": step, "logdet": step / 100, "exact": 0.5, "guide_l1": 0.25} for step in range(50, 450, 50)]
    records[-1]["val_psnr"] = 30.0
    (tmp_path / "run" / "log.jsonl").write_text("\n".join(map(json.dumps, records)) + "\n")
    assert common.training_end("run") == {"logdet": (2.5 + 3 + 3.5 + 4) / 4, "exact": 0.5, "guide_l1": 0.25}
