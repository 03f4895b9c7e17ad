"""The ``flowkit`` command."""

import subprocess
import sys

from PIL import Image

import flowkit
from flowkit.cli import main


def _run(*args):
    return subprocess.run([sys.executable, "-m", "flowkit", *args], capture_output=True, text=True)


def test_version():
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"flowkit {flowkit.__version__}"


def test_help_lists_demo():
    out = _run("--help")
    assert out.returncode == 0 and "demo" in out.stdout


def test_demo_trains_and_writes_png(tmp_path, capsys):
    png = tmp_path / "moons.png"
    assert main(["demo", "--steps", "60", "--out", str(png)]) == 0
    printed = capsys.readouterr().out
    assert "step   60/60" in printed and "test log-likelihood" in printed
    with Image.open(png) as im:
        assert im.format == "PNG" and im.width > im.height > 100


def test_errors_are_one_line_without_traceback(tmp_path):
    out = _run("demo", "--steps", "1", "--out", str(tmp_path / "missing-dir" / "x.png"))
    assert out.returncode == 1
    assert out.stderr.startswith("flowkit: error:") and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
