"""Table 1 at the GPU budgets: FGRN vs IRN vs Bicubic & Bicubic, trained side by side on a
lent GPU with :mod:`benchmarks.reproduce.gpu_budget` (equal iterations, batch and patch).

Evaluates the finished ``gpu-*`` runs of each budget in ``BUDGETS`` like Table 1 (Y-PSNR /
SSIM through the 8-bit LR, NIQE / PIQE of the LR), with the paper's numbers beside ours.
Rows whose run is not in ``runs/`` are kept from the last ``table_gpu.json``.

Usage::

    python -m benchmarks.reproduce.table_gpu [--irn-draws N]
"""

from __future__ import annotations

import argparse

from benchmarks.reproduce import paper
from benchmarks.reproduce.common import budget, evaluate_run, final_weights, finished
from benchmarks.reproduce.gpu_budget import GPU_RUNS
from benchmarks.reproduce.report import budget_line, kept, metric_table, previous, write

#: run-name tag -> what was run (``gpu_budget --tag``; "" is no tag).
BUDGETS = {
    "": "All five runs side by side, N picked by gpu_budget for 270 s (2026-11-26, NVIDIA H200)",
    "n1700": "The x4 pair side by side, N = 1700 chosen to fill what was left of the session's GPU time "
    "(2026-11-26, NVIDIA H200)",
    "g8": "The CPU study's batch 8 and HR patch 64, four runs side by side with CUDA graphs "
    "(`--cuda-graph`), N picked by gpu_budget for 330 s at safety 0.9 (2026-11-26, second session, "
    "NVIDIA H200)",
    "g8-fp32": "As g8, the x4 pair alone with TF32 off (`--set tf32=false`): float32 convolutions as on the CPU "
    "(2026-11-26, third GPU session, NVIDIA H200)",
    "g8-fp32-s1": "As g8-fp32 with training seed 1 (`--set tf32=false seed=1`) (2026-11-26, third GPU session, "
    "NVIDIA H200)",
    "n8000-fp32-s1": "The x4 pair at 8000 iterations, the shipped FGRN x4's count, as g8-fp32-s1 "
    "(batch 8, HR patch 64, "
    "CUDA graphs, TF32 off, training seed 1); IRN first, then FGRN, each alone on the GPU "
    "(2026-11-27, fourth GPU session, NVIDIA H200)",
}


def _paper_row(key: str, scale: int, table: dict) -> dict | None:
    model = "irn" if "irn" in key else "fgrn"
    return None if key == "gpu-fgrn-x4" else table[(model, scale)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--irn-draws", type=int, default=5, help="Gaussian z draws averaged per image for IRN")
    args = parser.parse_args(argv)
    last = previous("table_gpu")
    payload, sections1, sections2 = {}, [], []
    for tag, what in BUDGETS.items():
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
