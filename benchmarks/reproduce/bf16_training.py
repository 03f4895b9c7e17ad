"""bfloat16 training on the CPU (``amp=true``, each ``amp_scope``): does it reach float32's
validation PSNR at a fixed step count? Issue 26's accuracy criterion, measured on the recipe
ablation's budget and arm D's recipe (:mod:`benchmarks.reproduce.recipe_ablation`), whose
float32 runs are the reference.

Usage::

    python -m benchmarks.reproduce.bf16_training --train [--scopes loss subnets outer_subnets] [--seeds 0 1]
    python -m benchmarks.reproduce.bf16_training          # the report from finished runs

Runs are ``runs/recipe-D-bf16-s<seed>`` (scope ``loss``) and
``runs/recipe-D-bf16-<scope>-s<seed>``; the report goes to
``benchmarks/results/reproduce/bf16_training.{json,md}``. The step-time ratios come from
``python -m benchmarks.training_speed --configs fast-fgrn-x4 --vs amp=true amp_scope=SCOPE``
(a step of each in turn, one process). No evaluation set is read.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from benchmarks.common import RESULTS, description
from benchmarks.reproduce import recipe_ablation as ra
from benchmarks.reproduce.common import finished, train
from benchmarks.reproduce.report import write

ARM = "D"
#: The decision rule, fixed on 2026-11-28 at about 19:00 UTC, before any bfloat16 run was trained.
RULE = (
    "Arm D of the recipe ablation (FGRN x4, the fast recipe, 1200 steps of batch 8 on 64-pixel patches, one CPU "
    "thread) is trained again with amp=true (bfloat16 autocast over the loss's forward pass; the weights, the "
    "gradients and Adam stay float32), seeds 0 and 1, and scored like every arm: validation PSNR (Y, through the "
    "8-bit LR, EMA weights, float32 evaluation) and LR fidelity on the 10 held-out training images. bfloat16 "
    "training passes when its validation PSNR, averaged over the two seeds, is no more than 0.05 dB below arm D's "
    "float32 runs (issue 26's criterion: it reaches float32's within 0.05 dB) and its LR fidelity no more than 0.5 dB "
    "below theirs. If it passes, the study's "
    "CPU runs may train with amp=true (each run's config says so); if not, the docs say amp is not for the CPU."
)
#: The rule for the two subnet scopes, fixed on 2026-11-29 at about 02:49 UTC (commit e6d6f40), before their runs.
SCOPES_RULE = (
    "After the loss-wide arm failed, two narrower bfloat16 scopes are trained the same way (arm D, seeds 0 and 1, "
    "the same budget) and judged by the same criteria against the same float32 runs: amp_scope=subnets (every "
    "subnetwork in bfloat16; the coupling updates, residual streams, Haar transforms, quantiser and loss terms in "
    "float32) and amp_scope=outer_subnets (only the subnetworks outside invertible layers, FGRN's downscaler and "
    "upscaler, as --dtype bfloat16 inference does). A paired probe before the rule (one thread, the fast FGRN x4 "
    "config) timed a step of each at 1.6x and 1.2-1.35x float32's. If both pass, the study's CPU runs may use the "
    "faster one by benchmarks.training_speed --vs (a step of each in turn); if one passes, that one; if none, the "
    "study stays float32."
)
MAX_PSNR_GAP, MAX_LR_LOSS = 0.05, 0.5
#: Each bfloat16 arm: its ``amp_scope``, in the order they were decided on.
SCOPES = ("loss", "subnets", "outer_subnets")
#: scope -> the paired step-speed results (``benchmarks/results``) that time it against float32 on the CPU.
SPEED_RESULTS = {
    "loss": "training_speed_amp_cpu_threads1",
    "subnets": "training_speed_amp_subnets_cpu_threads1",
    "outer_subnets": "training_speed_amp_outer_subnets_cpu_threads1",
}
SPEED_CONFIG = "fast-fgrn-x4"


def step_speedup(scope: str) -> float | None:
    """A step's speed-up over float32 for ``SPEED_CONFIG`` under ``scope`` (None if not measured)."""
    path = RESULTS / f"{SPEED_RESULTS[scope]}.json"
    if not path.exists():
        return None
    rows = json.loads(path.read_text())["results"]
    return next((r["speedup"] for r in rows if r["config"] == SPEED_CONFIG), None)


def choice(verdicts: dict[str, dict[str, Any]], speedups: dict[str, float | None]) -> str | None:
    """The rules' choice among the passing scopes: the one whose step is fastest by ``speedups``
    (scope -> :func:`step_speedup`; None: none passes)."""
    passing = [scope for scope in SCOPES if verdicts.get(f"bfloat16 ({scope})", {}).get("passes")]
    return max(passing, key=lambda scope: speedups.get(scope) or 0.0, default=None)


def run_name(seed: int, scope: str = "loss") -> str:
    return f"recipe-{ARM}-bf16-s{seed}" if scope == "loss" else f"recipe-{ARM}-bf16-{scope}-s{seed}"


