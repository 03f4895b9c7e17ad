"""benchmarks.reproduce.soup: the mean of the weights, still an invertible FGRN, a manifest with each
checkpoint's training record, clear refusals, nothing overwritten."""

import json

import pytest
import torch

from benchmarks.reproduce.soup import average, main
from flowkit.models import build, load_model, save_model
from flowkit.train.checkpoint import save_checkpoint


def small_fgrn(seed: int, **fields):
    torch.manual_seed(seed)
    model = build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1, **fields)
    with torch.no_grad():  # distinct weights per seed, F away from the identity
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def test_each_tensor_is_the_mean_and_the_flow_stays_invertible():
    models = [small_fgrn(s) for s in (0, 1, 2)]
    soup = average(models)
    states = [m.state_dict() for m in models]
    for key, value in soup.state_dict().items():
        expected = sum(s[key].double() for s in states) / 3
        torch.testing.assert_close(value, expected.to(value.dtype), rtol=0, atol=1e-7)
    assert not torch.equal(
        soup.state_dict()["flow.flows.0.alpha.conv1.weight"], states[0]["flow.flows.0.alpha.conv1.weight"]
    )
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        y, logdet = soup.flow(x)
        back, logdet_back = soup.flow.inverse(y)
    torch.testing.assert_close(back, x, rtol=0, atol=1e-5)
    torch.testing.assert_close(logdet_back, -logdet, rtol=0, atol=1e-5)
    assert models[0].state_dict()["flow.flows.0.alpha.conv1.weight"].data_ptr() != (
        soup.state_dict()["flow.flows.0.alpha.conv1.weight"].data_ptr()
    )  # a new model: the first input is left as it was


def test_shares_weigh_the_mean_and_the_blend_stays_invertible():
    a, b = small_fgrn(0), small_fgrn(1)
    blend = average([a, b], [0.75, 0.25])
    sa, sb = a.state_dict(), b.state_dict()
    for key, value in blend.state_dict().items():
        expected = 0.75 * sa[key].double() + 0.25 * sb[key].double()
        torch.testing.assert_close(value, expected.to(value.dtype), rtol=0, atol=1e-7)
    equal = average([a, b], [0.5, 0.5])
    for key, value in average([a, b]).state_dict().items():
        torch.testing.assert_close(equal.state_dict()[key], value, rtol=0, atol=0)  # equal shares: the uniform mean
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    with torch.no_grad():  # in float64, so that only the blend's invertibility is measured
        y, logdet = blend.double().flow(x)
        back, logdet_back = blend.flow.inverse(y)
    torch.testing.assert_close(back, x, rtol=0, atol=1e-10)
    torch.testing.assert_close(logdet_back, -logdet, rtol=0, atol=1e-10)


@pytest.mark.parametrize("shares", [[1.0], [0.5, 0.6], [1.2, -0.2], [1.0, 0.0]])
def test_it_refuses_shares_that_are_not_one_positive_number_per_model_summing_to_one(shares):
    with pytest.raises(ValueError, match="positive numbers summing to 1"):
        average([small_fgrn(0), small_fgrn(1)], shares)


def test_it_refuses_one_model_and_models_that_differ():
    with pytest.raises(ValueError, match="at least two"):
        average([small_fgrn(0)])
    with pytest.raises(ValueError, match="not one network"):
        average([small_fgrn(0), small_fgrn(1, flow_clamp=1.0)])
    mixed = average([small_fgrn(0, range_weight=0.3), small_fgrn(1)])  # loss weights may differ
    assert mixed.config.range_weight == 0.3  # the first input's configuration


def test_the_command_writes_the_soup_and_a_manifest_and_never_overwrites(tmp_path, capsys):
    first, second = small_fgrn(0), small_fgrn(1)
    weights = tmp_path / "a.safetensors"
    save_model(first, weights)
    optimizer = torch.optim.Adam(second.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    ckpt_json = save_checkpoint(
        tmp_path / "run", 7, model=second, optimizer=optimizer, scheduler=scheduler, train_config={"seed": 3}
    )
    checkpoint = ckpt_json.with_suffix(".safetensors")
    out = tmp_path / "soup" / "soup.safetensors"
    main(["--out", str(out), str(weights), str(checkpoint)])
    assert "the mean of 2 fgrn x2 models" in capsys.readouterr().out
    soup = load_model(out, expect_model="fgrn", expect_scale=2)
    expected = average([first, load_model(checkpoint)])
    for key, value in soup.state_dict().items():
        torch.testing.assert_close(value, expected.state_dict()[key], rtol=0, atol=0)
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert [i["path"] for i in manifest["ingredients"]] == [str(weights), str(checkpoint)]
    assert "step" not in manifest["ingredients"][0]  # a weights file has no training record
    assert manifest["ingredients"][1]["step"] == 7 and manifest["ingredients"][1]["train_config"] == {"seed": 3}
    assert manifest["ingredients"][0]["share"] == manifest["ingredients"][1]["share"] == 0.5
    before = out.read_bytes()
    with pytest.raises(SystemExit):
        main(["--out", str(out), str(weights), str(checkpoint)])
    assert "not overwritten" in capsys.readouterr().err
    assert out.read_bytes() == before
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "x.safetensors"), str(weights), str(weights)])
    assert "given twice" in capsys.readouterr().err
    save_model(small_fgrn(2, flow_clamp=1.0), other := tmp_path / "other.safetensors")
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "y.safetensors"), str(weights), str(other)])
    assert "cannot average" in capsys.readouterr().err
    assert not (tmp_path / "y.safetensors").exists()
    record = ckpt_json.read_text()  # a checkpoint whose record no longer matches its weights is refused
    ckpt_json.write_text(record.replace(json.loads(record)["sha256"], "0" * 64))
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "z.safetensors"), str(weights), str(checkpoint)])
    assert "checksum mismatch" in capsys.readouterr().err
    assert not (tmp_path / "z.safetensors").exists()


def test_the_command_writes_a_weighted_mean_with_its_shares(tmp_path, capsys):
    first, second = small_fgrn(0), small_fgrn(1)
    paths = [tmp_path / "a.safetensors", tmp_path / "b.safetensors"]
    for model, path in zip((first, second), paths, strict=True):
        save_model(model, path)
    out = tmp_path / "blend" / "blend.safetensors"
    main(["--out", str(out), *map(str, paths), "--shares", "0.75", "0.25"])
    assert "weighted mean (shares 0.75, 0.25) of 2 fgrn x2 models" in capsys.readouterr().out
    expected = average([first, second], [0.75, 0.25])
    for key, value in load_model(out).state_dict().items():
        torch.testing.assert_close(value, expected.state_dict()[key], rtol=0, atol=0)
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert [i["share"] for i in manifest["ingredients"]] == [0.75, 0.25]
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "c.safetensors"), *map(str, paths), "--shares", "0.5", "0.4"])
    assert "summing to 1" in capsys.readouterr().err
    assert not (tmp_path / "c.safetensors").exists()
