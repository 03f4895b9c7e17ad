"""ship_weights: which runs it exports and the training command its cards give."""

from benchmarks.reproduce import ship_weights


def test_card_command_names_the_training_seed():
    assert ship_weights.training_command("irn-x2-s1") == "python -m benchmarks.reproduce.table1 --train --seed 1  (run irn-x2-s1)"
    assert "--seed 12  (run fgrn-x4-g5e-2-s12)" in ship_weights.training_command("fgrn-x4-g5e-2-s12")
    assert ship_weights.training_command("irn-x4") == "python -m benchmarks.reproduce.table1 --train  (run irn-x4)"


def test_card_command_of_a_gpu_run_is_its_gpu_budget_call():
    command = ship_weights.training_command("gpu-irn-x4-n8000-fp32-s1")
    assert "benchmarks.reproduce.gpu_budget --runs gpu-irn-x4 --iterations 8000" in command
    assert "seed=1" in command and "--tag n8000-fp32-s1" in command and "table1" not in command


def test_only_exports_the_models_named(monkeypatch, capsys):
    asked = []
    monkeypatch.setattr(ship_weights, "finished", lambda name: asked.append(name) or False)
    ship_weights.main(["--only", "irn-x2"])
    assert asked == [ship_weights.SHIPPED_RUNS[("irn", 2)]]
    assert capsys.readouterr().out == f"{asked[0]}: not finished; not shipped\n"
