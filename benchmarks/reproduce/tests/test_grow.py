"""benchmarks.reproduce.grow: a deeper FGRN file that computes what its source computed, the source on
record, nothing overwritten, bad input refused in one line."""

import json

import pytest
import torch
from safetensors import safe_open

from benchmarks.reproduce.grow import main
from flowkit.models import build, load_model, save_model
from flowkit.models.io import tensor_digest


@pytest.fixture
def source(tmp_path):
    torch.manual_seed(0)
    model = build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1, flow_cells=1, bicubic_skip=True)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    path = tmp_path / "src.safetensors"
    save_model(model, path)
    return path, model


def test_writes_the_grown_network_with_its_source_on_record(tmp_path, source, capsys):
    path, model = source
    out = tmp_path / "deep" / "deep.safetensors"
    main([str(path), "--gu-blocks", "3", "--out", str(out)])
    grown = load_model(out, expect_model="fgrn", expect_scale=2)
    assert (grown.config.gd_blocks, grown.config.gu_blocks) == (1, 3)
    hr = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        assert torch.equal(grown.rescale(hr), model.rescale(hr))
    with safe_open(str(out), framework="pt") as f:
        record = json.loads(f.metadata()["flowkit.grown"])
    assert record == {
        "from": str(path),
        "sha256": tensor_digest(model.state_dict()),
        "gd_blocks": [1, 1],
        "gu_blocks": [1, 3],
    }
    assert "grown to gd_blocks 1, gu_blocks 3" in capsys.readouterr().out


def test_refuses_to_overwrite_and_explains_bad_input(tmp_path, source, capsys):
    path, _ = source
    before = path.read_bytes()
    for argv, message in [
        ([str(path), "--gu-blocks", "2", "--out", str(path)], "exists; not overwritten"),
        ([str(path), "--gu-blocks", "1", "--out", str(tmp_path / "a.safetensors")], "grow: no block added"),
        ([str(tmp_path / "nope"), "--gd-blocks", "2", "--out", str(tmp_path / "b.safetensors")], "no such weights"),
    ]:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
    irn = tmp_path / "irn.safetensors"
    save_model(build("irn", 2, blocks=1, growth=4), irn)
    with pytest.raises(SystemExit):
        main([str(irn), "--gu-blocks", "2", "--out", str(tmp_path / "c.safetensors")])
    assert "weights are for model 'irn', not 'fgrn'" in capsys.readouterr().err
    assert path.read_bytes() == before
    assert not (tmp_path / "a.safetensors").exists() and not (tmp_path / "b.safetensors").exists()


def test_a_grown_run_folder_is_recognised_by_its_record(tmp_path, monkeypatch, source):
    from benchmarks.reproduce import common

    path, model = source
    monkeypatch.setattr(common, "RUNS", tmp_path / "runs")
    main([str(path), "--gd-blocks", "2", "--out", str(tmp_path / "runs/G/G.safetensors")])
    assert common.grown_record("G") == {
        "from": str(path),
        "sha256": tensor_digest(model.state_dict()),
        "gd_blocks": [1, 2],
        "gu_blocks": [1, 1],
    }
    (tmp_path / "runs/P").mkdir()
    save_model(model, tmp_path / "runs/P/P.safetensors")  # a weights file, not grown
    assert common.grown_record("P") is None and common.grown_record("missing") is None
