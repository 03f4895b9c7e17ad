"""Issue 25's recipe ablation for FGRN: which of bicubic-initialised Gd/Gu, a contraction
hinge on F, a cosine schedule with EMA, and area-proportional sampling help at a short
budget, judged on held-out training images only. At x4 every arm runs; at x2 the adopted
recipe (D) is checked against the paper's (A) directly.

Usage::

    python -m benchmarks.reproduce.recipe_ablation --train [--scale 2] [--arms A B ...] [--seeds 0 1]
    python -m benchmarks.reproduce.recipe_ablation [--scale 2]   # the report from finished runs

Runs are ``runs/recipe-<arm>-s<seed>`` at x4 and ``runs/recipe-x2-<arm>-s<seed>`` at x2
(resumed when interrupted); the report goes to
``benchmarks/results/reproduce/recipe_ablation{,_x2}.{json,md}``. No evaluation set is read.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch

from benchmarks.common import description
from benchmarks.reproduce.common import RUNS, budget, data_root, final_weights, finished, train, training_end
from benchmarks.reproduce.report import write
from benchmarks.reproduce.validate_weights import HOLDOUT
from flowkit.atomic import atomic_write
from flowkit.models import load_model
from flowkit.train.data import find_images, split_holdout
from flowkit.train.validation import load_validation_images, validate

BASE = "fgrn-x4-short"
#: The budget every arm trains with (on top of configs/fgrn-x4-short.json: batch 8, HR patch 64).
BUDGET = ["iterations=1200", "lr_milestones=[600, 900]", "val_every=0", "checkpoint_every=300"]
#: The recipe's generic parts, which IRN gets too: a cosine schedule with 100 warm-up steps, EMA 0.995.
GENERIC_RECIPE = ['lr_schedule="cosine"', "warmup=100", "lr_milestones=[]", "ema_decay=0.995"]
#: Arm D's overrides (the recipe adopted at x4, bundled as fast-fgrn-x4), which E, F and G extend.
FAST_RECIPE = ["model_config.gamma=0.001", "model_config.bicubic_skip=true", *GENERIC_RECIPE]
#: arm -> (parent arm, what it adds, config overrides). The paper's gamma = 1e-3 except in S.
ARMS: dict[str, tuple[str | None, str, list[str]]] = {
    "S": (None, "the shipped x4 recipe (gamma 0.05), for reference", ["model_config.gamma=0.05"]),
    "A": (None, "the paper's recipe (gamma 1e-3)", ["model_config.gamma=0.001"]),
    "B": (
        "A",
        "+ Gd/Gu start from the bicubic solution (2a)",
        ["model_config.gamma=0.001", "model_config.bicubic_skip=true"],
    ),
    "C": (
        "B",
        "+ a hinge on F's contraction, weight 0.1 (2b)",
        ["model_config.gamma=0.001", "model_config.bicubic_skip=true", "model_config.logdet_hinge=0.1"],
    ),
    "D": (
        "B",
        "+ cosine schedule, 100 warm-up steps, EMA 0.995 (2c)",
        FAST_RECIPE,
    ),
    "E": (
        "D",
        "+ images sampled in proportion to their area (2d)",
        [*FAST_RECIPE, "sample_by_area=true"],
    ),
    "F": ("D", "+ L_guide also trains Gd, weight 0.05", [*FAST_RECIPE, "model_config.guide_to_gd=0.05"]),
    "G": ("D", "+ L_guide also trains Gd, weight 0.25", [*FAST_RECIPE, "model_config.guide_to_gd=0.25"]),
    "H": (
        "F",
        "+ L_guide weighs the LR's chroma deviation, weight 1.0",
        [*FAST_RECIPE, "model_config.guide_to_gd=0.05", "model_config.guide_chroma=1.0"],
    ),
    "I": (
        "F",
        "+ HR patch 128 at batch 2 (the same HR pixels per step) (2d)",
        [*FAST_RECIPE, "model_config.guide_to_gd=0.05", "patch_size=128", "batch_size=2"],
    ),
    "J": (
        "F",
        "+ HR patch 32 at batch 32 (the same HR pixels per step) (2d)",
        [*FAST_RECIPE, "model_config.guide_to_gd=0.05", "patch_size=32", "batch_size=32"],
    ),
}
#: What an arm adds where its parent differs from the x4 ablation's.
ADDS = {(2, "D"): "+ Gd/Gu from the bicubic solution, cosine schedule, 100 warm-up steps, EMA 0.995 (2a, 2c)"}
#: scale -> arm -> the arm it is judged against. At x2, D (the recipe adopted at x4) against A.
PARENTS: dict[int, dict[str, str | None]] = {
    4: {arm: parent for arm, (parent, _, _) in ARMS.items()},
    2: {"A": None, "D": "A"},
}
SEEDS = (0, 1)
#: The decision rule, fixed before any run of this ablation was trained.
RULE = (
    "Each run is scored at its last step on the 10 held-out training images (the study's val_holdout; "
    "no evaluation set): validation PSNR (Y, through the 8-bit LR, EMA weights where the arm keeps them) "
    "and LR fidelity (RGB PSNR of the 8-bit LR against the 8-bit bicubic LR). An arm is compared with its "
    "parent by the mean over seeds 0 and 1. Its element is adopted when the PSNR gain is at least +0.05 dB, "
    "or when the PSNR changes by no less than -0.05 dB and the LR fidelity gains at least +1 dB; otherwise "
    "it is not adopted. S (gamma 0.05) is reported for reference and takes part in no decision. "
    "At x2 (rule added on 2026-11-28, before any x2 run), the same budget on the same base config with "
    "scale=2 (the x2 widths), arms A and D only, D judged against A by the same thresholds. "
    "Arms F and G (L_guide's gradient also reaching Gd, weights 0.05 and 0.25; rule added on 2026-11-28 at "
    "15:30 UTC, before their runs, after the x4 table above and no evaluation set) are judged against D by the "
    "same thresholds plus one trade: a PSNR change down to -0.25 dB is accepted when the LR fidelity gains at "
    "least +1 dB and at least ten times the PSNR lost. If both are adopted, the one with the larger LR-fidelity "
    "gain becomes the recipe's. "
    "Arm H (F plus an L1 on the BT.601 chroma of F(x) - y_bic in L_guide, weight 1.0, chosen before any run; "
    "rule added on 2026-11-28 at 23:15 UTC, before its runs; the arm was chosen after seeing the shipped table "
    "on the evaluation sets, where the shipped x4 LR's PSNR against the bicubic LR is 5.1–6.4 dB higher on Y "
    "than on RGB, i.e. its deviation is mostly colour) is judged against F by the same thresholds and the "
    "same trade. "
    "Arm I (item 2d: patch and batch at an equal budget; F with HR patch 128 at batch 2, the same 32768 HR pixels "
    "per step as F's 8 x 64², so the same arithmetic per step; the 6 training images smaller than 128 pixels drop "
    "out of its sampling; rule added on 2026-11-29 at about 02:58 UTC, before its runs, chosen from the issue's item "
    "2d with the x4 PSNR target's gap in the shipped evaluation table known) is judged against F by the standing "
    "thresholds, without the trade. If adopted, FGRN x4's next runs take patch 128 at batch 2 per 8 x 64² of "
    "budget. "
    "Arm J (F with HR patch 32 at batch 32, the same HR pixels per step the other way; rule added on 2026-11-29 at "
    "about 04:05 UTC (commit cc2d923), before its runs, chosen after arm I's table above, where the larger patch "
    "at the smaller batch lost 1.22 dB) is judged against F by the standing thresholds, without the trade. If "
    "adopted, FGRN x4's next runs take patch 32 at batch 32 per 8 x 64² of budget."
)
MIN_PSNR_GAIN, MAX_PSNR_LOSS, MIN_LR_GAIN = 0.05, -0.05, 1.0
#: Arms allowed to trade PSNR for LR fidelity, the largest PSNR loss they may trade, and the dB of LR
#: fidelity they must gain per dB of PSNR lost.
TRADE_ARMS, MAX_TRADE_LOSS, TRADE_RATIO = ("F", "G", "H"), -0.25, 10.0


def run_name(arm: str, seed: int, scale: int = 4) -> str:
    return f"recipe-{arm}-s{seed}" if scale == 4 else f"recipe-x{scale}-{arm}-s{seed}"


def overrides(arm: str, seed: int, scale: int = 4) -> list[str]:
    return [*BUDGET, *([] if scale == 4 else [f"scale={scale}"]), *ARMS[arm][2], f"seed={seed}"]


def score(name: str) -> dict[str, Any]:
    """Validation PSNR, LR fidelity and F's end-of-training state of a finished run (cached)."""
    cache = RUNS / name / "recipe_score.json"
    if cache.exists():
        return json.loads(cache.read_text())
    _, files = split_holdout(find_images([data_root() / "train"]), HOLDOUT)
    model = load_model(final_weights(name))
    torch.manual_seed(0)
    result = validate(model, load_validation_images(files, model.scale), torch.device("cpu"))
    out = {
        "val_psnr": result["psnr"],
        "val_lr_psnr_rgb": result["lr_psnr_rgb"],
        **training_end(name),
        "budget": budget(name),
    }
    text = json.dumps(out, indent=1).encode()
    atomic_write(cache, lambda f: f.write(text))
    return out


