"""Table 1 at the GPU budgets: FGRN vs IRN vs Bicubic & Bicubic, trained side by side on a
lent GPU with :mod:`benchmarks.reproduce.gpu_budget` (equal iterations, batch and patch).

Evaluates the finished ``gpu-*`` runs of each budget in ``records.toml``'s ``gpu_budgets`` like Table 1 (Y-PSNR /
SSIM through the 8-bit LR, NIQE / PIQE of the LR), with the paper's numbers beside ours.
Rows whose run is not in ``runs/`` are kept from the last ``table_gpu.json``.

Usage::

    python -m benchmarks.reproduce.table_gpu [--irn-draws N]
"""

from __future__ import annotations

import argparse

from benchmarks.common import description
from benchmarks.reproduce import paper
from benchmarks.reproduce.common import budget, evaluate_run, final_weights, finished
from benchmarks.reproduce.records import GPU_BUDGETS, GPU_RUNS
from benchmarks.reproduce.report import budget_line, kept, metric_table, previous, write


def _paper_row(key: str, scale: int, table: dict) -> dict | None:
    model = "irn" if "irn" in key else "fgrn"
    return None if key == "gpu-fgrn-x4" else table[(model, scale)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--irn-draws", type=int, default=5, help="Gaussian z draws averaged per image for IRN")
    args = parser.parse_args(argv)
    last = previous("table_gpu")
    payload, sections1, sections2 = {}, [], []
    for tag, what in GPU_BUDGETS.items():
        for scale in (4, 2):
            section = f"{tag or 'default'}-x{scale}"
            reports, budgets, labels = {}, {}, {}
            for key, (base, _, label) in GPU_RUNS.items():
                if not base.endswith(f"x{scale}"):
                    continue
                name = f"{key}-{tag}" if tag else key
                model = "irn" if "irn" in key else "fgrn"
                if finished(name):
                    draws = args.irn_draws if model == "irn" else 5
                    done = evaluate_run(name, final_weights(name), model, scale, draws=draws), budget(name)
                else:
                    done = kept(last, section, key, name)
                if done:
                    (reports[key], budgets[key]), labels[key] = done, label
            if not reports:
                continue
            bicubic = evaluate_run(f"bicubic-x{scale}", None, "bicubic", scale)
            rows1 = [("Bicubic & Bicubic", bicubic, paper.TABLE1[("bicubic", scale)])]
            rows2 = [("Bicubic & Bicubic", bicubic, paper.TABLE2[("bicubic", scale)])]
            rows1 += [(labels[k], reports[k], _paper_row(k, scale, paper.TABLE1)) for k in reports]
            rows2 += [(labels[k], reports[k], _paper_row(k, scale, paper.TABLE2)) for k in reports]
            lines = "\n".join(f"- {labels[k]}: {budget_line(b)}" for k, b in budgets.items())
            title = (
                f"### x{scale}, {next(iter(budgets.values()))['iterations']} iterations (budget `{tag or 'default'}`)"
            )
            sections1.append(
                f"{title}\n\n{what}.\n\n{metric_table(rows1, ('psnr', 'ssim'), (2, 4))}\n\n"
                f"Budget (wall time on one GPU, side by side unless said above):\n{lines}"
            )
            sections2.append(f"{title}\n\n{metric_table(rows2, ('niqe', 'piqe'), (3, 3))}")
            payload[section] = {"reports": reports, "budgets": budgets}
    note = (
        "Trained on one GPU with equal iterations, batch and HR patch for every model, each with its "
        "CPU-study optimiser (lr halved at 50 % and 75 %); evaluated on the CPU like Table 1 (Y, border "
        f"crop = scale, through the 8-bit LR; IRN: {args.irn_draws} Gaussian z draw(s) per image). "
        "Urban100 is half resolution."
    )
    write(
        "table_gpu",
        payload,
        "## Table 1 at the GPU budgets: reconstruction (PSNR / SSIM)\n\n"
        + note
        + "\n\n"
        + "\n\n".join(sections1)
        + "\n\n## Table 2 at the GPU budgets: LR images (NIQE / PIQE)\n\n"
        + "\n\n".join(sections2),
    )


if __name__ == "__main__":
    main()
