"""Validation PSNR of weights files on the study's held-out training images — the number the
trainer logs as ``val_psnr``, and the one used to choose between runs without touching an
evaluation set.

Usage::

    python -m benchmarks.reproduce.validate_weights WEIGHTS [WEIGHTS ...]

Each file is scored on the last 10 files of ``$FLOWKIT_DATA/train`` (the study's
``val_holdout``), centre-cropped as in training, through the 8-bit LR, with torch seeded 0
(IRN draws z).
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.reproduce.common import data_root
from flowkit.models import load_model
from flowkit.train.data import find_images, split_holdout
from flowkit.train.validation import load_validation_images, validate

HOLDOUT = 10


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", nargs="+")
    args = parser.parse_args(argv)
    _, files = split_holdout(find_images([data_root() / "train"]), HOLDOUT)
    out = {}
    for path in args.weights:
        model = load_model(path)
        torch.manual_seed(0)
        result = validate(model, load_validation_images(files, model.scale), torch.device("cpu"))
        out[path] = result["psnr"]
        print(
            f"{path}: {model.name} x{model.scale}, validation PSNR {out[path]:.2f} dB, "
            f"LR vs bicubic LR {result['lr_psnr_rgb']:.2f} dB (RGB)"
        )
    return out


if __name__ == "__main__":
    main()
