"""Checkpoints: round trip, atomicity under crashes and full disks, corruption detection, pruning."""

import errno
import os

import pytest
import torch

from flowkit.models import build, load_model
from flowkit.train.checkpoint import (
    CheckpointError,
    checkpoint_stem,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    optimizer_state,
    save_checkpoint,
    strip_checkpoint,
)


def _state():
    torch.manual_seed(0)
    model = build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1, flow_cells=1, flow_growth=4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [5, 10], gamma=0.5)
    hr = torch.rand(2, 3, 8, 8)
    for _ in range(3):
        loss = model.training_losses(hr, torch.rand(2, 3, 4, 4))["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model, opt, sched


def _save(directory, step, model, opt, sched, **kw):
    return save_checkpoint(
        directory, step, model=model, optimizer=opt, scheduler=sched, train_config={"iterations": 10}, **kw
    )


def test_round_trip(tmp_path):
    model, opt, sched = _state()
    _save(tmp_path, 3, model, opt, sched)
    ckpt = load_checkpoint(tmp_path / "step-00000003.json")
    assert ckpt.step == 3 and ckpt.info["model"] == "fgrn"
    for k, v in model.state_dict().items():
        assert torch.equal(ckpt.tensors[f"model.{k}"], v)
    opt2 = torch.optim.Adam(model.parameters(), lr=1.0)
    opt2.load_state_dict(optimizer_state(ckpt))
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"][0]["lr"] == s2["param_groups"][0]["lr"]
    for i in s1["state"]:
        assert torch.equal(s1["state"][i]["exp_avg"], s2["state"][i]["exp_avg"])
    sched2 = torch.optim.lr_scheduler.MultiStepLR(opt2, [1], gamma=0.1)
    sched2.load_state_dict(ckpt.info["scheduler"])
    assert sched2.milestones == sched.milestones and sched2.last_epoch == sched.last_epoch
    assert torch.equal(ckpt.tensors["rng.torch"], torch.get_rng_state())
    # a checkpoint is also a weights file
    loaded = load_model(tmp_path / "step-00000003.safetensors", expect_model="fgrn", expect_scale=2)
    assert all(
        torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values(), strict=True)
    )


def test_stripped_checkpoint_keeps_weights_and_record_only(tmp_path):
    model, opt, sched = _state()
    full = _save(tmp_path / "full", 3, model, opt, sched)
    path = strip_checkpoint(full, tmp_path / "slim")
    slim = latest_checkpoint(tmp_path / "slim")  # verifies its own checksum
    assert slim.path == path and slim.step == 3 and slim.info["weights_only"] is True
    assert sorted(slim.tensors) == sorted(f"model.{k}" for k in model.state_dict())
    assert slim.info["train_config"] == {"iterations": 10}
    assert slim.info["scheduler"] == load_checkpoint(full).info["scheduler"]
    assert path.with_suffix(".safetensors").stat().st_size < full.with_suffix(".safetensors").stat().st_size / 2
    loaded = load_model(path.with_suffix(".safetensors"), expect_model="fgrn", expect_scale=2)
    assert all(
        torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values(), strict=True)
    )


def _tensor_bytes(file):
    """The bytes of a safetensors file after its header (an 8-byte little-endian length, then that many bytes)."""
    with open(file, "rb") as f:
        header = int.from_bytes(f.read(8), "little")
    return os.path.getsize(file) - 8 - header


