"""Weights files, configs, checkpoints and logs that are wrong in a way a user can cause: each
is refused with one line naming the file, the field and what was expected, before any work."""

import json
import time

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from flowkit.image import save_png
from flowkit.models import build, load_model, save_model
from flowkit.models.io import ModelFileError
from flowkit.train import Trainer, TrainingError, load_config
from flowkit.train.checkpoint import CheckpointError, latest_checkpoint, list_checkpoints, load_checkpoint

SMALL = {
    "fgrn": {"channels": 8, "gd_blocks": 2, "gu_blocks": 1, "flow_cells": 2, "flow_growth": 4},
    "irn": {"blocks": 2, "growth": 4},
}


@pytest.fixture(scope="module")
def train_dir(small_train_dir):
    return small_train_dir


def _config(train_dir, **extra):
    fields = {
        "model": "fgrn",
        "scale": 2,
        "model_config": SMALL["fgrn"],
        "train_dirs": [str(train_dir)],
        "patch_size": 16,
        "batch_size": 2,
        "iterations": 4,
        "workers": 0,
        "log_every": 1,
        "val_every": 2,
        "checkpoint_every": 2,
        "val_holdout": 1,
        **extra,
    }
    return load_config(None, [f"{k}={json.dumps(v)}" for k, v in fields.items()])


def _rewrite_header(src, dst, **changes):
    with safe_open(str(src), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
    config = json.loads(meta["flowkit.config"]) | changes
    save_file(tensors, str(dst), metadata=meta | {"flowkit.config": json.dumps(config)})


# ------------------------------------------------------------------------ weights headers
@pytest.mark.parametrize(
    "name, change, message",
    [
        ("fgrn", {"gd_blocks": 20_000}, "gd_blocks 20000 in the config, 2 in the tensors"),
        ("fgrn", {"channels": 4096}, "channels 4096 in the config, 8 in the tensors"),
        ("fgrn", {"flow_cells": 5}, "flow_cells 5 in the config, 2 in the tensors"),
        ("fgrn", {"guidance": "none"}, "flow_cells 0 in the config, 2 in the tensors"),
        ("irn", {"blocks": 20_000}, "blocks 20000 in the config, 2 in the tensors"),
        ("irn", {"growth": 64}, "growth 64 in the config, 4 in the tensors"),
    ],
)
def test_a_header_whose_sizes_disagree_with_its_tensors_is_refused_at_once(tmp_path, name, change, message):
    save_model(build(name, 2, **SMALL[name]), tmp_path / "ok.safetensors")
    _rewrite_header(tmp_path / "ok.safetensors", tmp_path / "bad.safetensors", **change)
    start = time.perf_counter()
    with pytest.raises(ModelFileError, match="header config does not match its tensors") as info:
        load_model(tmp_path / "bad.safetensors")
    assert time.perf_counter() - start < 1.0  # refused before a network of that size is built
    assert message in str(info.value) and str(tmp_path / "bad.safetensors") in str(info.value)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"channels": "8"}, "field channels must be an integer or null, got '8'"),
        ({"gd_blocks": True}, "field gd_blocks must be an integer or null, got True"),
        ({"gamma": [1]}, "field gamma must be a finite number, got [1]"),
        ({"guidance": 3}, "field guidance must be one of 'flow', 'bicubic', 'none', got 3"),
    ],
)
def test_a_header_field_of_the_wrong_type_is_named(tmp_path, change, message):
    save_model(build("fgrn", 2, **SMALL["fgrn"]), tmp_path / "ok.safetensors")
    _rewrite_header(tmp_path / "ok.safetensors", tmp_path / "bad.safetensors", **change)
    with pytest.raises(ModelFileError) as info:
        load_model(tmp_path / "bad.safetensors")
    assert str(info.value) == f"{tmp_path / 'bad.safetensors'}: header flowkit.config: {message}"


# ------------------------------------------------------------------------ config files and --set
@pytest.mark.parametrize(
    "override, message",
    [
        ('iterations="5"', "--set iterations=\"5\": field iterations must be an integer, got '5'"),
        ("lr=NaN", "--set lr=NaN: field lr must be a finite number, got nan"),
        ("model_config=[1]", "--set model_config=[1]: field model_config must be an object, got [1]"),
        (
            "model_config.gamma=abc",
            ("--set model_config.gamma=abc: model_config: field gamma must be a finite number, got 'abc'"),
        ),
        ("betas=[0.9]", "--set betas=[0.9]: field betas must be a list of 2 finite numbers, got [0.9]"),
        ("patch_size=1.5", "--set patch_size=1.5: field patch_size must be an integer, got 1.5"),
    ],
)
def test_a_wrongly_typed_override_names_the_field_and_type(override, message):
    with pytest.raises(ValueError) as info:
        load_config("cpu-small-x2", [override])
    assert str(info.value) == message


def test_a_wrongly_typed_config_file_names_the_file(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"iterations": "many", "model": "fgrn"}))
    with pytest.raises(ValueError, match=f"^{path}: field iterations must be an integer, got 'many'$"):
        load_config(path)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must be a JSON object, got list"):
        load_config(path)