def overrides(seed: int, scope: str = "loss") -> list[str]:
    return [*ra.overrides(ARM, seed), "amp=true", *([] if scope == "loss" else [f"amp_scope={scope}"])]


def verdict(bf16: dict[str, float], fp32: dict[str, float]) -> tuple[bool, str]:
    """:data:`RULE` on seed-mean scores: ``(passes, reason)``."""
    d_psnr = bf16["val_psnr"] - fp32["val_psnr"]
    d_lr = bf16["val_lr_psnr_rgb"] - fp32["val_lr_psnr_rgb"]
    ok = d_psnr >= -MAX_PSNR_GAP and d_lr >= -MAX_LR_LOSS
    return ok, f"PSNR {d_psnr:+.3f} dB, LR fidelity {d_lr:+.2f} dB"


def report(seeds: tuple[int, ...] = ra.SEEDS) -> dict[str, Any]:
    keys = ("val_psnr", "val_lr_psnr_rgb", "logdet", "exact")
    rows: dict[str, Any] = {}
    arms = [("float32", lambda s: ra.run_name(ARM, s))]
    arms += [(f"bfloat16 ({scope})", lambda s, scope=scope: run_name(s, scope)) for scope in SCOPES]
    for label, name_of in arms:
        names = {seed: name_of(seed) for seed in seeds}
        if all(finished(n) for n in names.values()):
            scores = {seed: ra.score(n) for seed, n in names.items()}
            rows[label] = {
                "runs": names,
                "seeds": scores,
                "mean": {k: sum(r[k] for r in scores.values()) / len(scores) for k in keys},
            }
    result: dict[str, Any] = {
        "rule": RULE,
        "scopes_rule": SCOPES_RULE,
        "budget": ra.BUDGET,
        "base": ra.BASE,
        "seeds": list(seeds),
        "rows": rows,
    }
    if "float32" in rows:
        result["verdicts"] = {
            label: dict(zip(("passes", "reason"), verdict(row["mean"], rows["float32"]["mean"]), strict=True))
            for label, row in rows.items()
            if label != "float32"
        }
        result["speedups"] = {scope: step_speedup(scope) for scope in SCOPES}
        result["choice"] = choice(result["verdicts"], result["speedups"])
    return result


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"**Rule (fixed before the runs).** {result['rule']}",
        "",
        f"**Rule for the subnet scopes (fixed before their runs).** {result['scopes_rule']}",
        "",
        f"Budget of every run: `configs/{result['base']}.json` + `{' '.join(result['budget'])}` + arm {ARM}'s "
        f"recipe; seeds {', '.join(map(str, result['seeds']))}.",
        "",
        "| training | val PSNR (dB) | LR vs bicubic (dB, RGB) | F log-det / elem | exact | per seed PSNR | "
        "train seconds per seed |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, row in result["rows"].items():
        m = row["mean"]
        per_seed = " / ".join(f"{r['val_psnr']:.3f}" for r in row["seeds"].values())
        seconds = " / ".join(f"{r['budget']['wall_seconds'] or 0:.0f}" for r in row["seeds"].values())
        lines.append(
            f"| {label} | {m['val_psnr']:.3f} | {m['val_lr_psnr_rgb']:.2f} | {m['logdet']:+.3f} | "
            f"{m['exact']:.2f} | {per_seed} | {seconds} |"
        )
    for label, v in result.get("verdicts", {}).items():
        lines += ["", f"**{label}: {'passes' if v['passes'] else 'fails'}**: against float32, {v['reason']}."]
    if "speedups" in result:
        speed = ", ".join(f"{scope} {x:.2f}x" for scope, x in result["speedups"].items() if x)
        chosen = result["choice"]
        lines += [
            "",
            f"A step against float32's ({SPEED_CONFIG}, one thread, paired, `benchmarks.training_speed --vs`): "
            f"{speed}. "
            + (
                f"**The study's CPU runs may train with `amp=true amp_scope={chosen}`** (the fastest passing scope)."
                if chosen
                else "No scope passes: the study's CPU runs stay float32."
            ),
        ]
    lines += [
        "",
        "F log-det and exact: means over the training log's last 200 steps, computed in the step's own "
        "precision; where the coupling arithmetic itself computes in bfloat16 (scope loss) the flow's 8-bit round "
        "trip is seldom bit-exact, so that `exact` is not comparable with float32's (the validation PSNR, evaluated "
        "in float32, is). Train seconds come from runs "
        "that shared the machine with other work at different times: they are not a speed comparison "
        "(`benchmarks.training_speed --vs amp=true` is).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--train", action="store_true", help="train the missing bfloat16 runs first")
    parser.add_argument("--scopes", nargs="+", choices=SCOPES, default=list(SCOPES))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(ra.SEEDS))
    args = parser.parse_args(argv)
    if args.train:
        for scope in args.scopes:
            for seed in args.seeds:
                train(run_name(seed, scope), ra.BASE, overrides(seed, scope), progress=False)
    result = report()
    write("bf16_training", result, markdown(result))
    return result


if __name__ == "__main__":
    main()
