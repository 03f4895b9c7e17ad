"""Which dtype each shipped model would be stored in by ``ship_weights``' rule: the Set5 PSNR
change of float16 and bfloat16 storage against float32 (``ship_weights.storage_dtype``).

Usage::

    python -m benchmarks.reproduce.storage_dtype

Writes ``benchmarks/results/reproduce/storage_dtype.{json,md}``. The shipped files are not
changed: ``ship_weights`` applies the rule the next time it exports a model.
"""

from __future__ import annotations

import json

import torch

from benchmarks.common import RESULTS, machine
from benchmarks.reproduce.ship_weights import STORAGE_TOLERANCE, dtype_name, storage_dtype
from flowkit.atomic import atomic_write
from flowkit.models import available, pretrained


def main() -> dict:
    torch.set_num_threads(1)
    rows = {}
    for name, scale in available():
        dtype, changes = storage_dtype(pretrained(name, scale))
        rows[f"{name}-x{scale}"] = {"dtype": dtype_name(dtype), "set5_psnr_change_db": changes}
    result = {"tolerance_db": STORAGE_TOLERANCE, "models": rows, "machine": machine()}
    lines = [
        (
            f"Set5 Y-PSNR change of storing each shipped model's weights in 16 bits (dB, against float32; "
            f"IRN with one z draw, torch seeded 0). Rule: the first of float16, bfloat16 within "
            f"{STORAGE_TOLERANCE} dB, else float32. A file already stored in 16 bits is compared with its "
            "own values in float32."
        ),
        "",
        "| model | float16 | bfloat16 | stored as |",
        "|---|---|---|---|",
    ]
    for model, row in rows.items():
        c = row["set5_psnr_change_db"]
        lines.append(f"| {model} | {c['float16']:+.4f} | {c['bfloat16']:+.4f} | {row['dtype']} |")
    out = RESULTS / "reproduce" / "storage_dtype"
    atomic_write(out.with_suffix(".json"), lambda f: f.write(json.dumps(result, indent=1).encode()))
    atomic_write(out.with_suffix(".md"), lambda f: f.write(("\n".join(lines) + "\n").encode()))
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