# ------------------------------------------------------------------------ checkpoints and logs
def test_a_checkpoint_record_missing_a_field_is_named(tmp_path, train_dir):
    Trainer.from_config(_config(train_dir), tmp_path, progress=False, tensorboard=False).run()
    record_path = list_checkpoints(tmp_path / "checkpoints")[0]
    record = json.loads(record_path.read_text())
    del record["weights"]
    record_path.write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match=f"{record_path}: checkpoint record has no field 'weights'"):
        load_checkpoint(record_path)
    record["weights"], record["step"] = "x.safetensors", "4"
    record_path.write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="field 'step' must be an integer"):
        load_checkpoint(record_path)


def _poison_newest(run_dir):
    """Make the newest checkpoint's weights NaN (re-signed, so only the values are wrong)."""
    from flowkit.models.io import tensor_digest

    ckpt = latest_checkpoint(run_dir / "checkpoints")
    tensors = dict(ckpt.tensors)
    name = next(k for k in tensors if k.startswith("model.") and tensors[k].is_floating_point())
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    weights = ckpt.path.with_suffix(".safetensors")
    with safe_open(str(weights), framework="pt") as f:
        meta = f.metadata()
    save_file(tensors, str(weights), metadata=meta | {"flowkit.sha256": tensor_digest(tensors)})
    ckpt.path.write_text(json.dumps(json.loads(ckpt.path.read_text()) | {"sha256": tensor_digest(tensors)}))
    return ckpt


def test_resuming_from_non_finite_weights_is_refused_naming_the_last_finite_checkpoint(tmp_path, train_dir):
    Trainer.from_config(_config(train_dir), tmp_path, progress=False, tensorboard=False).run()
    bad = _poison_newest(tmp_path)
    good = list_checkpoints(tmp_path / "checkpoints")[1]
    with pytest.raises(ValueError, match="holds non-finite weights and cannot be resumed") as info:
        Trainer.from_config(_config(train_dir, iterations=8), tmp_path, resume=True, progress=False, tensorboard=False)
    assert str(bad.path) in str(info.value) and f"the last checkpoint with finite weights is {good}" in str(info.value)


def test_non_finite_weights_are_never_saved(tmp_path, train_dir):
    trainer = Trainer.from_config(_config(train_dir), tmp_path, progress=False, tensorboard=False)
    with torch.no_grad():
        next(trainer.model.parameters()).fill_(float("inf"))
    with pytest.raises(TrainingError, match="the weights are non-finite; not saved"):
        trainer.save_checkpoint({})
    assert list_checkpoints(tmp_path / "checkpoints") == []


def test_a_cut_off_last_log_line_is_dropped_on_resume(tmp_path, train_dir):
    Trainer.from_config(_config(train_dir), tmp_path, progress=False, tensorboard=False).run()
    log = tmp_path / "log.jsonl"
    log.write_text(log.read_text() + '{"step": 5, "tot')
    trainer = Trainer.from_config(
        _config(train_dir, iterations=6), tmp_path, resume=True, progress=False, tensorboard=False
    )
    trainer.run()
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    assert steps == list(range(1, 7))
    lines = log.read_text().splitlines()
    log.write_text("\n".join([lines[0], "{broken", *lines[1:]]) + "\n")
    with pytest.raises(ValueError, match="log.jsonl: line 2 is not valid JSON"):
        Trainer.from_config(_config(train_dir, iterations=8), tmp_path, resume=True, progress=False, tensorboard=False)


@pytest.mark.parametrize("iterations", [2, 4])
def test_resuming_with_iterations_not_past_the_checkpoint_is_refused(tmp_path, train_dir, iterations):
    Trainer.from_config(_config(train_dir), tmp_path, progress=False, tensorboard=False).run()
    before = (tmp_path / "final_metrics.json").read_bytes()
    with pytest.raises(ValueError, match=f"is at step 4, and this run has iterations={iterations}: nothing to train"):
        Trainer.from_config(
            _config(train_dir, iterations=iterations), tmp_path, resume=True, progress=False, tensorboard=False
        )
    assert (tmp_path / "final_metrics.json").read_bytes() == before


def test_a_validation_image_smaller_than_the_scale_is_refused_at_start_up(tmp_path, train_dir):
    folder = tmp_path / "train"
    folder.mkdir()
    for p in train_dir.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    save_png(folder / "zz-tiny.png", torch.rand(3, 1, 40))  # held out: the last file by name
    with pytest.raises(ValueError, match=r"zz-tiny.png: validation image is 1x40, smaller than 6x6 at x2"):
        Trainer.from_config(
            _config(folder, train_dirs=[str(folder)]), tmp_path / "run", progress=False, tensorboard=False
        )


def test_model_and_training_configs_share_one_checked_round_trip():
    from flowkit.fields import Config
    from flowkit.models import FGRNConfig
    from flowkit.train import TrainConfig

    for config in (TrainConfig(), FGRNConfig(scale=2)):
        assert isinstance(config, Config) and type(config).from_dict(config.to_dict()) == config
    assert TrainConfig().replace(lr=1e-4).lr == 1e-4
    with pytest.raises(ValueError, match="training config: field lr must be"):
        TrainConfig().replace(lr="fast")
    with pytest.raises(ValueError, match="FGRNConfig: a model config must be a JSON object, got list"):
        FGRNConfig.from_dict([1])
    with pytest.raises(ValueError, match=r"training config: model_config: field gamma must be"):
        TrainConfig.from_dict({"model": "fgrn", "model_config": {"gamma": "big"}})
