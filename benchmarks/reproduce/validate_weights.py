"""Validation PSNR of weights files on the study's held-out training images — the number the
trainer logs as ``val_psnr``, and the one used to choose between runs without touching an
evaluation set.

Usage::

    python -m benchmarks.reproduce.validate_weights [--digits N] [--decide] WEIGHTS [WEIGHTS ...]

Each file is scored on the last 10 files of ``$FLOWKIT_DATA/train`` (the study's
``val_holdout``), centre-cropped as in training, through the 8-bit LR, with torch seeded 0
(IRN draws z). Each line also gives the same round trips' RGB PSNR (:func:`rgb_psnr`), the
LR fidelity (RGB PSNR of the 8-bit LR against the 8-bit bicubic LR) on those images with its
luma and colour parts (:func:`lr_luma_chroma`), and the Y-PSNR of the round trip of ``flowkit demo``'s
synthetic test card (:func:`flowkit.examples.sample_image.test_card`; not a photo, frequencies
far above the LR's Nyquist limit), an out-of-distribution guard for shipping rules. For FGRN it
also gives the fraction of the representation recovered exactly through the 8-bit LR on those
images (the mean of :meth:`~flowkit.models.FGRN.roundtrip_gap`'s ``exact``) and F's log-det per LR
element on them (:func:`flow_logdet`). Each line ends with
the mean PIQE of the 8-bit LRs of those images beside that of their 8-bit bicubic LRs (item 5's
"no worse than bicubic", read without an evaluation set), and, where NIQE's pristine model is
found (:func:`~flowkit.metrics.niqe.default_niqe_params`) and some held-out image is large
enough, the mean NIQE of the 8-bit LRs of the held-out images taken whole (not centre-cropped)
whose LR holds a 96-pixel NIQE block on each side, beside that of their bicubic LRs (at x2
nine of the ten images; at x4 none, and the column is left out). ``--digits``
sets the decimals printed (2 by default; the rule records give 4 as their unrounded figures).
A file named more than once is scored and printed once.
``--decide`` judges every file after the first against the first (the shipped file) by the
shipping rule of :mod:`benchmarks.reproduce.ship_rule` (its default thresholds, or those that
``--rule NAME=VALUE`` sets), on the figures as printed, and names the one that would ship. Beside
each judgement it reports, not as a clause of the rule, the per-image validation PSNR differences
from the first file (:func:`paired_difference`: their mean, its standard error over the images,
and how many images gained), so that a difference in the mean can be read against the spread of
the images.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from benchmarks.common import description
from benchmarks.reproduce.common import data_root
from benchmarks.reproduce.ship_rule import Score, choose, decide, parse_rule
from flowkit.examples.sample_image import test_card
from flowkit.image import bicubic_lr, load, mod_crop, rgb_to_ycbcr
from flowkit.metrics import niqe, piqe, psnr
from flowkit.metrics.niqe import BLOCK, default_niqe_params
from flowkit.models import RescalingModel, load_model
from flowkit.rescale import downscale_image, upscale_image
from flowkit.train.data import find_images, split_holdout
from flowkit.train.validation import load_validation_images, validate

HOLDOUT = 10


def test_card_psnr(model: RescalingModel) -> float:
    """Y-PSNR of ``model``'s 8-bit round trip of the demo's test card (border of the scale cropped)."""
    hr = mod_crop(test_card(), model.scale)
    torch.manual_seed(0)
    sr = upscale_image(model, downscale_image(model, hr), size=tuple(hr.shape[-2:]))
    return psnr(sr[None], hr[None], crop_border=model.scale).item()


def exact_fraction(model: RescalingModel, images: list[torch.Tensor]) -> float | None:
    """Mean over ``images`` of the fraction of FGRN's representation recovered exactly through its
    8-bit LR; None for a model without :meth:`~flowkit.models.FGRN.roundtrip_gap` (IRN, Bicubic)."""
    gap = getattr(model, "roundtrip_gap", None)
    if gap is None:
        return None
    model.eval()
    with torch.no_grad():
        return sum(gap(hr[None])["exact"].item() for hr in images) / len(images)


def flow_logdet(model: RescalingModel, images: list[torch.Tensor]) -> float | None:
    """Mean over ``images`` of the log-det of FGRN's flow F on the image's representation, per LR
    element (above 0: F expands); None for a model without F (IRN, Bicubic, FGRN's ablations)."""
    if getattr(model, "flow", None) is None:
        return None
    model.eval()
    total = 0.0
    with torch.no_grad():
        for hr in images:
            lr, logdet = model.flow(model.representation(hr[None]))
            total += logdet.item() / lr[0].numel()
    return total / len(images)


def rgb_psnr(samples: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], scale: int) -> float:
    """Mean RGB PSNR of the round trips in ``samples`` (``(hr, lr, sr)`` as :func:`validate` returns
    them; the scale's border cropped): the validation PSNR with colour counted."""
    return sum(psnr(sr[None], hr[None], crop_border=scale, y_channel=False).item() for hr, _, sr in samples) / len(
        samples
    )


