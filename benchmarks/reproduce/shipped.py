"""The shipped weights on the evaluation sets: FGRN beside IRN and Bicubic & Bicubic.

``python -m benchmarks.reproduce.shipped``

Reads the evaluation and budget of each shipped model from its card
(:func:`flowkit.models.model_card`, written by :mod:`benchmarks.reproduce.ship_weights` from
the same weights), evaluates Bicubic & Bicubic, and writes ``shipped.json`` / ``shipped.md``:
PSNR / SSIM per set with the paper's numbers, FGRN's margin in PSNR over each baseline, each
model's budget, and per scale whether FGRN is at least as good as IRN on every set. No model
is trained and no shipped file changes.
"""

from __future__ import annotations

import argparse
from typing import Any

from benchmarks.common import markdown_table
from benchmarks.reproduce import paper
from benchmarks.reproduce.common import evaluate_run
from benchmarks.reproduce.report import budget_line, irn_draws, metric_table, write
from flowkit.models import model_card

LABELS = {"bicubic": "Bicubic & Bicubic", "irn": "IRN (shipped)", "fgrn": "FGRN (shipped)"}


def margins(fgrn: dict[str, Any], others: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """FGRN's PSNR minus each other model's, per set: ``{other: {set: dB}}``.

    >>> margins({"Set5": {"psnr": 32.5}}, {"irn": {"Set5": {"psnr": 32.0}}})
    {'irn': {'Set5': 0.5}}
    """
    return {name: {s: fgrn[s]["psnr"] - report[s]["psnr"] for s in paper.SETS if s in fgrn and s in report}
            for name, report in others.items()}


def verdict(margin: dict[str, float]) -> str:
    """One line: is FGRN at least as good as IRN (margin ≥ 0 dB) on every set, and where not."""
    behind = [f"{s} ({d:+.2f} dB)" for s, d in margin.items() if d < 0]
    if not behind:
        return "FGRN is at least as good as IRN in PSNR on every set."
    return f"FGRN is behind IRN in PSNR on {len(behind)} of {len(margin)} sets: {', '.join(behind)}."


def section(scale: int, bicubic: dict[str, Any], cards: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The markdown of one scale and its JSON payload."""
    reports = {"bicubic": bicubic} | {m: c["evaluation"] for m, c in cards.items()}
    rows = [(LABELS[m], reports[m], paper.TABLE1[(m, scale)]) for m in ("bicubic", "irn", "fgrn")]
    diff = margins(reports["fgrn"], {"bicubic": bicubic, "irn": reports["irn"]})
    sets = list(diff["irn"])
    diff_table = markdown_table(["FGRN's PSNR minus", *(reports["fgrn"][s]["label"] for s in sets)],
                                [[LABELS[m], *(f"{d[s]:+.2f}" for s in sets)] for m, d in diff.items()])
    budgets = "\n".join(f"- {LABELS[m]}: {budget_line(c['training']['budget'])}; seed "
                        f"{c['training']['config']['seed']}; `{c['training']['command']}`" for m, c in cards.items())
    text = (f"### x{scale}\n\n{metric_table(rows, ('psnr', 'ssim'), (2, 4))}\n\n{diff_table}\n\n"
            f"{verdict(diff['irn'])}\n\nBudget:\n{budgets}")
    return text, {"reports": reports, "margins": diff,
                  "budgets": {m: c["training"]["budget"] for m, c in cards.items()}}


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    sections, payload = [], {}
    for scale in (2, 4):
        cards = {m: model_card(m, scale) for m in ("irn", "fgrn")}
        text, payload[f"x{scale}"] = section(scale, evaluate_run(f"bicubic-x{scale}", None, "bicubic", scale), cards)
        sections.append(text)
    note = ("PSNR / SSIM on Y (BT.601), border crop = scale, through the 8-bit LR, on the evaluation sets "
            "(no training, validation or choice of a shipped file used them); IRN's z: "
            f"{irn_draws(payload)} Gaussian draw(s) averaged per image. The shipped models' numbers "
            "are their cards'. Paper: 500k-iteration GPU training on DIV2K + Flickr2K. Urban100 here is half "
            "resolution, so that column is not comparable with the paper's.")
    write("shipped", payload, "## Shipped weights on the evaluation sets\n\n" + note + "\n\n" + "\n\n".join(sections))


if __name__ == "__main__":
    main()
