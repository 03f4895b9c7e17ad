"""``irn_latent --run`` / ``--weights`` analyse a run's final weights or a weights file instead of the shipped
IRN, each into a table of its own."""

import pytest

from benchmarks.reproduce import irn_latent, report

ROW = {"image": "Set5/baby", "bicubic": 37.0, "irn": 36.0, "irn_own_z": 30.0, "max_abs_z": 0.5, "outlier_pct": 0.0}


def test_run_needs_its_scale(capsys):
    with pytest.raises(SystemExit) as err:
        irn_latent.main(["--run", "irn-x2-s1"])
    assert err.value.code == 2 and "--run or --weights goes with --scale" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        irn_latent.main(["--run", "irn-x2-s1", "--weights", "w.safetensors", "--scale", "2"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_run_analyses_that_runs_weights_into_its_own_table(monkeypatch, tmp_path):
    loaded, analysed = [], []
    monkeypatch.setattr(report, "OUT", tmp_path)
    monkeypatch.setattr(irn_latent, "final_weights", lambda name: tmp_path / f"{name}.safetensors")
    monkeypatch.setattr(irn_latent, "load_model", lambda path, **expect: loaded.append((path.name, expect)) or "net")
    monkeypatch.setattr(irn_latent, "pretrained", lambda *a: pytest.fail("the shipped IRN must not be used"))
    monkeypatch.setattr(irn_latent, "per_image", lambda irn, scale: analysed.append((irn, scale)) or [ROW])
    irn_latent.main(["--run", "irn-x2-s1", "--scale", "2"])
    assert loaded == [("irn-x2-s1.safetensors", {"expect_model": "irn", "expect_scale": 2})]
    assert analysed == [("net", 2)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["irn_latent_irn-x2-s1.json", "irn_latent_irn-x2-s1.md"]
    text = (tmp_path / "irn_latent_irn-x2-s1.md").read_text()
    assert "run `irn-x2-s1`" in text and "| Set5/baby | 37.00 | 36.00 | -1.00 |" in text and "### x4" not in text


def test_weights_file_is_analysed_into_a_table_named_after_it(monkeypatch, tmp_path):
    loaded = []
    monkeypatch.setattr(report, "OUT", tmp_path)
    monkeypatch.setattr(irn_latent, "load_model", lambda path, **expect: loaded.append((path, expect)) or "net")
    monkeypatch.setattr(irn_latent, "pretrained", lambda *a: pytest.fail("the shipped IRN must not be used"))
    monkeypatch.setattr(irn_latent, "per_image", lambda irn, scale: [ROW])
    weights = tmp_path / "irn-x2-seed0.safetensors"
    irn_latent.main(["--weights", str(weights), "--scale", "2"])
    assert loaded == [(weights, {"expect_model": "irn", "expect_scale": 2})]
    text = (tmp_path / "irn_latent_irn-x2-seed0.md").read_text()
    assert "(`irn-x2-seed0.safetensors`, Set5 and Set14)" in text and "### x2" in text
