"""Formatting of the study's tables: ours beside the paper's, with the budget stated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, markdown_table
from benchmarks.reproduce.paper import SETS
from flowkit.atomic import atomic_write

OUT = REPO / "benchmarks" / "results" / "reproduce"


def fmt(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def pair(report: dict[str, Any], set_name: str, a: str, b: str, da: int, db: int) -> str:
    r = report[set_name]
    note = ""
    if a == "niqe" and r.get("niqe_images") not in (None, r["images"]):
        note = f" ({r['niqe_images']}/{r['images']})"
    return f"{fmt(r[a], da)} / {fmt(r[b], db)}{note}"


def set_header(report: dict[str, Any]) -> list[str]:
    return [report[s]["label"] for s in SETS if s in report]


def metric_table(
    rows: list[tuple[str, dict[str, Any], dict[str, tuple] | None]], metrics: tuple[str, str], digits: tuple[int, int]
) -> str:
    """Rows of ``(label, our report, paper row)``: one line ours, one line the paper's."""
    header = ["method", "source"] + set_header(rows[0][1])
    lines = []
    for label, report, paper in rows:
        lines.append([label, "ours"] + [pair(report, s, *metrics, *digits) for s in SETS if s in report])
        if paper:
            lines.append(
                ["", "paper"]
                + [f"{fmt(paper[s][0], digits[0])} / {fmt(paper[s][1], digits[1])}" for s in SETS if s in report]
            )
    return markdown_table(header, lines)


def irn_draws(payload: dict[str, Any]) -> str:
    """The Gaussian z draws of the IRN rows of a table's ``{section: {"reports": ...}}`` payload,
    e.g. ``"1"`` or ``"1 or 5"`` (``"5"``, the default, without IRN rows)."""
    draws = sorted(
        {r["draws"] for p in payload.values() if "irn" in p["reports"] for r in p["reports"]["irn"].values()}
    )
    return " or ".join(map(str, draws)) or "5"


def budget_line(budget: dict[str, Any]) -> str:
    wall = budget.get("wall_seconds")
    return (
        f"{budget['iterations']} iterations, batch {budget['batch']}, HR patch {budget['patch']}, "
        f"lr {budget['lr']:g}; {machine_words(budget.get('machine') or {})}; "
        f"wall time {fmt(wall / 3600 if wall else None, 2)} h"
    )


def machine_words(machine: dict[str, Any]) -> str:
    """Where a budget was spent: the GPU's name, else the CPU's cores, and its architecture and
    threads where the record has them (``flowkit train`` records cores and threads)."""
    if machine.get("gpu"):
        return machine["gpu"]
    where = f"{machine.get('cpu_count', '?')}-core CPU"
    if machine.get("processor"):
        where += f" ({machine['processor']})"
    if threads := machine.get("torch_threads"):
        where += f", {threads} thread{'s' if threads > 1 else ''}"
    return where


def kept(previous: dict[str, Any], section: str, key: str, name: str) -> tuple[dict, dict] | None:
    """Row ``key`` of ``section`` (evaluation, budget) from a table's previous JSON, if it has
    one: runs are not kept in the repository, so a table rewritten without one keeps its row."""
    old = previous.get(section, {})
    if key not in old.get("reports", {}) or key not in old.get("budgets", {}):
        return None
    print(f"{name}: kept from the previous table")
    return old["reports"][key], old["budgets"][key]


def previous(name: str) -> dict[str, Any]:
    """The table's last JSON, or {}."""
    path = OUT / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def write(name: str, payload: dict[str, Any], text: str) -> None:
    """Write ``<name>.json`` and ``<name>.md`` under :data:`OUT`, each whole or not at all."""
    OUT.mkdir(parents=True, exist_ok=True)
    for suffix, data in ((".json", json.dumps(payload, indent=1) + "\n"), (".md", text.rstrip() + "\n")):
        atomic_write(OUT / f"{name}{suffix}", lambda f, data=data: f.write(data.encode()))
    print(text)
    print(f"\nwrote {OUT / name}.json and .md")


def seed_means(stems: list[str], key: str = "psnr", section: str | None = None) -> dict[str, dict[str, float]] | None:
    """``key`` per row label and evaluation set, averaged over the tables ``stems`` (one per
    training seed; their ``section``, e.g. ``"x2"``, where a table holds several); None until
    every one of them is written and has every row."""
    tables = [(previous(stem).get(section, {}) if section else previous(stem)).get("reports") for stem in stems]
    if not all(tables) or any(set(t) != set(tables[0]) for t in tables):
        return None
    return {
        label: {s: sum(t[label][s][key] for t in tables) / len(tables) for s in SETS if s in tables[0][label]}
        for label in tables[0]
    }


def read(name: str) -> str:
    return (OUT / f"{name}.md").read_text() if (OUT / f"{name}.md").exists() else ""


__all__ = [
    "OUT",
    "Path",
    "budget_line",
    "fmt",
    "irn_draws",
    "kept",
    "metric_table",
    "previous",
    "read",
    "seed_means",
    "write",
]
