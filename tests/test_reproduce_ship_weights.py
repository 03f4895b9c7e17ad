"""ship_weights: which runs it exports and the training command its cards give."""

from benchmarks.reproduce import ship_weights


def test_card_command_names_the_training_seed():
    assert ship_weights.seed_option("irn-x2-s1") == " --seed 1"
    assert ship_weights.seed_option("fgrn-x4-g5e-2-s12") == " --seed 12"
    assert ship_weights.seed_option("fgrn-x4-g5e-2-8k") == ""
    assert ship_weights.seed_option("irn-x4") == ""


def test_only_exports_the_models_named(monkeypatch, capsys):
    asked = []
    monkeypatch.setattr(ship_weights, "finished", lambda name: asked.append(name) or False)
    ship_weights.main(["--only", "irn-x2"])
    assert asked == [ship_weights.SHIPPED_RUNS[("irn", 2)]]
    assert capsys.readouterr().out == f"{asked[0]}: not finished; not shipped\n"
