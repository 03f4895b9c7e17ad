"""The core needs only torch, normflows, einops and numpy; the other parts name their extra."""

import subprocess
import sys
import textwrap

import pytest

BLOCKER = textwrap.dedent("""
    import importlib.abc, sys
    BLOCKED = {"PIL", "png", "scipy", "safetensors"}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Block())
""")


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(code)], capture_output=True, text=True, check=False
    )


def test_the_core_and_the_density_kit_import_without_the_extras():
    result = _python("""
        import torch
        import flowkit, flowkit.layers, flowkit.testing, flowkit.density
        from flowkit.testing import check_flow
        check_flow(flowkit.AffineCoupling(4).double(), torch.randn(2, 4, 3, 3, dtype=torch.float64))
        flowkit.density.Glow((1, 4, 4), levels=1, steps=1, hidden=4).bits_per_dim(torch.zeros(1, 1, 4, 4))
        print(sorted(m for m in {"PIL", "png", "scipy", "safetensors"} if m in sys.modules))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "module, extra, missing",
    [
        ("flowkit.image", "image", "PIL"),
        ("flowkit.metrics", "image", "PIL"),
        ("flowkit.models", "image", "PIL"),
        ("flowkit.models.io", "models", "safetensors"),
        ("flowkit.train", "image", "PIL"),
    ],
)
def test_each_part_names_the_extra_it_needs(module, extra, missing):
    if module == "flowkit.models.io":  # with the image extra present, the models part still lacks safetensors
        result = _python(f"""
            BLOCKED.discard("PIL"); BLOCKED.discard("scipy")
            import {module}
        """)
    else:
        result = _python(f"import {module}")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.endswith(f"needs the '{extra}' extra: pip install 'flowkit-flows[{extra}]' (missing: {missing})")


def test_the_command_line_says_which_extra_is_missing():
    result = _python("""
        import flowkit.cli
        sys.exit(flowkit.cli.main(["downscale", "a.png", "b.png"]))
    """)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "flowkit: error: flowkit.image needs the 'image' extra: pip install 'flowkit-flows[image]' (missing: PIL)"
    )
