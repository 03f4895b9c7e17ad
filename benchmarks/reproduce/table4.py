"""Table 4 analogue: IRN's latent variable (paper Section 4.6) at x4.

``z``: IRN trained with z ~ N(0, 1) and tested with 5 Gaussian draws (the official
setting). ``z0``: IRN retrained with z fixed to 0 and tested with z = 0. We also test the
``z`` model with z = 0, which the paper does not report. Same budget for both
(``configs/irn-x4.json``).

Usage::

    python -m benchmarks.reproduce.table4 [--train]
"""

from __future__ import annotations

import argparse

from benchmarks.reproduce import paper
from benchmarks.reproduce.common import budget, evaluate_run, final_weights, finished, train
from benchmarks.reproduce.report import budget_line, metric_table, write


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true")
    args = parser.parse_args(argv)
    if args.train:
        train("irn-x4", "irn-x4")
        train("irn-z0-x4", "irn-x4", ["model_config.z_mode=zero"])
    if not (finished("irn-x4") and finished("irn-z0-x4")):
        print("irn-x4 and irn-z0-x4 must both be trained (run with --train)")
        return

    reports = {
        "z": evaluate_run("irn-x4", final_weights("irn-x4"), "irn", 4),
        "z0": evaluate_run("irn-z0-x4", final_weights("irn-z0-x4"), "irn", 4),
        "z-model, tested with z = 0": evaluate_run("irn-x4", final_weights("irn-x4"), "irn", 4, z_mode="zero",
                                                   key="eval-z0"),
    }
    rows = [(k, r, paper.TABLE4.get(k)) for k, r in reports.items()]
    budgets = {"z": budget("irn-x4"), "z0": budget("irn-z0-x4")}
    lines = "\n".join(f"- {k}: {budget_line(b)}" for k, b in budgets.items())
    text = (f"## Table 4: IRN with z ~ N(0, 1) vs z = 0 at x4\n\n{metric_table(rows, ('psnr', 'ssim'), (2, 4))}"
            f"\n\nBudget:\n{lines}")
    write("table4", {"reports": reports, "budgets": budgets}, text)


if __name__ == "__main__":
    main()
