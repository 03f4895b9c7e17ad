"""The benchmark scripts' shared helpers."""

import pytest

from benchmarks.common import description
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
