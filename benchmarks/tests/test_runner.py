"""``python -m benchmarks``: runs the named scripts with the arguments after ``--``, and refuses
an unknown name with one line."""

import json
import subprocess
import sys

from benchmarks.common import REPO


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *map(str, args)], capture_output=True, text=True, cwd=REPO
    )


def test_an_unknown_benchmark_is_one_error_line():
    result = _run("nonsense")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "benchmarks: error: unknown benchmark(s) ['nonsense']; choose from image_speed, layer_overhead, inference, "
        "training_speed, tiling, bicubic_baseline, folder_speed"
    ]


def test_help_lists_the_benchmarks():
    result = _run("--help")
    assert result.returncode == 0 and "training_speed" in result.stdout and "python -m benchmarks" in result.stdout


def test_training_speed_runs_with_the_arguments_after_the_separator(tmp_path):
    result = _run(
        "training_speed",
        "--",
        *("--configs", "cpu-small-x2", "--steps", "1", "--override", "batch_size=1", "patch_size=32"),
        *("--out", tmp_path, "--name", "ts"),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "ts.json").read_text())["results"][0]["it_per_s"] > 0
    assert (tmp_path / "ts.md").read_text().startswith("| config |")


def _results(name, out, *args):
    """Run benchmark ``name`` with ``args`` into ``out`` (results file ``r``); its result rows."""
    result = _run(name, "--", *args, "--out", out, "--name", "r")
    assert result.returncode == 0, result.stderr
    return json.loads((out / "r.json").read_text())["results"]


def test_inference_times_each_operation(tmp_path):
    rows = _results(
        "inference",
        tmp_path,
        *("--models", "fgrn", "--scales", "4", "--sizes", "64", "--ops", "downscale", "roundtrip", "--repeat", 1),
    )
    assert [r["op"] for r in rows] == ["downscale", "roundtrip"]
    down, trip = rows
    assert all(r["ms"] > 0 and r["first_ms"] > 0 and r["peak_mib"] > 0 for r in rows)
    # the round trip counts the downscale's MACs and the upscale's on top
    assert trip["macs_per_pixel"] > down["macs_per_pixel"] > 0
    assert (tmp_path / "r.md").read_text().count("| fgrn | x4 |") == 2


def test_folder_speed_times_each_workers_setting(tmp_path):
    rows = _results(
        "folder_speed", tmp_path, *("--images", 2, "--size", 64, "--workers", 0, 1, "--repeat", 1, "--device", "cpu")
    )
    assert [r["workers"] for r in rows] == [0, 1] and rows[0]["speedup"] == 1.0
    assert all(r["downscale_images_per_s"] > 0 and r["upscale_images_per_s"] > 0 for r in rows)
    assert "| workers |" in (tmp_path / "r.md").read_text()
