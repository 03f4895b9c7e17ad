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
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
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
            atomic_write({str(tmp_path / "out.png")!r}, write)
            return 0

        flowkit.cli._cmd_moons = command  # the parser is built inside main(), after this
        sys.exit(flowkit.cli.main(["moons"]))
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False
    )
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


def test_an_output_ending_in_a_separator_is_a_folder_created_for_one_file(photos, tmp_path, capsys):
    out = tmp_path / "new" / "small"
    code, err = _run(capsys, "downscale", photos / "a.png", f"{out}{os.sep}")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]
    assert load(out / "a.png").shape == (3, 6, 8)
    (tmp_path / "file").write_bytes(b"mine")
    with pytest.raises(ImageError, match="exists and is not a folder"):
        plan(photos / "a.png", f"{tmp_path / 'file'}/")
    assert (tmp_path / "file").read_bytes() == b"mine"


def test_an_output_file_in_a_missing_folder_is_refused_before_the_model_runs(photos, tmp_path, capsys, monkeypatch):
    import flowkit.cli

    monkeypatch.setattr(flowkit.cli, "_get_model", lambda *a, **k: pytest.fail("the model was loaded"))
    code, err = _run(capsys, "downscale", photos / "a.png", tmp_path / "typo" / "a-x2.png")
    assert code == 1 and err == [
        f"flowkit: error: {tmp_path / 'typo'}: no such folder (end the output with '/' to create one)"
    ]
    assert not (tmp_path / "typo").exists()


# ---------------------------------------------------------------- reader/writer threads (--workers)
def test_worker_threads_write_the_same_files_and_report_the_same_failures(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    gen = torch.Generator().manual_seed(0)
    for i in range(7):
        save_png(src / f"p{i}.png", torch.rand(3, 10 + i, 14, generator=gen))
    (src / "broken.png").write_text("not a PNG")
    results = {}
    for workers in (0, 1, 3):
        out = tmp_path / f"lr{workers}"
        code, lines = _run(capsys, "downscale", src, out, "--workers", workers)
        assert code == 1
        assert len(lines) == 2 and "broken.png" in lines[0] and lines[1] == "flowkit: error: 1 of 8 files failed"
        code, _ = _run(capsys, "upscale", out, tmp_path / f"hr{workers}", "--workers", workers)
        assert code == 0
        results[workers] = _bytes(out), _bytes(tmp_path / f"hr{workers}")
    assert len(results[0][0]) == len(results[0][1]) == 7
    assert results[1] == results[0] and results[3] == results[0]
    code, lines = _run(capsys, "downscale", src, tmp_path / "never", "--workers", -1)
    assert code == 1 and lines == ["flowkit: error: --workers must be 0 or more, got -1"]
    assert not (tmp_path / "never").exists()


def _jobs(tmp_path, n):
    from flowkit.rescale import Job

    return [Job(tmp_path / f"in{i}", tmp_path / f"out{i}.txt") for i in range(n)]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_failure_in_any_stage_names_its_file_and_the_others_go_on(tmp_path, capsys, workers):
    from flowkit.rescale import run_jobs

    jobs = _jobs(tmp_path, 6)

    def read(job):
        if job.source.name == "in1":
            raise ValueError(f"{job.source}: cannot decode")
        return job.source.name

    def compute(job, data):
        if data == "in2":
            raise MemoryError()
        return data.upper()

    def write(job, result):
        if result == "IN3":
            raise OSError("disk full")
        atomic_write(job.target, lambda f: f.write(result.encode()))

    assert run_jobs(jobs, read, compute, write, workers=workers, progress=False) == 3
    lines = capsys.readouterr().err.strip().splitlines()
    assert sorted(lines[:-1]) == sorted(
        [
            f"flowkit: error: {tmp_path / 'in1'}: cannot decode",
            f"flowkit: error: {tmp_path / 'in2'}: MemoryError",
            f"flowkit: error: {tmp_path / 'in3'}: disk full",
        ]
    )
    assert lines[-1] == "flowkit: error: 3 of 6 files failed"
    assert {p.name: p.read_text() for p in tmp_path.glob("out*")} == {
        "out0.txt": "IN0",
        "out4.txt": "IN4",
        "out5.txt": "IN5",
    }


def test_an_interruption_cancels_what_has_not_started_and_lets_writes_finish(tmp_path):
    import threading

    from flowkit.rescale import run_jobs

    jobs = _jobs(tmp_path, 20)
    read_names, writing = [], threading.Event()

    def read(job):
        read_names.append(job.source.name)
        return job.source.name

    def compute(job, data):
        if data == "in3":
            assert writing.wait(5)  # a write is under way when the interruption comes
            raise KeyboardInterrupt
        return data

    def write(job, result):
        def slow(f):
            writing.set()
            f.write(result.encode())
            threading.Event().wait(0.2)

        atomic_write(job.target, slow)

    with pytest.raises(KeyboardInterrupt):
        run_jobs(jobs, read, compute, write, workers=2, progress=False)
    assert len(read_names) <= 7  # three computed, at most workers + 1 read ahead, nothing more
    written = {p.name: p.read_text() for p in tmp_path.iterdir()}  # no temporary file among them
    assert "out0.txt" in written and set(written) <= {"out0.txt", "out1.txt", "out2.txt"}
    assert all(text == name.replace("out", "in").removesuffix(".txt") for name, text in written.items())
