"""Table 4 analogue: IRN's latent variable (paper Section 4.6) at x4 (the paper's) and x2.

``z``: IRN trained with z ~ N(0, 1) and tested with ``--draws`` Gaussian draws (default
5, the official setting). ``z0``: IRN retrained with z fixed to 0 and tested with z = 0.
We also test the ``z`` model with z = 0, which the paper does not report, and add
Bicubic & Bicubic for scale. Same budget for both (``configs/irn-x<scale>.json``).

The z model is run ``irn-x<scale>``; where that run is not in ``runs/`` (runs are not kept in
the repository), the shipped IRN of that scale is used if its card's training config is the
same config and seed (it is that run's final checkpoint), with the card's budget.

With ``--seed N`` (N > 0) both models train with training seed N, as runs ``irn-x<scale>-s<N>``
and ``irn-z0-x<scale>-s<N>``, and the table goes to ``table4[_x2]_seed<N>``.

``--recipe fast`` trains both with the generic parts of the sample-efficient recipe
(:data:`benchmarks.reproduce.recipe_ablation.GENERIC_RECIPE`: cosine schedule with warm-up,
EMA) on the same budget, as runs ``irn-x<scale>-fast`` and ``irn-z0-x<scale>-fast`` (no shipped
file stands in), reported in ``table4[_x2]_fast[_seed<N>]`` and judged by :data:`FAST_RULE`.

Usage::

    python -m benchmarks.reproduce.table4 [--scale {2,4}] [--train] [--draws N] [--seed N] [--recipe fast]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import description, markdown_table
from benchmarks.reproduce import paper
from benchmarks.reproduce.common import CONFIGS, budget, data_root, evaluate_run, final_weights, finished, seeded, train
from benchmarks.reproduce.recipe_ablation import GENERIC_RECIPE
from benchmarks.reproduce.report import budget_line, metric_table, seed_means, write
from flowkit.image import load, mod_crop
from flowkit.metrics import psnr
from flowkit.models import load_model
from flowkit.models.pretrained import model_card, weights_path
from flowkit.train.config import load_config

#: The margin (dB) of the fast-recipe rule, and the training seeds it averages over.
MARGIN, SEEDS = 0.10, (0, 1)
#: How the fast-recipe table is judged, fixed before its runs (2026-11-28, after the paper-recipe tables).
FAST_RULE = (
    "The paper's finding (IRN retrained with z fixed to 0 does as well as IRN with Gaussian z) is judged per "
    "evaluation set on the Y-PSNR averaged over training seeds 0 and 1, the z model tested with one Gaussian draw "
    f"per image (--draws 1): it is reproduced on a set when z0 is no more than {MARGIN:.2f} dB below z. Where z0 is "
    f"more than {MARGIN:.2f} dB above z, the table says so (z0 better, as with the paper's recipe at this budget). "
    "The table is read once both seeds are trained, and nothing is chosen from it."
)

#: Scales of one Gaussian draw of z tried on one image: does the z model need z's values or only their scale?
Z_SCALES = (0.0, 0.1, 0.5, 1.0, 2.0)


def z_scale_probe(weights, scale: int, image: str = "Set5/baby.png") -> dict[str, float]:
    """Y-PSNR of the z model's reconstruction of one image with one Gaussian draw of z times
    each of ``Z_SCALES``, and with a second, independent draw (``"1.0, another draw"``)."""
    net = load_model(weights, expect_model="irn", expect_scale=scale).eval()
    hr = mod_crop(load(data_root() / "eval" / image), scale)[None]
    torch.manual_seed(0)
    with torch.inference_mode():
        lr = net.downscale(hr)
        z = net.latent(lr, "gaussian")
        out = {f"{s:g}": psnr(net.upscale(lr, z=s * z), hr, crop_border=scale).item() for s in Z_SCALES}
        out["1.0, another draw"] = psnr(net.upscale(lr, z="gaussian"), hr, crop_border=scale).item()
    return out


def runs(scale: int, seed: int = 0, recipe: str = "paper") -> tuple[str, str, list[str]]:
    """``(z run, z0 run, overrides)`` at ``scale``, training seed ``seed`` and ``recipe``
    (``"paper"`` or ``"fast"``); both runs train with the overrides on top of
    ``configs/irn-x<scale>.json``, the z0 run with z fixed to 0 as well."""
    suffix = "-fast" if recipe == "fast" else ""
    z_run, seed_overrides = seeded(f"irn-x{scale}{suffix}", seed)
    z0_run = seeded(f"irn-z0-x{scale}{suffix}", seed)[0]
    return z_run, z0_run, (list(GENERIC_RECIPE) if recipe == "fast" else []) + seed_overrides


def z_model(scale: int, seed: int = 0, recipe: str = "paper") -> tuple[str, Path, dict[str, Any]] | None:
    """``(cache name, weights, budget)`` of the Gaussian-z IRN at ``scale``, training seed
    ``seed`` and ``recipe``: its run if finished, else (paper recipe only) the shipped IRN if
    it was trained with ``configs/irn-x<scale>.json`` and that seed. The shipped weights'
    evaluations are cached under their digest, so weights shipped later are not mistaken for them."""
    base = f"irn-x{scale}"
    name, _, overrides = runs(scale, seed, recipe)
    if finished(name):
        return name, final_weights(name), budget(name)
    if recipe != "paper":
        return None
    path = weights_path("irn", scale)
    if not path.is_file():
        return None
    card = model_card("irn", scale)
    training = card["training"]
    ours = json.loads(json.dumps(load_config(CONFIGS / f"{base}.json", overrides).to_dict()))
    theirs = training["config"]  # options added to the trainer after it was trained are not in it
    differ = sorted(k for k in theirs if k != "train_dirs" and ours.get(k) != theirs[k])
    if differ:
        print(
            f"the shipped IRN x{scale} is not run {name} (its config differs from configs/{base}.json"
            f"{' with seed ' + str(seed) if seed else ''} in {differ})"
        )
        return None
    print(f"{name} is not in runs/: using the shipped IRN x{scale} (its final checkpoint)")
    return f"shipped-irn-x{scale}-{card['sha256'][:8]}", path, training["budget"]


def stem(scale: int = 4, recipe: str = "paper", seed: int = 0) -> str:
    """The results file of a scale, recipe and training seed."""
    name = "table4" if scale == 4 else f"table4_x{scale}"
    return name + ("_fast" if recipe == "fast" else "") + (f"_seed{seed}" if seed else "")


def judge_fast(scale: int = 4) -> dict[str, dict[str, float | bool]] | None:
    """:data:`FAST_RULE` applied to the fast-recipe tables of :data:`SEEDS` at ``scale``,
    written as ``table4[_x2]_fast_judged``; None (nothing written) until both are."""
    means = seed_means([stem(scale, "fast", s) for s in SEEDS])
    if means is None:
        return None
    verdicts, rows = {}, []
    for set_name in paper.SETS:
        z, z0 = means["z"][set_name], means["z0"][set_name]
        v = {"z0_minus_z": z0 - z, "reproduced": z0 - z >= -MARGIN, "z0_better": z0 - z > MARGIN}
        verdicts[set_name] = v
        found = "yes, z0 better" if v["z0_better"] else "yes" if v["reproduced"] else "no"
        rows.append([set_name, f"{z:.2f}", f"{z0:.2f}", f"{z0 - z:+.2f}", found])
    text = (
        f"## Table 4 at x{scale}, the generic recipe: the rule applied\n\n"
        f"**Rule (fixed before the runs).** {FAST_RULE}\n\nY-PSNR (dB, crop {scale}, through the 8-bit LR), mean of "
        f"training seeds {' and '.join(map(str, SEEDS))}; Urban100 at half resolution:\n\n"
        f"{markdown_table(['set', 'z', 'z0', 'z0 − z', 'finding reproduced'], rows)}"
    )
    payload = {"rule": FAST_RULE, "seeds": list(SEEDS), "means": means, "verdicts": verdicts}
    write(stem(scale, "fast") + "_judged", payload, text)
    return verdicts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--scale", type=int, choices=(2, 4), default=4)
    parser.add_argument("--train", action="store_true")
    parser.add_argument(
        "--draws",
        type=int,
        default=None,
        help="Gaussian z draws averaged per image for the z model (default: 5, the official setting; 1 with "
        "--recipe fast, as its rule says)",
    )
    parser.add_argument("--seed", type=int, default=0, help="training seed (default: 0)")
    parser.add_argument("--recipe", choices=("paper", "fast"), default="paper")
    args = parser.parse_args(argv)
    s, base, fast = args.scale, f"irn-x{args.scale}", args.recipe == "fast"
    if args.draws is None:
        args.draws = 1 if fast else 5
    elif fast and args.draws != 1:
        parser.error("the fast recipe's rule tests the z model with one draw per image (--draws 1)")
    z_run_name, z0_run, overrides = runs(s, args.seed, args.recipe)
    gaussian = z_model(s, args.seed, args.recipe)
    if args.train:
        if gaussian is None:
            train(z_run_name, base, overrides)
            gaussian = z_model(s, args.seed, args.recipe)
        train(z0_run, base, ["model_config.z_mode=zero"] + overrides)
    if gaussian is None or not finished(z0_run):
        print(f"{z_run_name} and {z0_run} must both be trained (run with --train)")
        return

    z_run, z, z_budget = gaussian
    z0 = final_weights(z0_run)
    reports = {
        "z": evaluate_run(z_run, z, "irn", s, draws=args.draws),
        "z0": evaluate_run(z0_run, z0, "irn", s, draws=args.draws),
        "z-model, tested with z = 0": evaluate_run(z_run, z, "irn", s, z_mode="zero", draws=args.draws),
    }
    # the paper's Table 4 is at x4 only
    rows = [(k, r, paper.TABLE4.get(k) if s == 4 else None) for k, r in reports.items()]
    # for scale: at our budget IRN may not beat bicubic yet (the paper's Table 1 gives its number)
    rows.append(("Bicubic & Bicubic", evaluate_run(f"bicubic-x{s}", None, "bicubic", s), paper.TABLE1[("bicubic", s)]))
    budgets = {"z": z_budget, "z0": budget(z0_run)}
    shipped = (
        f" (the shipped IRN x{s}, run {z_run_name}'s final checkpoint; budget as its card records it)"
        if z_run.startswith("shipped")
        else ""
    )
    lines = "\n".join(f"- {k}{shipped if k == 'z' else ''}: {budget_line(b)}" for k, b in budgets.items())
    note = (
        f"PSNR / SSIM on Y, border crop {s}, through the 8-bit LR; the z model's z: {args.draws} Gaussian "
        "draw(s) averaged per image; z = 0 is deterministic. Urban100 here is half resolution."
    )
    seed = f", training seed {args.seed}" if args.seed else ""
    recipe = ", generic recipe (cosine schedule with warm-up, EMA)" if fast else ""
    rule = f"**Rule (fixed before the runs).** {FAST_RULE}\n\n" if fast else ""
    text = (
        f"## Table 4: IRN with z ~ N(0, 1) vs z = 0 at x{s}{recipe}{seed}\n\n{rule}{note}\n\n"
        f"{metric_table(rows, ('psnr', 'ssim'), (2, 4))}\n\nBudget:\n{lines}"
    )
    probe = z_scale_probe(z, s)
    text += (
        "\n\nThe z model on Set5 `baby` with one Gaussian draw of z scaled by each factor (Y-PSNR, dB):\n\n"
        "| z scale | "
        + " | ".join(probe)
        + " |\n|---|"
        + "---|" * len(probe)
        + "\n| PSNR | "
        + " | ".join(f"{v:.3f}" for v in probe.values())
        + " |"
    )
    write(stem(s, args.recipe, args.seed), {"reports": reports, "budgets": budgets, "z_scale_probe": probe}, text)
    if fast:
        judge_fast(s)


if __name__ == "__main__":
    main()
