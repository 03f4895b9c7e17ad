"""What each experiment of the study cost: CPU hours and GPU minutes, from the result files.

Reads the budgets (iterations, wall time, machine) that every table script records in its
JSON under ``benchmarks/results/reproduce/`` and writes ``cost.md`` there: per experiment,
the runs, their iterations and their training time, split by device. A run that two result
files of one experiment share (Tables 1 and 2 score the same runs) counts once; a run shared
by two experiments (Table 4's Gaussian-z IRN is Table 1's) counts in each. Runs trained side
by side on one GPU overlap in time, so their summed GPU minutes bound the GPU's time from above.

Usage::

    python -m benchmarks.reproduce.cost
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, markdown_table

HERE = RESULTS / "reproduce"
#: experiment -> the result files (stems) it is made of.
EXPERIMENTS = {
    "Tables 1 and 2 (seeds 0 and 1)": ["table1", "table2", "table1_seed1", "table2_seed1"],
    "Tables 1 and 2, the sample-efficient recipe (seeds 0 and 1)": [
        "table1_fast",
        "table2_fast",
        "table1_fast_seed1",
        "table2_fast_seed1",
    ],
    "Table 1 at GPU budgets": ["table_gpu"],
    "Table 3 (seeds 0 and 1)": ["table3", "table3_seed1"],
    "Table 3, the sample-efficient recipe (seeds 0 and 1)": ["table3_fast", "table3_fast_seed1"],
    "Figure 7 (seeds 0, 1, 2)": ["fig7_gamma", "fig7_gamma_seed1", "fig7_gamma_seed2"],
    "Table 4, x4 and x2 (seeds 0 and 1)": ["table4", "table4_seed1", "table4_x2", "table4_x2_seed1"],
    "Table 4, the generic recipe, x4 and x2 (seeds 0 and 1)": [
        "table4_fast",
        "table4_fast_seed1",
        "table4_x2_fast",
        "table4_x2_fast_seed1",
    ],
    "Recipe ablation, x4 (issue 25)": ["recipe_ablation"],
    "Recipe check, x2 (issue 25)": ["recipe_ablation_x2"],
}


def budgets(payload: Any) -> Iterator[dict]:
    """Every training budget recorded anywhere in a result payload."""
    if isinstance(payload, dict):
        if "wall_seconds" in payload and "iterations" in payload:
            yield payload
            return
        for value in payload.values():
            yield from budgets(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from budgets(value)


def cost(stems: list[str], folder: Path = HERE) -> dict[str, float]:
    """Runs, iterations, CPU hours and GPU minutes of the budgets in ``<folder>/<stem>.json``."""
    seen: dict[tuple, dict] = {}
    for stem in stems:
        path = folder / f"{stem}.json"
        if path.exists():
            for b in budgets(json.loads(path.read_text())):
                if b.get("wall_seconds") is not None:
                    seen[(b["iterations"], b["batch"], b["patch"], round(b["wall_seconds"], 3))] = b
    gpu = [b for b in seen.values() if (b.get("machine") or {}).get("gpu")]
    cpu = [b for b in seen.values() if not (b.get("machine") or {}).get("gpu")]
    return {
        "runs": len(seen),
        "iterations": sum(b["iterations"] for b in seen.values()),
        "cpu_hours": sum(b["wall_seconds"] for b in cpu) / 3600,
        "gpu_minutes": sum(b["wall_seconds"] for b in gpu) / 60,
        "gpus": sorted({b["machine"]["gpu"] for b in gpu}),
    }


def table(folder: Path = HERE) -> str:
    rows = []
    for name, stems in EXPERIMENTS.items():
        c = cost(stems, folder)
        rows.append(
            [name, ", ".join(f"`{s}`" for s in stems), c["runs"], f"{c['iterations']:,}", f"{c['cpu_hours']:.1f}",
             f"{c['gpu_minutes']:.1f}" + (f" ({', '.join(c['gpus'])})" if c["gpus"] else "")]
        )  # fmt: skip
    header = ["experiment", "result files", "runs", "iterations", "CPU hours (one thread a run)", "GPU minutes"]
    return markdown_table(header, rows)


def main() -> None:
    text = table()
    (HERE / "cost.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
