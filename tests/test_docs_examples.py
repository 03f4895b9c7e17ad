"""The code shown in the docs runs."""

import runpy
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given

from flowkit.testing import FlowCheckError, check_flow, image_shapes, perturb_parameters, tensors

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "docs" / "examples"


def test_custom_flow_example_runs(capsys):
    runpy.run_path(str(EXAMPLES / "custom_flow.py"), run_name="__main__")
    assert "passes every flowkit check" in capsys.readouterr().out


_ns = runpy.run_path(str(EXAMPLES / "custom_flow.py"))
ChannelAffine = _ns["ChannelAffine"]


@given(x=tensors(image_shapes(3, height=(1, 6), width=(1, 6))))
def test_channel_affine_guide_snippet(x):
    check_flow(perturb_parameters(ChannelAffine(3).double()), x)


def test_guide_layer_with_a_bug_is_caught():
    class Buggy(ChannelAffine):
        def forward(self, x):
            y, ld = super().forward(x)
            return y, ld * 0.5  # forgot half the log-det

    with pytest.raises(FlowCheckError):
        check_flow(perturb_parameters(Buggy(3).double()), torch.randn(2, 3, 2, 2, dtype=torch.float64))


@pytest.mark.parametrize("name", ["image_flow.py", "density_2d.py", "custom_coupling.py", "glow_density.py"])
def test_guide_examples_run(name, capsys):
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    assert capsys.readouterr().out


def test_architecture_figure_is_drawn_from_the_models(tmp_path):
    ns = runpy.run_path(str(EXAMPLES.parent / "figures" / "make_architecture.py"))
    labels = [box[0] for box in ns["fgrn_boxes"](4)]
    assert any("4 x FlowCell" in label for label in labels)
    ns["main"](tmp_path / "arch.png")
    assert (tmp_path / "arch.png").stat().st_size > 10_000


def _bash_blocks(page):
    import re

    text = (EXAMPLES.parent / "guides" / page).read_text()
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def _run_guide(page, data):
    """Run every bash block of a guide from the repository root; their standard outputs."""
    import os
    import subprocess

    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
        "FLOWKIT_DATA": str(data),  # the guides' commands read the data from $FLOWKIT_DATA
    }
    outputs = []
    for block in _bash_blocks(page):
        result = subprocess.run(["bash", "-c", block], cwd=REPO, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"{block}\n{result.stderr[-1500:]}"
        outputs.append(result.stdout)
    return outputs


def test_training_guide_commands_run(shared_data):
    import shutil

    try:
        _run_guide("training.md", shared_data)
    finally:
        for run in (
            "guide-x2",
            "guide-x4-more",
            "guide-x4-upscaler",
            "guide-x4-gu9",
            "guide-x4-deeper",
            "guide-irn-z0",
            "guide-ddp",
        ):
            shutil.rmtree(REPO / "runs" / run, ignore_errors=True)


def test_command_line_guide_commands_run(shared_data):
    import shutil

    try:
        outputs = _run_guide("command_line.md", shared_data)
        guide = REPO / "rescale-guide"
        # the x4 round trip restores the original size; the folder run processed both files
        assert "(128, 96) (512, 384)" in outputs[1] and "'flowkit.model': 'fgrn'" in outputs[1]
        assert sorted(p.name for p in (guide / "restored").iterdir()) == ["a.png", "b.png"]
        assert outputs[3].startswith("flowkit: error: output exists") and "--overwrite" in outputs[3]
        assert outputs[4].startswith("flowkit: error:") and "missing.png" in outputs[4]
    finally:
        shutil.rmtree(REPO / "rescale-guide", ignore_errors=True)


def test_the_training_guides_override_table_gives_valid_configs():
    import re
    import shlex

    from flowkit.models import build
    from flowkit.train import load_config

    text = (EXAMPLES.parent / "guides" / "training.md").read_text()
    table = text[text.index("| run | overrides |") :].split("\n\n")[0]
    rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
    assert len(rows) >= 9
    for row in rows:
        sets = [shlex.split(arg)[0] for arg in re.findall(r"--set ([^`\s]+)", row)]
        assert sets, row
        base = "irn-official-x4" if 'model="irn"' in sets else "cpu-small-x4"
        c = load_config(base, sets)  # a bad field or value raises here
        build(c.model, c.scale, **c.model_config)
