"""Average the weights of several checkpoints of one model into one weights file (a "model soup").

Usage::

    python -m benchmarks.reproduce.soup --out runs/NAME/NAME.safetensors WEIGHTS WEIGHTS... [--shares S S...]

Each ``WEIGHTS`` is a weights file or a training checkpoint (its EMA weights, as
:func:`~flowkit.models.load_model` reads them). Every floating-point tensor of the result is the
weighted mean, in float64, of that tensor over the inputs, stored in float32: each input counts with
its share (``--shares``, positive, summing to 1, one per input; equal shares by default, the uniform
soup). Two inputs with shares 1 − a and a give the point a of the way along the straight line from the
first network to the second. Every other tensor
must be equal in all inputs. The inputs must be one network: their configurations may differ only in
the fields that weigh training losses (:meth:`~flowkit.models.ModelConfig.architecture`), and the
result carries the first input's configuration. An average of
coupling-layer flows is a flow of the same architecture, so FGRN stays exactly invertible. The
file's metadata (``flowkit.soup``) lists each ingredient's path, digest and share, and a manifest beside
it (``NAME.json``) repeats them with each ingredient's training record (step, train config,
``train_seconds``, machine), so every run that went in is on record. Neither file is
overwritten.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import torch

from benchmarks.common import description
from benchmarks.reproduce.common import file_metadata
from flowkit.atomic import atomic_write
from flowkit.models import ModelFileError, RescalingModel, load_model, save_model
from flowkit.models.io import tensor_digest
from flowkit.train.checkpoint import FORMAT as CHECKPOINT_FORMAT
from flowkit.train.checkpoint import CheckpointError, load_checkpoint


def equal_shares(n: int) -> list[float]:
    """The shares of a uniform average of ``n`` inputs."""
    return [1 / n] * n


def average(models: list[RescalingModel], shares: list[float] | None = None) -> RescalingModel:
    """A copy of ``models[0]`` holding the weighted mean of every floating-point tensor of ``models``.

    Args:
        models: two or more models of one network.
        shares: each model's weight in the mean, positive and summing to 1 (within 1e-9); ``None``
            gives every model an equal share.

    Raises:
        ValueError: fewer than two models; shares that are not one positive number per model summing
            to 1; or models that differ in kind, in a configuration field other than a loss weight, or
            in a tensor that is not floating-point.
    """
    if len(models) < 2:
        raise ValueError("an average needs at least two models")
    if shares is None:
        shares = equal_shares(len(models))
    if len(shares) != len(models) or min(shares) <= 0 or abs(sum(shares) - 1) > 1e-9:
        raise ValueError(f"shares {shares} are not {len(models)} positive numbers summing to 1")
    first = models[0]
    for m in models[1:]:
        if (m.name, m.config.architecture()) != (first.name, first.config.architecture()):
            raise ValueError(f"cannot average {m.name} {m.config} with {first.name} {first.config}: not one network")
    states = [m.state_dict() for m in models]
    out = {}
    for key, value in states[0].items():
        tensors = [s[key] for s in states]  # one network: the same names and shapes in every input
        if value.is_floating_point():
            out[key] = sum(w * t.double() for w, t in zip(shares, tensors, strict=True)).to(value.dtype)
        elif any(not torch.equal(t, value) for t in tensors):
            raise ValueError(f"tensor {key} is not floating-point and differs between the inputs")
        else:
            out[key] = value
    soup = copy.deepcopy(first)
    soup.load_state_dict(out)
    return soup


def ingredient_record(path: Path, model: RescalingModel) -> dict:
    """What the manifest says about one input: its path, digest, and, for a training checkpoint
    (by its header), the training record beside it, verified.

    Raises:
        CheckpointError: a checkpoint whose record is missing or does not match its weights.
    """
    record: dict = {"path": str(path), "sha256": tensor_digest(model.state_dict())}
    if file_metadata(path).get("flowkit.format") != CHECKPOINT_FORMAT:
        return record  # a weights file: no training record
    info = load_checkpoint(path).info
    return record | {k: info.get(k) for k in ("step", "train_seconds", "machine", "train_config")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("weights", nargs="+", type=Path, help="two or more weights files or checkpoints")
    parser.add_argument("--out", type=Path, required=True, help="the weights file to write (must not exist)")
    parser.add_argument(
        "--shares", type=float, nargs="+", help="each input's share, positive, summing to 1 (default: equal)"
    )
    args = parser.parse_args(argv)
    manifest = args.out.with_suffix(".json")
    for target in (args.out, manifest):
        if target.exists():
            parser.error(f"{target} exists; not overwritten")
    if len(set(args.weights)) != len(args.weights):
        parser.error("an input is given twice")
    if args.out.resolve() in {p.resolve() for p in args.weights}:
        parser.error("--out is one of the inputs")
    try:
        models = [load_model(p) for p in args.weights]
        shares = args.shares or equal_shares(len(models))
        soup = average(models, shares)
        ingredients = [
            ingredient_record(p, m) | {"share": w} for p, m, w in zip(args.weights, models, shares, strict=True)
        ]
    except (ModelFileError, CheckpointError, ValueError) as exc:
        parser.error(str(exc))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    listing = json.dumps([{k: i[k] for k in ("path", "sha256", "share")} for i in ingredients])
    digest = save_model(soup, args.out, extra={"flowkit.soup": listing})
    text = (json.dumps({"sha256": digest, "ingredients": ingredients}, indent=1) + "\n").encode()
    atomic_write(manifest, lambda f: f.write(text))
    kind = "mean" if args.shares is None else "weighted mean (shares " + ", ".join(f"{w:g}" for w in shares) + ")"
    print(f"{args.out}: the {kind} of {len(models)} {soup.name} x{soup.scale} models, sha256 {digest[:12]}…")


if __name__ == "__main__":
    main()
