"""Where FGRN's 8-bit round trip misses: on the first N held-out training images, the share of the
representation recovered exactly, how the missed entries miss, and the round-trip loss.

Usage::

    python -m benchmarks.reproduce.exact_misses [--images N] WEIGHTS

Per image set (the study's 10 validation images, centre-cropped as in training): ``exact`` (as
:meth:`~flowkit.models.FGRN.roundtrip_gap`), the share of missed entries that miss by one 8-bit
step, the share of missed entries in pixels whose LR F pushed outside [0, 1] (clipped by the
quantiser), the share of all entries in such pixels, and
:func:`~flowkit.models.fgrn.losses.roundtrip_loss` per image.
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.common import description
from benchmarks.reproduce.common import data_root
from flowkit.models import load_model
from flowkit.models.fgrn.losses import roundtrip_loss
from flowkit.train.data import find_images, split_holdout
from flowkit.train.validation import load_validation_images


def misses(model, images: list[torch.Tensor]) -> dict[str, float | list[float]]:
    """The figures above for FGRN ``model`` on ``images`` (each ``(3, H, W)``)."""
    model.eval()
    entries = missed = by_one = in_clipped = clipped = 0
    losses = []
    with torch.no_grad():
        for hr in images:
            x = model.representation(hr[None])
            lr, _ = model.flow(x)
            x_back, _ = model.flow.inverse(model.quantize(lr))
            x_back_q = model.quantize(x_back)
            miss = x_back_q != x
            clip = ((lr < 0) | (lr > 1)).any(1, keepdim=True).expand_as(miss)
            entries += miss.numel()
            missed += miss.sum().item()
            by_one += (miss & ((255 * (x_back_q - x)).abs().round() == 1)).sum().item()
            in_clipped += (miss & clip).sum().item()
            clipped += clip.sum().item()
            losses.append(roundtrip_loss(x_back, x).item())
    return {
        "exact": 1 - missed / entries,
        "missed_by_one_step": by_one / max(missed, 1),
        "missed_in_clipped_pixels": in_clipped / max(missed, 1),
        "entries_in_clipped_pixels": clipped / entries,
        "roundtrip_loss": losses,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("weights")
    parser.add_argument("--images", type=int, default=4, help="how many validation images (default 4)")
    args = parser.parse_args(argv)
    _, files = split_holdout(find_images([data_root() / "train"]), 10)
    model = load_model(args.weights)
    result = misses(model, load_validation_images(files[: args.images], model.scale))
    print(result)
    return result


if __name__ == "__main__":
    main()