def lr_luma_chroma(lrs: list[torch.Tensor], references: list[torch.Tensor]) -> tuple[float, float]:
    """How much of the LR's distance from the bicubic LR is luma and how much colour: the mean over
    the pairs of the Y-PSNR of each LR against its reference (:func:`~flowkit.metrics.psnr`; the
    references are the 8-bit bicubic LRs of :func:`bicubic_lrs`), and of the PSNR (peak 1) of the Cb
    and Cr of their difference (:func:`~flowkit.image.rgb_to_ycbcr`'s scale; the offset cancels)."""
    pairs = list(zip(lrs, references, strict=True))
    luma = [psnr(lr[None], ref[None]).item() for lr, ref in pairs]
    chroma = [
        -10 * torch.log10((rgb_to_ycbcr(lr.double()) - rgb_to_ycbcr(ref.double()))[1:].square().mean()).item()
        for lr, ref in pairs
    ]
    return sum(luma) / len(luma), sum(chroma) / len(chroma)


def lr_piqe(lrs: list[torch.Tensor]) -> float:
    """Mean PIQE of the LR images ``lrs`` (each ``(3, h, w)`` in [0, 1])."""
    return sum(piqe(lr).item() for lr in lrs) / len(lrs)


def bicubic_lrs(images: list[torch.Tensor], scale: int) -> list[torch.Tensor]:
    """The 8-bit bicubic LR of each HR image (:func:`~flowkit.image.bicubic_lr`), the LR columns' reference."""
    return [bicubic_lr(hr[None], scale)[0] for hr in images]


def whole_images(files: list[Path], scale: int) -> list[torch.Tensor]:
    """The held-out images whole (mod-cropped to the scale) whose LR is at least one NIQE block
    (96 pixels) on each side."""
    images = [mod_crop(load(path), scale) for path in files]
    return [hr for hr in images if min(hr.shape[-2:]) >= BLOCK * scale]


def lr_niqe(lrs: list[torch.Tensor]) -> float:
    """Mean NIQE of the LR images ``lrs`` (each ``(3, h, w)`` in [0, 1], at least 96 pixels a side)."""
    return sum(niqe(lr).item() for lr in lrs) / len(lrs)