def verdict(arm: dict[str, float], parent: dict[str, float], trade: bool = False) -> tuple[bool, str]:
    """Apply :data:`RULE` to seed-mean scores (``trade``: the arm may trade PSNR for LR fidelity);
    ``(adopted, reason)``."""
    d_psnr = arm["val_psnr"] - parent["val_psnr"]
    d_lr = arm["val_lr_psnr_rgb"] - parent["val_lr_psnr_rgb"]
    if d_psnr >= MIN_PSNR_GAIN:
        return True, f"PSNR {d_psnr:+.2f} dB"
    if d_psnr >= MAX_PSNR_LOSS and d_lr >= MIN_LR_GAIN:
        return True, f"PSNR {d_psnr:+.2f} dB, LR fidelity {d_lr:+.2f} dB"
    if trade and d_psnr >= MAX_TRADE_LOSS and d_lr >= max(MIN_LR_GAIN, -TRADE_RATIO * d_psnr):
        return True, f"PSNR {d_psnr:+.2f} dB traded for LR fidelity {d_lr:+.2f} dB"
    return False, f"PSNR {d_psnr:+.2f} dB, LR fidelity {d_lr:+.2f} dB"


def report(seeds: tuple[int, ...] = SEEDS, scale: int = 4) -> dict[str, Any]:
    keys = ("val_psnr", "val_lr_psnr_rgb", "logdet", "exact")
    arms: dict[str, Any] = {}
    for arm, parent in PARENTS[scale].items():
        what = ADDS.get((scale, arm), ARMS[arm][1])
        names = {seed: run_name(arm, seed, scale) for seed in seeds}
        runs = {seed: score(name) for seed, name in names.items() if finished(name)}
        if len(runs) == len(seeds):
            arms[arm] = {
                "parent": parent,
                "adds": what,
                "seeds": runs,
                "mean": {k: sum(r[k] for r in runs.values()) / len(runs) for k in keys},
            }
    for name, row in arms.items():
        if row["parent"] in arms:
            row["adopted"], row["reason"] = verdict(row["mean"], arms[row["parent"]]["mean"], name in TRADE_ARMS)
    return {"rule": RULE, "scale": scale, "budget": BUDGET, "base": BASE, "seeds": list(seeds), "arms": arms}


