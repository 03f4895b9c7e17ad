"""`flowkit downscale / upscale / eval / demo`: round trips, folders, tiling, and one-line errors."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from flowkit.cli import main
from flowkit.image import load, read_png_metadata, save_png
from flowkit.metrics import lr_fidelity
from flowkit.models import build, save_model
from flowkit.rescale import downscale_image
from flowkit.testing import perturb_parameters


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Small FGRN x2 / IRN x2 / FGRN x4 weight files (perturbed so they are not the identity)."""
    d = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    out = {}
    for name, scale, kw in [
        ("fgrn", 2, {"channels": 8, "gd_blocks": 1, "gu_blocks": 1, "flow_cells": 1, "flow_growth": 4}),
        ("fgrn", 4, {"channels": 8, "gd_blocks": 1, "gu_blocks": 1, "flow_cells": 1, "flow_growth": 4}),
        ("irn", 2, {"blocks": 1, "growth": 4}),
    ]:
        model = perturb_parameters(build(name, scale, **kw), 0.05)
        path = d / f"{name}-x{scale}.safetensors"
        save_model(model, path)
        out[(name, scale)] = path
    return out


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "flowkit", *map(str, args)], capture_output=True, text=True)


def _one_error_line(result):
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert all(line.startswith("flowkit: error:") for line in lines), result.stderr
    return lines