def paired_difference(base: list[float], other: list[float]) -> tuple[float, float, int]:
    """Per-image differences ``other - base`` of two files' scores on the same images: their mean,
    the standard error of that mean (sample standard deviation over the square root of the
    count; NaN for one image) and how many are above zero.

    Raises:
        ValueError: the lists differ in length or are empty.
    """
    if len(base) != len(other) or not base:
        raise ValueError(f"need scores of the same images, not {len(base)} and {len(other)}")
    diffs = [b - a for a, b in zip(base, other, strict=True)]
    n = len(diffs)
    mean = sum(diffs) / n
    se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1) / n) if n > 1 else float("nan")
    return mean, se, sum(d > 0 for d in diffs)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("weights", nargs="+")
    parser.add_argument("--digits", type=int, default=2, help="decimals printed (default 2)")
    parser.add_argument(
        "--decide", action="store_true", help="judge each file after the first against the first by the shipping rule"
    )
    parser.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a threshold of the shipping rule other than its default, for --decide (repeatable): trade_ratio=4",
    )
    args = parser.parse_args(argv)
    if args.decide and len(args.weights) < 2:
        parser.error("--decide needs the shipped file and at least one candidate")
    if args.rule and not args.decide:
        parser.error("--rule needs --decide")
    try:
        rule = parse_rule(args.rule)
    except ValueError as error:
        parser.error(str(error))
    _, files = split_holdout(find_images([data_root() / "train"]), HOLDOUT)
    out: dict[str, float] = {}
    scores: dict[str, Score] = {}
    per_image: dict[str, tuple[int, list[float]]] = {}  # path -> (scale, each held-out image's PSNR)
    # per scale: the held-out crops' 8-bit bicubic LRs and their mean PIQE
    crop_reference: dict[int, tuple[list[torch.Tensor], float]] = {}
    # per scale: the whole held-out images NIQE can read and their bicubic LRs' mean NIQE (None: no such image)
    niqe_reference: dict[int, tuple[list[torch.Tensor], float] | None] = {}
    with_niqe = default_niqe_params() is not None
    d = args.digits
    for path in dict.fromkeys(args.weights):  # a file named twice is scored once
        model = load_model(path)
        torch.manual_seed(0)
        images = load_validation_images(files, model.scale)
        result = validate(model, images, torch.device("cpu"))
        out[path] = result["psnr"]
        per_image[path] = (model.scale, result["psnr_per_image"])
        exact = exact_fraction(model, images)
        logdet = flow_logdet(model, images)
        if model.scale not in crop_reference:
            bicubic = bicubic_lrs(images, model.scale)
            crop_reference[model.scale] = (bicubic, lr_piqe(bicubic))
        bicubic, bicubic_piqe = crop_reference[model.scale]
        lrs = [lr for _, lr, _ in result["samples"]]
        lr_score = lr_piqe(lrs)
        if with_niqe and model.scale not in niqe_reference:
            whole = whole_images(files, model.scale)
            niqe_reference[model.scale] = (whole, lr_niqe(bicubic_lrs(whole, model.scale))) if whole else None
        niqe_column, niqe_score = "", None
        if niqe_reference.get(model.scale):
            whole, reference = niqe_reference[model.scale]
            niqe_score = lr_niqe([downscale_image(model, hr) for hr in whole])
            niqe_column = f", LR NIQE {niqe_score:.{d}f} on {len(whole)} whole images (bicubic LR {reference:.{d}f})"
        card = test_card_psnr(model)
        rgb = rgb_psnr(result["samples"], model.scale)
        luma, chroma = lr_luma_chroma(lrs, bicubic)
        scores[path] = Score(
            *(round(v, d) for v in (out[path], result["lr_psnr_rgb"], card)),
            *(None if v is None else round(v, d) for v in (exact, niqe_score)),
        )
        print(
            f"{path}: {model.name} x{model.scale}, validation PSNR {out[path]:.{d}f} dB (RGB {rgb:.{d}f}), "
            f"LR vs bicubic LR {result['lr_psnr_rgb']:.{d}f} dB (RGB; its Y {luma:.{d}f}, CbCr {chroma:.{d}f}), "
            f"test card {card:.{d}f} dB"
            + ("" if exact is None else f", exact {exact:.{d}f}")
            + ("" if logdet is None else f", F log-det {logdet:+.{d}f} per LR element")
            + f", LR PIQE {lr_score:.{d}f} (bicubic LR {bicubic_piqe:.{d}f})"
            + niqe_column
        )
    if args.decide:
        shipped, *candidates = args.weights
        for path in candidates:
            print(f"{path} against {shipped}: {decide(scores[shipped], scores[path], rule).why}")
            (scale, values), (shipped_scale, shipped_values) = per_image[path], per_image[shipped]
            if scale == shipped_scale:  # the same held-out crops
                mean, se, up = paired_difference(shipped_values, values)
                print(
                    f"  per image (reported, not a clause): {mean:+.{d}f} dB, standard error {se:.{d}f} "
                    f"over {len(values)} images, {up} up"
                )
        winner = choose(scores[shipped], {path: scores[path] for path in candidates}, rule)
        print(f"ships: {winner}" if winner else "ships: none (the shipped file stays)")
    return out


if __name__ == "__main__":
    main()