def markdown(result: dict[str, Any]) -> str:
    scale = result["scale"]
    extra = "" if scale == 4 else f" scale={scale}"
    lines = [
        f"**Rule (fixed before the runs).** {result['rule']}",
        "",
        (
            f"FGRN x{scale}. Budget, equal for every arm: `configs/{result['base']}.json` + "
            f"`{' '.join(result['budget'])}{extra}` "
            "(1200 steps, batch 8, HR patch 64 unless the arm says otherwise, the same HR pixels per step in every "
            "arm, one CPU thread per run). Seeds: "
            f"{', '.join(map(str, result['seeds']))}."
        ),
        "",
        (
            "| arm | adds | val PSNR (dB) | LR vs bicubic (dB, RGB) | F log-det / elem | exact | per seed PSNR "
            "| vs parent | adopted |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for arm, row in result["arms"].items():
        m = row["mean"]
        per_seed = " / ".join(f"{r['val_psnr']:.2f}" for r in row["seeds"].values())
        vs = f"{row['parent']}: {row['reason']}" if "reason" in row else "–"
        adopted = {True: "yes", False: "no"}.get(row.get("adopted"), "–")
        lines.append(
            f"| {arm} | {row['adds']} | {m['val_psnr']:.2f} | {m['val_lr_psnr_rgb']:.2f} | "
            f"{m['logdet']:+.3f} | {m['exact']:.2f} | {per_seed} | {vs} | {adopted} |"
        )
    if not result["arms"]:
        lines.append("| (no finished arm yet) | | | | | | | | |")
    lines += [
        "",
        (
            "Log-det and exact: means over the logged training records of the last 200 steps "
            "(`common.training_end`). Wall time and machine of each run: the JSON."
        ),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--train", action="store_true", help="train the missing runs first")
    parser.add_argument("--scale", type=int, default=4, choices=sorted(PARENTS))
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), help="arms to train (default: all at this scale)")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    args = parser.parse_args(argv)
    arms = args.arms or list(PARENTS[args.scale])
    if not set(arms) <= set(PARENTS[args.scale]):
        parser.error(f"at x{args.scale} the arms are {', '.join(PARENTS[args.scale])}")
    if args.train:
        for arm in arms:
            for seed in args.seeds:
                train(run_name(arm, seed, args.scale), BASE, overrides(arm, seed, args.scale), progress=False)
    result = report(scale=args.scale)
    write("recipe_ablation" if args.scale == 4 else f"recipe_ablation_x{args.scale}", result, markdown(result))
    return result


if __name__ == "__main__":
    main()
