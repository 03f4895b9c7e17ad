"""A run's validation log as the Markdown table the rule files quote.

Usage::

    python -m benchmarks.reproduce.val_log [--window 200] [--keys exact logdet roundtrip] RUN_DIR

One row per validation step of ``RUN_DIR/log.jsonl`` (the trainer's log): the validation PSNR and
the LR's RGB PSNR against the bicubic LR (EMA weights, float32), then, for each key, the mean over
the logged training steps in the ``window`` steps up to and including that step (training
batches' values, not the validation images'; a key the log lacks prints as an empty cell).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.common import description
from benchmarks.reproduce.common import read_log, window_means

HEADINGS = {"exact": "exact", "logdet": "F log-det / elem", "roundtrip": "roundtrip"}


def rows(records: list[dict], keys: list[str], window: int = 200) -> list[dict]:
    """For each record with ``val_psnr``: its step, ``val_psnr``, ``val_lr_psnr_rgb`` and the mean
    of each key over the records with a step in ``(step - window, step]`` that carry it
    (``None`` where none does)."""
    return [
        {
            "step": r["step"],
            "val_psnr": r["val_psnr"],
            "val_lr_psnr_rgb": r.get("val_lr_psnr_rgb"),
            **window_means(records, r["step"], window, keys),
        }
        for r in records
        if "val_psnr" in r
    ]


def markdown(table: list[dict], keys: list[str]) -> str:
    """``table`` (from :func:`rows`) as a Markdown table: PSNRs to 2 decimals, ``logdet`` signed
    to 4, other keys to 2 (``exact``) or 3 decimals."""

    def cell(key: str, value: float | None) -> str:
        if value is None:
            return ""
        if key == "logdet":
            return f"{value:+.4f}"
        return f"{value:.2f}" if key == "exact" else f"{value:.3f}"

    head = ["step", "validation PSNR", "LR vs bicubic (RGB)"] + [HEADINGS.get(k, k) for k in keys]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table:
        lr = "" if row["val_lr_psnr_rgb"] is None else f"{row['val_lr_psnr_rgb']:.2f}"
        cells = [str(row["step"]), f"{row['val_psnr']:.2f}", lr] + [cell(k, row[k]) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--window", type=int, default=200, help="training steps averaged before each validation")
    parser.add_argument("--keys", nargs="+", default=["exact", "logdet", "roundtrip"])
    args = parser.parse_args(argv)
    text = markdown(rows(read_log(args.run_dir), args.keys, args.window), args.keys)
    print(text)
    return text


if __name__ == "__main__":
    main()
