"""Store a continuation line's parent in float16 in the repository, so its children can start on any machine.

Usage::

    python -m benchmarks.reproduce.store_parent RUN

Writes run ``RUN``'s final weights (its newest checkpoint's EMA weights, or the weight average its folder
holds) as ``benchmarks/reproduce/parents/RUN.safetensors``, floating-point tensors in float16 as the
shipped files are stored, and prints the file's sha256 and its tensors' digest. Run folders are not in the
repository and do not outlive a machine; a committed parent does, and the next generation's configs name
it as ``init_weights``. The file is never overwritten. :func:`holds_last_weights` is the check
:mod:`benchmarks.reproduce.ship_weights` makes before it ledgers a run started from such a file as a
continuation of ``RUN``.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import torch

from benchmarks.common import description
from benchmarks.reproduce.common import RUNS, STORED_PARENTS, average_manifest, file_metadata, final_weights
from flowkit.models import load_model, save_model
from flowkit.models.io import stored_tensors, tensor_digest
from flowkit.train.checkpoint import latest_checkpoint

#: The dtype a parent is stored in (the shipped files' storage: issue 25 measured float16 within 0.01 dB).
DTYPE = torch.float16


def stored_path(run: str) -> Path:
    """Where run ``run``'s parent file is stored."""
    return STORED_PARENTS / f"{run}.safetensors"


def has_weights(run: str) -> bool:
    """Whether run folder ``run`` holds a checkpoint or a weight average to store."""
    return average_manifest(run) is not None or latest_checkpoint(RUNS / run / "checkpoints") is not None


def stored_digest(run: str) -> str:
    """The tensor digest (:func:`~flowkit.models.io.tensor_digest`) of run ``run``'s final weights in
    :data:`DTYPE`."""
    return tensor_digest(stored_tensors(load_model(final_weights(run)), DTYPE))


def holds_last_weights(run: str) -> bool:
    """Whether ``parents/RUN.safetensors`` holds run ``run``'s final weights in :data:`DTYPE` (their tensor
    digests agree); False when the file or the run folder is absent."""
    path = stored_path(run)
    if not path.is_file() or not has_weights(run):
        return False
    return file_metadata(path).get("flowkit.sha256") == stored_digest(run)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("run", help="the run folder's name under benchmarks/reproduce/runs/")
    args = parser.parse_args(argv)
    target = stored_path(args.run)
    if target.exists():
        parser.error(f"{target} exists; not overwritten")
    if not has_weights(args.run):
        parser.error(f"no checkpoint or weight average of run {args.run} in {RUNS / args.run}")
    source = final_weights(args.run)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = save_model(load_model(source), target, dtype=DTYPE)
    file_digest = hashlib.sha256(target.read_bytes()).hexdigest()
    print(f"stored {source.name} of {args.run} as {target} (sha256 {file_digest}; tensors {digest})")


if __name__ == "__main__":
    main()
