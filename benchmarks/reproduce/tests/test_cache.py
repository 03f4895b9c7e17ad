"""The study's evaluation cache: one file per set, each set seeded alike, so evaluating the
sets in separate processes (``benchmarks.reproduce.eval_run``) gives one pass's numbers."""

import torch

from benchmarks.reproduce import common
from flowkit.models import build, save_model
from flowkit.testing import perturb_parameters


def test_sets_evaluated_apart_give_the_numbers_of_one_pass(tmp_path, shared_data, monkeypatch):
    monkeypatch.setattr(common, "RUNS", tmp_path)
    monkeypatch.setenv("FLOWKIT_DATA", str(shared_data))
    torch.manual_seed(0)
    weights = tmp_path / "irn-x2.safetensors"
    save_model(perturb_parameters(build("irn", 2, blocks=1, growth=4), 0.05), weights)  # samples z: seeds matter

    together = common.evaluate_run("together", weights, "irn", 2, sets=("Set5", "Set14"), draws=2)
    torch.manual_seed(123)  # whatever state another process starts in, and the other order
    apart = common.evaluate_run("apart", weights, "irn", 2, sets=("Set14",), draws=2)
    apart |= common.evaluate_run("apart", weights, "irn", 2, sets=("Set5",), draws=2)
    assert apart == together
    assert together["Set14"]["draws"] == 2 and together["Set5"]["images"] == 5
    assert sorted(p.name for p in (tmp_path / "apart" / "eval-draws2").iterdir()) == ["Set14.json", "Set5.json"]

    # cached sets are read back, not evaluated again (the weights are gone now)
    weights.unlink()
    assert common.evaluate_run("apart", weights, "irn", 2, sets=("Set5", "Set14"), draws=2) == together


def test_the_shipped_round_trip_is_measured_once_per_weights(tmp_path, shared_data, monkeypatch):
    from flowkit.image.datasets import EvalSet
    from flowkit.models import pretrained

    monkeypatch.setattr(common, "RUNS", tmp_path)
    monkeypatch.setenv("FLOWKIT_DATA", str(shared_data))
    got = common.shipped_roundtrip(4, sets=("Set5",))["Set5"]

    net = pretrained("fgrn", 4).eval()
    dataset = EvalSet(shared_data / "eval" / "Set5", 4)
    gaps = [net.roundtrip_gap(dataset.load(p).hr.float()[None]) for p in dataset.files]
    assert len(gaps) == 5
    assert 0.0 < got["exact"] < 1.0 and got["exact"] == sum(g["exact"].item() for g in gaps) / 5
    assert got["psnr_exact"] == sum(g["psnr_exact"].item() for g in gaps) / 5
    assert len(list((tmp_path / "shipped-lr").glob("fgrn-x4-*/roundtrip-Set5.json"))) == 1

    # read back, not measured again
    monkeypatch.setattr("flowkit.models.pretrained", lambda *a: (_ for _ in ()).throw(AssertionError("measured")))
    assert common.shipped_roundtrip(4, sets=("Set5",))["Set5"] == got


def test_bicubic_lr_quality_is_measured_once_for_every_shipped_model(tmp_path, shared_data, monkeypatch):
    from flowkit.evaluation import lr_quality
    from flowkit.image.datasets import EvalSet
    from flowkit.layers.quantize import quantize

    monkeypatch.setattr(common, "RUNS", tmp_path)
    monkeypatch.setenv("FLOWKIT_DATA", str(shared_data))
    built = []
    monkeypatch.setattr(common, "build", lambda *a, **k: built.append(a) or build(*a, **k))
    irn, fgrn = (common.shipped_lr_quality(m, 4, sets=("Set5",))["Set5"] for m in ("irn", "fgrn"))
    assert built == [("bicubic", 4)]  # the second model reads Bicubic's scores back
    assert [p.name for p in (tmp_path / "shipped-lr" / "bicubic-x4").iterdir()] == ["quality-Set5.json"]

    dataset = EvalSet(shared_data / "eval" / "Set5", 4)
    params = shared_data / "niqe" / "niqe_pris_params.npz"
    expected = [
        lr_quality(quantize(build("bicubic", 4).downscale(dataset.load(p).hr.float()[None])), params)
        for p in dataset.files
    ]
    assert [b for _, b in irn["piqe"]] == [b for _, b in fgrn["piqe"]] == [q["piqe"] for q in expected]
    assert len(expected) == 5 and len(irn["piqe"]) == 5
    # NIQE pairs only where it is defined (from 96 x 96): at x4 one Set5 LR is large enough
    assert [b for _, b in fgrn["niqe"]] == [q["niqe"] for q in expected if q["niqe"] is not None]
    assert len(fgrn["niqe"]) == 1 and all(m != b for m, b in fgrn["piqe"])