def test_a_served_only_half_precision_copy_keeps_what_load_model_reads(tmp_path):
    model, opt, sched = _state()
    ema = torch.optim.swa_utils.AveragedModel(model)
    with torch.no_grad():
        for p in ema.module.parameters():
            p.add_(0.01)  # the averaged weights differ from the model's
    full = _save(tmp_path / "full", 3, model, opt, sched, ema=ema)
    weights_only = strip_checkpoint(full, tmp_path / "slim")
    path = strip_checkpoint(full, tmp_path / "small", served_only=True, dtype=torch.float16)
    small = latest_checkpoint(tmp_path / "small")  # verifies its own checksum
    assert small.path == path and small.info["weights_only"] and small.info["weights_dtype"] == "float16"
    assert sorted(small.tensors) == sorted(f"ema.module.{k}" for k in model.state_dict())
    floats = [v for v in small.tensors.values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    # the tensors' bytes, headers aside: half the tensors (the EMA's, not the model's), half the bytes each
    slim_bytes, small_bytes = (_tensor_bytes(p.with_suffix(".safetensors")) for p in (weights_only, path))
    assert small_bytes <= slim_bytes / 4
    loaded = load_model(path.with_suffix(".safetensors"), expect_model="fgrn", expect_scale=2)
    for a, b in zip(loaded.state_dict().values(), ema.module.state_dict().values(), strict=True):
        assert a.dtype == b.dtype and torch.equal(a, b.to(torch.float16).to(b.dtype))


def test_checkpoint_stem_names_the_files_save_writes_and_list_reads(tmp_path):
    model, opt, sched = _state()
    for step in (7, 23456789):  # the second fills all eight digits
        _save(tmp_path, step, model, opt, sched)
        assert (tmp_path / f"{checkpoint_stem(step)}.json").is_file()
        assert (tmp_path / f"{checkpoint_stem(step)}.safetensors").is_file()
    assert checkpoint_stem(7) == "step-00000007"
    assert [p.stem for p in list_checkpoints(tmp_path)] == [checkpoint_stem(23456789), checkpoint_stem(7)]


def test_keep_last_prunes_old_checkpoints(tmp_path):
    model, opt, sched = _state()
    for step in (1, 2, 3, 4):
        _save(tmp_path, step, model, opt, sched, keep_last=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-00000004.json", "step-00000003.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "step-00000003.json",
        "step-00000003.safetensors",
        "step-00000004.json",
        "step-00000004.safetensors",
    ]


@pytest.mark.parametrize("fail_on", ["safetensors", "json"])
def test_crash_during_write_keeps_previous_checkpoint(tmp_path, monkeypatch, fail_on):
    model, opt, sched = _state()
    _save(tmp_path, 1, model, opt, sched)
    real_replace = os.replace

    def crashing_replace(src, dst):
        if str(dst).endswith(fail_on):
            raise KeyboardInterrupt("killed mid-write")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crashing_replace)
    with pytest.raises(KeyboardInterrupt):
        _save(tmp_path, 2, model, opt, sched)
    monkeypatch.setattr(os, "replace", real_replace)
    assert latest_checkpoint(tmp_path).step == 1
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_disk_full_keeps_previous_checkpoint(tmp_path, monkeypatch):
    model, opt, sched = _state()
    _save(tmp_path, 1, model, opt, sched)
    real_fsync = os.fsync

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        _save(tmp_path, 2, model, opt, sched)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert latest_checkpoint(tmp_path).step == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000001.json", "step-00000001.safetensors"]


def test_corruption_is_detected_with_a_clear_message(tmp_path):
    model, opt, sched = _state()
    _save(tmp_path, 1, model, opt, sched)
    _save(tmp_path, 2, model, opt, sched)
    weights = tmp_path / "step-00000002.safetensors"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF  # flip bits inside the tensor data
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum mismatch.*previous checkpoint is step-00000001.json"):
        latest_checkpoint(tmp_path)
    (tmp_path / "step-00000001.json").write_text("{ not json")
    with pytest.raises(CheckpointError, match="corrupted checkpoint record"):
        load_checkpoint(tmp_path / "step-00000001.json")
    weights.unlink()
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path / "step-00000002.json")


def _weights_equal(loaded, state):
    return all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), state.values(), strict=True))


@pytest.mark.parametrize("header", [True, False])  # False: written before the header existed
def test_a_checkpoint_loads_as_its_averaged_weights_when_it_keeps_them(tmp_path, header):
    from safetensors.torch import load_file, save_file

    from flowkit.models.io import WEIGHTS_PREFIX

    model, opt, sched = _state()
    ema = torch.optim.swa_utils.AveragedModel(model)
    with torch.no_grad():
        for p in ema.module.parameters():
            p.add_(1.0)  # the averaged weights differ from the model's
    path = _save(tmp_path, 3, model, opt, sched, ema=ema).with_suffix(".safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta[WEIGHTS_PREFIX] == "ema.module."
    if not header:
        save_file(load_file(str(path)), str(path), metadata={k: v for k, v in meta.items() if k != WEIGHTS_PREFIX})
    assert _weights_equal(load_model(path), ema.module.state_dict())
    plain = _save(tmp_path / "plain", 3, model, opt, sched).with_suffix(".safetensors")
    assert _weights_equal(load_model(plain), model.state_dict())
