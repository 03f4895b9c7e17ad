"""The benchmark scripts' shared helpers."""

import pytest

from benchmarks.common import cpu_model, description
from benchmarks.reproduce import validate_weights


def test_description_is_the_docstrings_first_paragraph_on_one_line():
    doc = "Validation PSNR of weights files — the number the\ntrainer logs.\n\nUsage::\n\n    python -m x\n"
    assert description(doc) == "Validation PSNR of weights files — the number the trainer logs."
    assert description(None) == ""


def test_a_scripts_help_gives_its_first_paragraph_whole(capsys):
    with pytest.raises(SystemExit) as stop:
        validate_weights.main(["--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "the number the trainer logs as ``val_psnr``, and the one used to choose between runs" in text


def test_cpu_model_is_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t: fpu\n")
    assert cpu_model(info) == "Intel(R) Xeon(R) Processor"
    info.write_text("processor\t: 0\nmodel name\t:\n")  # named, but empty
    assert cpu_model(info) is None
    assert cpu_model(tmp_path / "absent") is None
