"""`flowkit downscale / upscale` never destroy a user's file: no output is an input, no two
inputs share an output, existing outputs are kept unless asked, no temporary file outlives
its run, one file's failure never stops the others, bad tile sizes are refused up front."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from flowkit.atomic import TEMP_PREFIX, atomic_write, remove_stale_temp_files
from flowkit.cli import main
from flowkit.image import load, save_png
from flowkit.image.io import ImageError
from flowkit.rescale import plan


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _run(capsys, *args) -> tuple[int, list[str]]:
    code = main([*map(str, args), "--model", "bicubic", "--scale", "2", "--quiet"])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.fixture
def photos(tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    for name in ("a.png", "b.png"):
        save_png(d / name, torch.rand(3, 12, 16))
    return d


@pytest.mark.parametrize("spell", ["same", "dot", "dotdot", "symlink", "hardlink", "folder"])
def test_an_output_that_is_an_input_is_refused_before_anything_is_written(photos, capsys, monkeypatch, spell):
    monkeypatch.chdir(photos)
    before = _bytes(photos)
    out = {"same": "a.png", "dot": "./a.png", "dotdot": "../photos/a.png", "folder": "."}.get(spell)
    if spell == "symlink":
        os.symlink(photos / "a.png", photos.parent / "link.png")
        out = "../link.png"
    if spell == "hardlink":
        os.link(photos / "a.png", photos.parent / "hard.png")
        out = "../hard.png"
    code, lines = _run(capsys, "downscale", "a.png" if spell != "folder" else ".", out)
    assert code == 1 and len(lines) == 1, lines
    assert "refusing to overwrite an input" in lines[0] or "is the input folder" in lines[0]
    assert _bytes(photos) == before


def test_upscale_onto_its_own_input_is_refused(photos, capsys):
    assert _run(capsys, "downscale", photos / "a.png", photos / "lr.png")[0] == 0
    lr = (photos / "lr.png").read_bytes()
    code, lines = _run(capsys, "upscale", photos / "lr.png", photos / "lr.png")
    assert code == 1 and "is the input" in lines[0] and str(photos / "lr.png") in lines[0]
    assert (photos / "lr.png").read_bytes() == lr


def test_inputs_that_share_an_output_name_are_refused_with_the_list(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.png", "a.jpg", "shot.PNG", "shot.jpeg", "solo.png"):
        save_png(src / "tmp.png", torch.rand(3, 8, 8))
        (src / "tmp.png").rename(src / name)  # content is PNG; only the name matters for planning
    code, lines = _run(capsys, "downscale", src, tmp_path / "out")
    assert code == 1 and len(lines) == 1
    assert "a.jpg, a.png -> a.png" in lines[0] and "shot.PNG, shot.jpeg -> shot.png" in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_existing_outputs_are_refused_skipped_or_replaced_as_asked(photos, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"mine")
    code, lines = _run(capsys, "downscale", photos, out)
    assert code == 1 and len(lines) == 1 and "output exists" in lines[0] and "--overwrite" in lines[0]
    assert _bytes(out) == {"a.png": b"mine"}  # nothing written, not even b.png

    code, lines = _run(capsys, "downscale", photos, out, "--skip-existing")
    assert code == 0 and lines == [f"flowkit: skipped {photos / 'a.png'}: {out / 'a.png'} exists"]
    assert (out / "a.png").read_bytes() == b"mine" and load(out / "b.png").shape == (3, 6, 8)

    code, _ = _run(capsys, "downscale", photos, out, "--overwrite")
    assert code == 0 and load(out / "a.png").shape == (3, 6, 8)

    with pytest.raises(SystemExit):  # argparse: not both
        main(["downscale", str(photos), str(out), "--overwrite", "--skip-existing"])


def test_one_files_unexpected_error_names_it_and_the_others_go_on(photos, tmp_path, capsys, monkeypatch):
    save_png(photos / "c.png", torch.rand(3, 12, 16))
    from flowkit import rescale

    original = rescale.downscale_image

    def flaky(model, hr, **kw):
        if hr.shape[-1] == 16 and flaky.calls == 1:
            flaky.calls += 1
            raise MemoryError()
        flaky.calls += 1
        return original(model, hr, **kw)

    flaky.calls = 0
    monkeypatch.setattr(rescale, "downscale_image", flaky)
    code, lines = _run(capsys, "downscale", photos, tmp_path / "out")
    assert code == 1
    assert lines == [f"flowkit: error: {photos / 'b.png'}: MemoryError", "flowkit: error: 1 of 3 files failed"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png"]


@pytest.mark.parametrize("command", ["downscale", "upscale"])
@pytest.mark.parametrize("flag", ["--tile", "--overlap"])
def test_negative_tiles_are_refused_by_both_commands(photos, tmp_path, capsys, command, flag):
    src = photos / "a.png"
    if command == "upscale":
        assert _run(capsys, "downscale", src, tmp_path / "lr.png")[0] == 0
        src = tmp_path / "lr.png"
    code, lines = _run(capsys, command, src, tmp_path / "o.png", flag, "-8")
    assert code == 1 and len(lines) == 1 and "-8" in lines[0] and flag.lstrip("-") in lines[0]
    assert not (tmp_path / "o.png").exists()


def test_stale_temporary_files_of_a_dead_process_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    stale = tmp_path / f"{TEMP_PREFIX}{int(dead.stdout)}-a.png.x1y2.tmp"
    live = tmp_path / f"{TEMP_PREFIX}{os.getpid()}-b.png.x1y2.tmp"
    other = tmp_path / ".a.png.notours.tmp"
    for p in (stale, live, other):
        p.write_bytes(b"half")
    assert remove_stale_temp_files(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])


def test_a_later_run_cleans_the_temporary_files_a_killed_run_left(photos, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / f"{TEMP_PREFIX}999999999-a.png.abcd.tmp").write_bytes(b"half")  # no such process
    assert plan(photos, out)[0].target == out / "a.png"
    assert list(out.iterdir()) == []


def test_sigterm_during_a_write_leaves_no_temporary_file(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal, sys, time
        import flowkit.cli
        from flowkit.atomic import atomic_write

        def write(f):
            f.write(b"half")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)

        def command(args):
            atomic_write({str(tmp_path / 'out.png')!r}, write)
            return 0

        flowkit.cli._cmd_moons = command  # the parser is built inside main(), after this
        sys.exit(flowkit.cli.main(["moons"]))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path, check=False)
    assert result.returncode == 128 + signal.SIGTERM, result.stderr
    assert result.stderr.strip() == "flowkit: terminated"
    assert list(tmp_path.iterdir()) == []


def test_plan_refuses_before_writing(tmp_path):
    with pytest.raises(ValueError, match="existing must be one of"):
        plan(tmp_path, tmp_path / "o", existing="maybe")
    save_png(tmp_path / "x.png", torch.rand(3, 4, 4))
    with pytest.raises(ImageError, match="is the input"):
        plan(tmp_path / "x.png", tmp_path / "x.png")
    atomic_write(tmp_path / "y.png", lambda f: f.write(b"y"))
    assert (tmp_path / "y.png").read_bytes() == b"y"
