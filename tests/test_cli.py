"""The ``flowkit`` command."""

import subprocess
import sys

import pytest
from PIL import Image

import flowkit
from flowkit.cli import main


def _run(*args):
    return subprocess.run([sys.executable, "-m", "flowkit", *args], capture_output=True, text=True)


def test_version():
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"flowkit {flowkit.__version__}"


def test_help_lists_every_command(capsys):
    out = _run("--help")  # the installed entry point, in a process of its own
    assert out.returncode == 0
    for command in ("demo", "moons", "train", "eval", "downscale", "upscale"):
        assert command in out.stdout
        with pytest.raises(SystemExit) as stop:  # each command's help, from the same parser, in this process
            main([command, "--help"])
        assert stop.value.code == 0 and "usage: flowkit " + command in capsys.readouterr().out


def test_moons_trains_and_writes_png(tmp_path, capsys):
    png = tmp_path / "moons.png"
    assert main(["moons", "--steps", "60", "--out", str(png)]) == 0
    printed = capsys.readouterr().out
    assert "step   60/60" in printed and "test log-likelihood" in printed
    with Image.open(png) as im:
        assert im.format == "PNG" and im.width > im.height > 100


def test_errors_are_one_line_without_traceback(tmp_path):
    out = _run("moons", "--steps", "1", "--out", str(tmp_path / "missing-dir" / "x.png"))
    assert out.returncode == 1
    assert out.stderr.startswith("flowkit: error:") and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