@pytest.mark.parametrize("size", [(37, 50), (1, 1), (2, 3), (16, 16)])
def test_downscale_upscale_round_trip_restores_size(tmp_path, weights, size):
    hr = torch.rand(3, *size)
    save_png(tmp_path / "in.png", hr)
    assert (
        main(
            [
                "downscale",
                str(tmp_path / "in.png"),
                str(tmp_path / "lr.png"),
                "--model",
                "fgrn",
                "--scale",
                "2",
                "--weights",
                str(weights[("fgrn", 2)]),
                "--quiet",
            ]
        )
        == 0
    )
    meta = read_png_metadata(tmp_path / "lr.png")
    assert meta["flowkit.model"] == "fgrn" and meta["flowkit.scale"] == "2"
    assert meta["flowkit.original_size"] == f"{size[0]}x{size[1]}"
    lr = load(tmp_path / "lr.png")
    assert lr.shape == (3, -(-size[0] // 2), -(-size[1] // 2))
    assert (
        main(
            [
                "upscale",
                str(tmp_path / "lr.png"),
                str(tmp_path / "out.png"),
                "--weights",
                str(weights[("fgrn", 2)]),
                "--quiet",
            ]
        )
        == 0
    )
    assert load(tmp_path / "out.png").shape == (3, *size)


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "I;16"])
def test_unusual_but_valid_images_are_processed(tmp_path, weights, mode):
    arr = (np.random.default_rng(0).random((21, 30, 3)) * 255).astype(np.uint8)
    img = Image.fromarray(arr)
    img = {
        "L": img.convert("L"),
        "P": img.convert("P"),
        "RGBA": img.convert("RGBA"),
        "I;16": Image.fromarray(arr[..., 0].astype(np.uint16) * 257),
    }[mode]
    img.save(tmp_path / "in.png")
    result = _cli(
        "downscale",
        tmp_path / "in.png",
        tmp_path / "lr.png",
        "--scale",
        "2",
        "--weights",
        weights[("fgrn", 2)],
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert load(tmp_path / "lr.png").shape == (3, 11, 15)


@pytest.mark.parametrize("planes", [1, 3, 4])
def test_16bit_pngs_are_processed(tmp_path, weights, planes):
    from tests.pngwriter import png_bytes

    arr = np.random.default_rng(1).integers(0, 65536, (9, 14, planes), dtype=np.uint16)
    (tmp_path / "deep.png").write_bytes(png_bytes(arr, 16))
    result = _cli(
        "downscale",
        tmp_path / "deep.png",
        tmp_path / "lr.png",
        "--scale",
        "2",
        "--weights",
        weights[("fgrn", 2)],
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert ("alpha channel dropped" in result.stderr) == (planes == 4)
    assert load(tmp_path / "lr.png").shape == (3, 5, 7)


def test_folder_with_good_and_bad_files(tmp_path, weights):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(2):
        save_png(src / f"good{i}.png", torch.rand(3, 12, 12))
    from tests.pngwriter import bomb_png_bytes, png_bytes

    (src / "text.png").write_text("I am not a PNG")
    (src / "empty.jpg").write_bytes(b"")
    noise = np.random.default_rng(2).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    full = png_bytes(noise, 8)
    (src / "truncated.png").write_bytes(full[: len(full) // 2])
    (src / "bomb.png").write_bytes(bomb_png_bytes(50_000, 50_000))
    result = _cli("downscale", src, tmp_path / "out", "--scale", "2", "--weights", weights[("fgrn", 2)], "--quiet")
    lines = _one_error_line(result)
    assert result.returncode == 1 and len(lines) == 5
    assert lines[-1] == "flowkit: error: 4 of 6 files failed"
    assert any("text.png" in line and "not an image" in line for line in lines)
    assert any("bomb.png" in line and "decompression bomb" in line for line in lines)
    assert any("truncated.png" in line and "cannot decode" in line for line in lines)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good0.png", "good1.png"]


def test_irn_and_bicubic_and_tiling(tmp_path, weights):
    hr = torch.rand(3, 40, 56)
    save_png(tmp_path / "in.png", hr)
    for model, weights_file in [("irn", weights[("irn", 2)]), ("bicubic", None)]:
        _down_up(tmp_path, weights_file, model, model=model)
        assert load(tmp_path / f"out-{model}.png").shape == (3, 40, 56)
    # tiles: bicubic is local, so tiled and untiled results agree up to 8-bit rounding
    assert (
        main(
            [
                "downscale",
                str(tmp_path / "in.png"),
                str(tmp_path / "tiled.png"),
                "--model",
                "bicubic",
                "--scale",
                "2",
                "--tile",
                "16",
                "--overlap",
                "8",
                "--quiet",
            ]
        )
        == 0
    )
    diff = (load(tmp_path / "tiled.png") - load(tmp_path / "lr-bicubic.png")).abs().max().item() * 255
    assert diff <= 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["downscale", "{tmp}/missing.png", "{tmp}/o.png", "--model", "bicubic"], "no such file"),
        (["downscale", "{tmp}/in.png", "{tmp}/o.png", "--model", "bicubic", "--scale", "3"], "scale must be 2 or 4"),
        (["downscale", "{tmp}/in.png", "{tmp}/o.jpg", "--model", "bicubic"], "output must be a .png"),
        (["downscale", "{tmp}/in.png", "{tmp}/no/such/dir/o.png", "--model", "bicubic"], "no such folder"),
        (
            ["downscale", "{tmp}/in.png", "{tmp}/o.png", "--model", "irn", "--scale", "2", "--weights", "{fgrn2}"],
            "weights are for model 'fgrn', not 'irn'",
        ),
        (
            ["downscale", "{tmp}/in.png", "{tmp}/o.png", "--model", "fgrn", "--scale", "4", "--weights", "{fgrn2}"],
            "weights are for x2, not x4",
        ),
        (
            ["downscale", "{tmp}/in.png", "{tmp}/o.png", "--scale", "2", "--weights", "{tmp}/in.png"],
            "not a readable safetensors",
        ),
        (["upscale", "{tmp}/in.png", "{tmp}/o.png"], "no flowkit metadata"),
        (["upscale", "{tmp}/in.png", "{tmp}/o.jpg", "--model", "bicubic", "--scale", "2"], "output must be a .png"),
        (
            ["upscale", "{tmp}/in.png", "{tmp}/o.png", "--model", "bicubic", "--scale", "2", "--weights", "{fgrn2}"],
            "takes no --weights",
        ),
        (["train", "--out", "{tmp}/run"], "no --train-dir given"),
        (["eval", "--model", "bicubic", "--scale", "2", "--data", "{tmp}/nowhere"], "not found"),
    ],
)
def test_bad_input_gives_one_line_and_nonzero_exit(tmp_path, weights, monkeypatch, args, message):
    monkeypatch.delenv("FLOWKIT_DATA", raising=False)  # it would stand in for a missing --train-dir
    save_png(tmp_path / "in.png", torch.rand(3, 8, 8))
    args = [a.format(tmp=tmp_path, fgrn2=weights[("fgrn", 2)]) for a in args]
    result = _cli(*args)
    lines = _one_error_line(result)
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_missing_shipped_weights_are_one_error_line(tmp_path, monkeypatch, capsys):
    import importlib

    shipped = importlib.import_module("flowkit.models.pretrained")  # the module, not the function
    monkeypatch.setattr(shipped, "_folder", lambda: tmp_path)  # a package without weights
    save_png(tmp_path / "in.png", torch.rand(3, 8, 8))
    assert (
        main(["downscale", str(tmp_path / "in.png"), str(tmp_path / "o.png"), "--model", "fgrn", "--scale", "2"]) != 0
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no shipped weights for fgrn x2 (shipped: none yet)" in err[0]
    assert not (tmp_path / "o.png").exists()


def test_corrupted_weights_are_detected(tmp_path, weights):
    data = bytearray(weights[("fgrn", 2)].read_bytes())
    data[-50] ^= 0xFF
    (tmp_path / "bad.safetensors").write_bytes(bytes(data))
    save_png(tmp_path / "in.png", torch.rand(3, 8, 8))
    result = _cli(
        "downscale", tmp_path / "in.png", tmp_path / "o.png", "--scale", "2", "--weights", tmp_path / "bad.safetensors"
    )
    assert "checksum mismatch" in _one_error_line(result)[0]


def test_upscale_warns_when_weights_differ_and_checks_size(tmp_path, weights):
    save_png(tmp_path / "in.png", torch.rand(3, 8, 8))
    assert (
        main(
            [
                "downscale",
                str(tmp_path / "in.png"),
                str(tmp_path / "lr.png"),
                "--scale",
                "2",
                "--weights",
                str(weights[("fgrn", 2)]),
                "--quiet",
            ]
        )
        == 0
    )
    other = tmp_path / "other.safetensors"
    other.write_bytes(weights[("fgrn", 2)].read_bytes())
    result = _cli("upscale", tmp_path / "lr.png", tmp_path / "up.png", "--weights", other)
    assert result.returncode == 0 and "was downscaled with weights fgrn-x2.safetensors" in result.stderr
    # an LR whose size contradicts its metadata
    save_png(
        tmp_path / "liar.png",
        torch.rand(3, 5, 5),
        metadata={"flowkit.model": "bicubic", "flowkit.scale": 2, "flowkit.original_size": "8x8"},
    )
    assert (
        "does not match the recorded original size"
        in _one_error_line(_cli("upscale", tmp_path / "liar.png", tmp_path / "x.png"))[0]
    )


def test_eval_command_writes_report(tmp_path, capsys):
    data = tmp_path / "eval"
    (data / "Tiny").mkdir(parents=True)
    for i in range(2):
        save_png(data / "Tiny" / f"{i}.png", torch.rand(3, 24, 20))
    assert (
        main(
            [
                "eval",
                "--model",
                "bicubic",
                "--scale",
                "2",
                "--data",
                str(data),
                "--sets",
                "Tiny",
                "--out",
                str(tmp_path / "out"),
                "--quiet",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "| Tiny | 2 |" in printed
    report = json.loads((tmp_path / "out" / "eval-bicubic-x2.json").read_text())
    assert report["sets"]["Tiny"]["images"] == 2 and report["sets"]["Tiny"]["niqe"] is None


def _eval_args(data, out, *extra):
    return ["eval", "--scale", "2", "--data", str(data), "--sets", "Tiny", "--out", str(out), "--quiet", *extra]


def test_eval_report_names_say_what_was_evaluated_and_are_never_replaced_silently(tmp_path, weights, capsys):
    data = tmp_path / "eval"
    (data / "Tiny").mkdir(parents=True)
    save_png(data / "Tiny" / "0.png", torch.rand(3, 24, 20))
    out = tmp_path / "rep"
    other = tmp_path / "step-2.safetensors"
    other.write_bytes(weights[("fgrn", 2)].read_bytes())
    # two weights files and a dtype: three reports, three names
    for extra in (
        ["--weights", weights[("fgrn", 2)]],
        ["--weights", other],
        ["--weights", other, "--dtype", "bfloat16"],
    ):
        assert main(_eval_args(data, out, "--model", "fgrn", *map(str, extra))) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        f"eval-fgrn-x2-{stem}.{ext}" for stem in ("fgrn-x2", "step-2", "step-2-bfloat16") for ext in ("json", "md")
    )
    # the same evaluation again: one line, non-zero exit, the report left as it was
    first = (out / "eval-fgrn-x2-step-2.json").read_bytes()
    lines = _one_error_line(_cli(*_eval_args(data, out, "--model", "fgrn", "--weights", other)))
    assert len(lines) == 1 and "a report exists" in lines[0] and "--overwrite" in lines[0]
    assert (out / "eval-fgrn-x2-step-2.json").read_bytes() == first
    # --overwrite replaces it; IRN's --z gets a name of its own
    (out / "eval-fgrn-x2-step-2.json").write_text("{}")
    assert main(_eval_args(data, out, "--model", "fgrn", "--weights", str(other), "--overwrite")) == 0
    assert json.loads((out / "eval-fgrn-x2-step-2.json").read_text())["weights"] == str(other)
    assert main(_eval_args(data, out, "--model", "irn", "--weights", str(weights[("irn", 2)]), "--z", "zero")) == 0
    assert (out / "eval-irn-x2-irn-x2-z-zero.json").exists()


def test_eval_refuses_a_file_as_out_before_evaluating(tmp_path):
    data = tmp_path / "eval"
    (data / "Tiny").mkdir(parents=True)
    save_png(data / "Tiny" / "0.png", torch.rand(3, 24, 20))
    (tmp_path / "report.txt").write_text("mine")
    lines = _one_error_line(_cli(*_eval_args(data, tmp_path / "report.txt", "--model", "bicubic")))
    assert "--out is a file" in lines[0]
    assert (tmp_path / "report.txt").read_text() == "mine"


def test_demo_with_weights(tmp_path, weights, capsys):
    assert main(["demo", "--scale", "4", "--weights", str(weights[("fgrn", 4)]), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "PSNR (Y)" in printed and "bicubic" in printed
    # the LR's distance from the bicubic LR, as the metric computes it from the written files
    lr = load(tmp_path / "test-card-fgrn-x4-lr.png")[None]
    bicubic = downscale_image(build("bicubic", 4), load(tmp_path / "test-card-hr.png"))[None]
    fidelity = lr_fidelity(lr, bicubic)["lr_psnr_rgb"]
    row = next(line for line in printed.splitlines() if line.strip().startswith("FGRN"))
    assert row.endswith(f"{fidelity:.2f} dB") and "(the reference)" in printed
    assert (tmp_path / "test-card-fgrn-x4-lr.png").exists()
    assert read_png_metadata(tmp_path / "test-card-fgrn-x4-lr.png")["flowkit.scale"] == "4"


def test_demo_replaces_its_own_files_and_never_a_users(tmp_path, weights, capsys):
    demo = ["demo", "--scale", "4", "--weights", str(weights[("fgrn", 4)]), "--out", str(tmp_path)]
    assert main(demo) == 0
    lr = tmp_path / "test-card-fgrn-x4-lr.png"
    assert read_png_metadata(lr)["flowkit.demo"] == "1"
    assert main(demo) == 0  # a second run replaces the demo's own files
    # a file of the user's under one of the demo's names: one line, non-zero exit, the file untouched
    save_png(tmp_path / "test-card-hr.png", torch.zeros(3, 8, 8))
    mine = (tmp_path / "test-card-hr.png").read_bytes()
    lines = _one_error_line(_cli(*demo))
    assert len(lines) == 1 and "was not written by `flowkit demo`" in lines[0]
    assert (tmp_path / "test-card-hr.png").read_bytes() == mine
    (tmp_path / "a-file").write_text("mine")
    lines = _one_error_line(_cli("demo", "--weights", weights[("fgrn", 4)], "--out", tmp_path / "a-file"))
    assert "--out is a file" in lines[0] and (tmp_path / "a-file").read_text() == "mine"


def _down_up(folder, weights_file, tag, extra=(), model="fgrn"):
    """Downscale folder/in.png to lr-<tag>.png and upscale it to out-<tag>.png with the CLI.

    ``weights_file`` is None for a model without weights (bicubic)."""
    weights_args = [] if weights_file is None else ["--weights", str(weights_file)]
    down = ["downscale", str(folder / "in.png"), str(folder / f"lr-{tag}.png"), "--model", model, "--scale", "2"]
    assert main([*down, *weights_args, "--quiet", *extra]) == 0
    up = ["upscale", str(folder / f"lr-{tag}.png"), str(folder / f"out-{tag}.png")]
    assert main([*up, *weights_args, "--quiet", *extra]) == 0


def test_compile_option_compiles_both_directions_and_changes_no_pixel(tmp_path, weights, monkeypatch):
    save_png(tmp_path / "in.png", torch.rand(3, 24, 20))
    _down_up(tmp_path, str(weights[("fgrn", 2)]), "eager")
    calls = []

    def recording_compile(fn):
        def run(*args, **kwargs):
            calls.append(fn.__name__)
            return fn(*args, **kwargs)

        return run

    monkeypatch.setattr(torch, "compile", recording_compile)
    _down_up(tmp_path, str(weights[("fgrn", 2)]), "compiled", ["--compile"])
    assert calls == ["downscale", "upscale"]
    for stage in ("lr", "out"):
        assert torch.equal(load(tmp_path / f"{stage}-eager.png"), load(tmp_path / f"{stage}-compiled.png"))


def test_dtype_option_runs_the_subnetworks_in_low_precision(tmp_path, weights, capsys):
    dtype = "bfloat16"
    save_png(tmp_path / "in.png", torch.rand(3, 24, 20))
    _down_up(tmp_path, str(weights[("fgrn", 2)]), "float32")
    _down_up(tmp_path, str(weights[("fgrn", 2)]), dtype, ["--dtype", dtype])
    lr32, lr = load(tmp_path / "lr-float32.png"), load(tmp_path / f"lr-{dtype}.png")
    assert (lr - lr32).abs().max() <= 1 / 255 + 1e-6
    out32, out = load(tmp_path / "out-float32.png"), load(tmp_path / f"out-{dtype}.png")
    assert float(torch.mean((out - out32) ** 2)) < 1e-4
    data = tmp_path / "eval"
    (data / "Tiny").mkdir(parents=True)
    save_png(data / "Tiny" / "0.png", torch.rand(3, 24, 20))
    assert (
        main(
            [
                "eval",
                "--model",
                "fgrn",
                "--scale",
                "2",
                "--weights",
                str(weights[("fgrn", 2)]),
                "--data",
                str(data),
                "--sets",
                "Tiny",
                "--dtype",
                dtype,
                "--out",
                str(tmp_path / "rep"),
                "--quiet",
            ]
        )
        == 0
    )
    assert f"{dtype} subnetworks" in capsys.readouterr().out
    assert json.loads((tmp_path / "rep" / f"eval-fgrn-x2-fgrn-x2-{dtype}.json").read_text())["dtype"] == dtype
    assert (
        "invalid choice: 'float64'"
        in _one_error_line(_cli("downscale", tmp_path / "in.png", tmp_path / "x.png", "--dtype", "float64"))[0]
    )
    for command in ("downscale", "upscale"):
        result = _cli(command, tmp_path / "lr-float32.png", tmp_path / "y.png", "--dtype", "float16", "--device", "cpu")
        assert "--dtype float16 needs a CUDA device" in _one_error_line(result)[0]
        assert not (tmp_path / "y.png").exists()


@pytest.mark.parametrize("native", [True, False])
def test_dtype_bfloat16_warns_in_one_line_where_bfloat16_is_emulated(tmp_path, weights, monkeypatch, capsys, native):
    from flowkit import precision

    monkeypatch.setattr(precision, "native_bfloat16", lambda device: native)
    save_png(tmp_path / "in.png", torch.rand(3, 12, 10))
    _down_up(tmp_path, str(weights[("fgrn", 2)]), "bf16", ["--dtype", "bfloat16", "--device", "cpu"])
    warned = [line for line in capsys.readouterr().err.splitlines() if "emulated" in line]
    if native:
        assert warned == []
    else:  # once per command, and the files are written all the same
        assert len(warned) == 2 and all(
            line.startswith("flowkit: warning: --dtype bfloat16: this CPU (") for line in warned
        )
        assert (tmp_path / "out-bf16.png").is_file()
    down = ["downscale", str(tmp_path / "in.png"), str(tmp_path / "f16.png"), "--dtype", "float16", "--device", "cpu"]
    assert main(down) != 0
    instead = "--dtype bfloat16" if native else "float32 (this CPU has no bfloat16 instructions either)"
    assert capsys.readouterr().err.strip().endswith(f"use {instead}")
    assert not (tmp_path / "f16.png").exists()


@pytest.mark.slow
def test_compile_option_with_the_real_compiler(tmp_path, weights):
    save_png(tmp_path / "in.png", torch.rand(3, 24, 20))
    for tag, extra in [("eager", []), ("compiled", ["--compile"])]:
        _down_up(tmp_path, str(weights[("fgrn", 2)]), tag, extra)
    # compiled kernels may round differently in the last bit before the 8-bit quantisation
    for stage in ("lr", "out"):
        diff = (load(tmp_path / f"{stage}-eager.png") - load(tmp_path / f"{stage}-compiled.png")).abs()
        assert diff.max() <= 1 / 255 + 1e-6 and (diff > 0).float().mean() < 0.01


def test_lr_fidelity_against_the_bicubic_lr(tmp_path):
    from flowkit.evaluation import evaluate
    from flowkit.image import imresize
    from flowkit.layers.quantize import quantize
    from flowkit.metrics import LR_FIDELITY, lr_fidelity

    torch.manual_seed(0)
    hr = torch.rand(1, 3, 48, 64)
    bicubic = quantize(imresize(hr, 0.5))
    exact = lr_fidelity(bicubic, bicubic)
    assert exact["lr_psnr_rgb"] == math.inf and exact["lr_ssim_rgb"] == pytest.approx(1.0)
    off = bicubic.clone()
    off[:, 0] = (off[:, 0] + 4 / 255).clamp(0, 1)  # red off by 4 levels where it can be
    moved = (off - bicubic)[:, 0] * 255
    mse = float((moved**2).sum() / (3 * moved.numel()))
    assert lr_fidelity(off, bicubic)["lr_psnr_rgb"] == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-5)
    assert lr_fidelity(off, bicubic)["lr_psnr_y"] > lr_fidelity(off, bicubic)["lr_psnr_rgb"]  # red is 26% of Y
    (tmp_path / "Tiny").mkdir()
    save_png(tmp_path / "Tiny" / "a.png", hr[0])
    report = evaluate(build("bicubic", 2), {"Tiny": tmp_path / "Tiny"}, progress=False)["Tiny"]
    assert all(key in report for key in LR_FIDELITY)
    assert report["lr_psnr_rgb"] > 60  # Bicubic & Bicubic's LR is the bicubic LR, up to 8-bit ties
    fgrn = perturb_parameters(build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1, flow_cells=1, flow_growth=4), 0.5)
    assert evaluate(fgrn, {"Tiny": tmp_path / "Tiny"}, progress=False)["Tiny"]["lr_psnr_rgb"] < 40


def test_flowkit_data_is_the_default_data_folder(tmp_path, monkeypatch, capsys):
    from flowkit.metrics.niqe import default_niqe_params

    monkeypatch.delenv("FLOWKIT_DATA", raising=False)
    monkeypatch.delenv("FLOWKIT_NIQE_PARAMS", raising=False)
    assert "no --data given and FLOWKIT_DATA is not set" in _one_error_line(_cli("eval", "--model", "bicubic"))[0]
    assert default_niqe_params() is None
    root = tmp_path / "data"
    (root / "eval" / "Tiny").mkdir(parents=True)
    save_png(root / "eval" / "Tiny" / "0.png", torch.rand(3, 24, 20))
    (root / "niqe").mkdir()
    (root / "niqe" / "niqe_pris_params.npz").write_bytes(b"")
    monkeypatch.setenv("FLOWKIT_DATA", str(root))
    assert default_niqe_params() == root / "niqe" / "niqe_pris_params.npz"
    assert (
        "(FLOWKIT_DATA/train) is not a folder"
        in _one_error_line(_cli("train", "--config", "cpu-small-x2", "--out", tmp_path / "run"))[0]
    )
    (root / "niqe" / "niqe_pris_params.npz").unlink()
    assert main(["eval", "--model", "bicubic", "--scale", "2", "--sets", "Tiny", "--quiet"]) == 0
    assert "| Tiny | 1 |" in capsys.readouterr().out  # one image, read from $FLOWKIT_DATA/eval/Tiny


def test_irn_upscale_is_deterministic_with_z_zero(tmp_path, weights):
    save_png(tmp_path / "in.png", torch.rand(3, 24, 32))
    irn = ["--model", "irn", "--scale", "2", "--weights", str(weights[("irn", 2)]), "--quiet"]
    assert main(["downscale", str(tmp_path / "in.png"), str(tmp_path / "lr.png"), *irn]) == 0
    outs = {}
    for name, z in [("a", "zero"), ("b", "zero"), ("c", "gaussian"), ("d", "gaussian")]:
        assert main(["upscale", str(tmp_path / "lr.png"), str(tmp_path / f"{name}.png"), *irn, "--z", z]) == 0
        outs[name] = load(tmp_path / f"{name}.png")
    assert torch.equal(outs["a"], outs["b"])  # z = 0: the same upscale every time
    assert not torch.equal(outs["c"], outs["d"])  # a Gaussian draw per upscale
    fgrn = ["--model", "fgrn", "--scale", "2", "--weights", str(weights[("fgrn", 2)])]
    result = _cli("upscale", tmp_path / "lr.png", tmp_path / "e.png", *fgrn, "--z", "zero")
    assert "--z applies to IRN only, not fgrn" in _one_error_line(result)[0]


def test_downscale_search_records_its_steps_and_reconstructs_no_worse(tmp_path, weights):
    torch.manual_seed(3)
    hr = torch.rand(3, 18, 22)
    save_png(tmp_path / "in.png", hr)
    common = ["--model", "fgrn", "--scale", "2", "--weights", str(weights[("fgrn", 2)]), "--quiet"]
    assert main(["downscale", str(tmp_path / "in.png"), str(tmp_path / "plain.png"), *common]) == 0
    assert main(["downscale", str(tmp_path / "in.png"), str(tmp_path / "found.png"), "--search", "3", *common]) == 0
    assert read_png_metadata(tmp_path / "found.png")["flowkit.search_steps"] == "3"
    assert "flowkit.search_steps" not in read_png_metadata(tmp_path / "plain.png")
    plain, found = load(tmp_path / "plain.png"), load(tmp_path / "found.png")
    assert found.shape == plain.shape and (found - plain).abs().max() <= 1 / 255 + 1e-6
    errors = []
    for name in ("plain", "found"):
        assert main(["upscale", str(tmp_path / f"{name}.png"), str(tmp_path / f"{name}-up.png"), *common]) == 0
        errors.append((load(tmp_path / f"{name}-up.png") - load(tmp_path / "in.png")).square().sum().item())
    assert errors[1] <= errors[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "irn"], "--search applies to FGRN only, not irn"),
        (["--tile", "64"], "--search works on whole images: drop --tile"),
    ],
)
def test_downscale_search_refuses_what_it_cannot_do(tmp_path, weights, extra, message):
    save_png(tmp_path / "in.png", torch.rand(3, 8, 8))
    result = _cli("downscale", tmp_path / "in.png", tmp_path / "lr.png", "--search", "2", "--scale", "2", *extra)
    assert _one_error_line(result) == [f"flowkit: error: {message}"]
    assert not (tmp_path / "lr.png").exists()


def test_downscale_search_steps_must_be_a_whole_number(tmp_path):
    save_png(tmp_path / "in.png", torch.rand(3, 8, 8))
    result = _cli("downscale", tmp_path / "in.png", tmp_path / "lr.png", "--search", "-1")
    assert result.returncode == 2
    assert "argument --search: expected a whole number of steps >= 0, got '-1'" in _one_error_line(result)[0]


def test_downscale_search_refuses_an_image_too_large_for_one_pass(tmp_path, weights, monkeypatch, capsys):
    import flowkit.rescale

    monkeypatch.setattr(flowkit.rescale, "AUTO_TILE_PIXELS", 100)
    save_png(tmp_path / "in.png", torch.rand(3, 10, 12))
    args = ["--model", "fgrn", "--scale", "2", "--weights", str(weights[("fgrn", 2)]), "--quiet", "--search", "2"]
    assert main(["downscale", str(tmp_path / "in.png"), str(tmp_path / "lr.png"), *args]) == 1
    err = capsys.readouterr().err
    assert "10x12 is too large for the LR search (at most 100 pixels" in err and "Traceback" not in err
    assert not (tmp_path / "lr.png").exists()
