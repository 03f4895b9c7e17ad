"""Helpers shared by the benchmark scripts: ``--help`` descriptions, machine description, JSON and markdown output."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch

from flowkit.precision import native_bfloat16

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"
# Image sizes (height, width) the speed benchmarks take by name; "64" is a smoke size, to check that
# a benchmark runs rather than to time it.
SIZES = {"64": (64, 64), "256": (256, 256), "1MP": (1024, 1024), "4K": (2160, 3840)}


def description(doc: str | None) -> str:
    """A script's ``--help`` description: its module docstring's first paragraph on one line."""
    return " ".join((doc or "").split("\n\n")[0].split())


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The CPU's model name as Linux reports it (``model name`` in ``/proc/cpuinfo``), or
    ``None`` where that file is absent or names none."""
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return value.strip()
    return None


def machine() -> dict:
    """What the numbers were measured on."""
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_bfloat16_kernels": native_bfloat16("cpu"),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_outputs(name: str, payload: dict, table: str, out_dir: Path | None = None) -> tuple[Path, Path]:
    """Write ``<name>.json`` (payload + machine) and ``<name>.md`` (the table) and return their paths."""
    out_dir = Path(out_dir or RESULTS)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine(), **payload}
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    json_path.write_text(json.dumps(payload, indent=2) + "\n")
    md_path.write_text(table + "\n")
    return json_path, md_path
