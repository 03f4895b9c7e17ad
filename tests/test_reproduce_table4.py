"""Table 4's Gaussian-z IRN: its run when there is one, else the shipped IRN only if that was
trained with the same config (the study's runs are not kept in the repository)."""

import copy

from benchmarks.reproduce import table4
from flowkit.models.pretrained import model_card, weights_path


def test_z_model_falls_back_to_the_shipped_irn_of_the_same_config(monkeypatch):
    monkeypatch.setattr(table4, "finished", lambda name: False)
    name, weights, budget = table4.z_model(2)
    assert (name, weights) == ("shipped-irn-x2", weights_path("irn", 2))
    assert budget == model_card("irn", 2)["training"]["budget"] and budget["iterations"] == 4000


def test_z_model_refuses_a_shipped_irn_trained_otherwise(monkeypatch, capsys):
    card = copy.deepcopy(model_card("irn", 2))
    card["training"]["config"]["iterations"] = 8000
    monkeypatch.setattr(table4, "finished", lambda name: False)
    monkeypatch.setattr(table4, "model_card", lambda model, scale: card)
    assert table4.z_model(2) is None
    assert "differs in ['iterations']" in capsys.readouterr().out
