"""The package's parts import only the parts named before them in the layout of docs/contributing.md.

Every ``import`` of the package is read from the source, including those inside functions, so
a lazy import cannot hide an arrow the layout forbids.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "flowkit"

# Each part, the files it holds (paths under flowkit/, a trailing "/" for a folder), and the
# parts it may import besides itself. "helpers" import nothing else of the package.
PARTS: dict[str, tuple[tuple[str, ...], set[str]]] = {
    "helpers": (("atomic.py", "extras.py", "fields.py", "device.py"), set()),
    "core": (("core.py",), {"helpers"}),
    "layers": (("layers/", "subnets.py", "precision.py", "__init__.py"), {"core", "helpers"}),
    "testing": (("testing.py",), {"core", "layers", "helpers"}),
    "density": (("density/",), {"core", "layers", "helpers"}),
    "image": (("image/",), {"layers", "helpers"}),  # the 8-bit grid: flowkit.layers.quantize
    "metrics": (("metrics/",), {"image", "helpers"}),
    "models": (("models/",), {"core", "layers", "image", "metrics", "helpers"}),
    "train": (("train/", "evaluation.py"), {"core", "layers", "image", "metrics", "models", "helpers"}),
    "face": (
        ("cli.py", "rescale.py", "examples/", "__main__.py"),
        {"core", "layers", "testing", "density", "image", "metrics", "models", "train", "helpers"},
    ),
}


def part_of(relative: str) -> str:
    """The part that holds ``relative``, a path under flowkit/ ("layers/coupling.py")."""
    found = [
        name
        for name, (paths, _) in PARTS.items()
        if any(relative == p or (p.endswith("/") and relative.startswith(p)) for p in paths)
    ]
    assert len(found) == 1, f"flowkit/{relative} is in {len(found)} parts of the layout: {found}"
    return found[0]


def module_path(module: str) -> Path | None:
    """flowkit.a.b -> flowkit/a/b.py or flowkit/a/b/__init__.py, whichever exists; "flowkit" ->
    flowkit/__init__.py; None when ``module`` is no module of the package (a name inside one)."""
    parts = module.split(".")[1:]
    candidates = [PACKAGE.joinpath(*parts).with_suffix(".py")] if parts else []
    return next((c for c in [*candidates, PACKAGE.joinpath(*parts, "__init__.py")] if c.exists()), None)


def module_file(module: str) -> str:
    """The path under flowkit/ of ``module`` ("a/b.py", "a/b/__init__.py", "__init__.py")."""
    path = module_path(module)
    assert path is not None, f"{module} is not a module of the package"
    return path.relative_to(PACKAGE).as_posix()


def imported_modules(source: Path) -> list[str]:
    """Every module of the package or of ``benchmarks`` that ``source`` imports, anywhere in it."""
    found = []
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{source}: relative import; the package imports by absolute name"
            base = node.module or ""
            found.append(base)
            if base == "flowkit" or base.startswith("flowkit."):  # `from flowkit.x import y` may name a module y
                found += [f"{base}.{a.name}" for a in node.names if module_path(f"{base}.{a.name}") is not None]
    return [m for m in found if m.split(".")[0] in {"flowkit", "benchmarks"}]


SOURCES = sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py"))


def test_the_layout_places_every_file_of_the_package():
    for relative in SOURCES:
        part_of(relative)


@pytest.mark.parametrize("relative", SOURCES)
def test_each_file_imports_only_the_parts_its_own_may_import(relative):
    part = part_of(relative)
    allowed = PARTS[part][1] | {part}
    wrong = []
    for module in imported_modules(PACKAGE / relative):
        if module.split(".")[0] == "benchmarks":
            wrong.append(f"{module} (the package never imports benchmarks)")
        elif (imported := part_of(module_file(module))) not in allowed:
            wrong.append(f"{module} ({imported})")
    assert not wrong, f"flowkit/{relative} ({part}) imports {', '.join(wrong)}"


def test_the_check_sees_a_forbidden_import_inside_a_function(tmp_path):
    source = tmp_path / "layer.py"
    source.write_text("def f():\n    from flowkit.models.fgrn import FGRN\n    import benchmarks.common\n")
    modules = imported_modules(source)
    assert modules == ["flowkit.models.fgrn", "benchmarks.common"]
    assert part_of(module_file(modules[0])) == "models"
    assert "models" not in PARTS["layers"][1]
