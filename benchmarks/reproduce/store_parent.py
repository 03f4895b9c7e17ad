"""Store a continuation line's parent in float16 in the repository, so its children can start, and ship, on any
machine.

Usage::

    python -m benchmarks.reproduce.store_parent RUN

Writes run ``RUN``'s final weights (its newest checkpoint's EMA weights, or the weight average its folder
holds) as ``benchmarks/reproduce/parents/RUN.safetensors``, floating-point tensors in float16 as the
shipped files are stored, and beside it ``RUN.json``, the lineage record: the budget ledger behind those
weights as :func:`~benchmarks.reproduce.ship_weights.parent_lineage` reads it from the run folder
now, against the shipped card of its model (``shipped_sha256`` is that card's ``sha256``), keyed by the stored
tensors' digest. Run folders are not in the repository and do not outlive a machine; a committed parent
and its record do, and the next generation's configs name the file as ``init_weights``, so
:mod:`benchmarks.reproduce.ship_weights` can write a child's card after the run folder is gone. Nothing is
overwritten: a parent stored before records existed gets its record when its run folder still holds the
weights it stores (:func:`~benchmarks.reproduce.common.holds_last_weights`).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json

from benchmarks.common import description
from benchmarks.reproduce.common import (
    PARENT_DTYPE,
    RUNS,
    file_metadata,
    final_weights,
    has_weights,
    holds_last_weights,
    stored_parent,
)
from benchmarks.reproduce.ship_weights import SOURCES, parent_lineage
from flowkit.atomic import atomic_write
from flowkit.models import load_model, model_card, save_model
from flowkit.models.pretrained import weights_path


def lineage_record(run: str) -> dict:
    """The lineage record of run ``run``'s final weights, but their stored digest (``sha256``).

    Raises:
        ValueError: a run whose ledger is unknown (:func:`~benchmarks.reproduce.ship_weights.card_ledger`).
    """
    meta = file_metadata(final_weights(run))
    model, scale = meta["flowkit.model"], json.loads(meta["flowkit.config"])["scale"]
    card = model_card(model, scale) if weights_path(model, scale).with_suffix(".json").is_file() else None
    # the file holds (or is about to hold) the run's final weights: its lineage is read from the run folder
    sources = dataclasses.replace(SOURCES, stored=lambda name: name == run or SOURCES.stored(name))
    found = parent_lineage(run, card, sources)
    if found is None:
        raise ValueError(f"no checkpoint or weight average of run {run}: its ledger is unknown")
    lineage, started = found
    shipped = None if card is None else card["sha256"]
    return {"run": run, "shipped_sha256": shipped, "started_from": started, "ledger": lineage}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("run", help="the run folder's name under benchmarks/reproduce/runs/")
    args = parser.parse_args(argv)
    target = stored_parent(args.run)
    record_path = target.with_suffix(".json")
    if record_path.exists():
        parser.error(f"{record_path} exists; not overwritten")
    if target.exists() and not holds_last_weights(args.run):
        parser.error(f"{target} exists; not overwritten")
    if not has_weights(args.run):
        parser.error(f"no checkpoint or weight average of run {args.run} in {RUNS / args.run}")
    try:  # before anything is written: a run whose lineage is unknown stores nothing
        record = lineage_record(args.run)
    except ValueError as exc:
        parser.error(f"{args.run}: {exc}")
    if target.exists():
        digest = file_metadata(target)["flowkit.sha256"]
        print(f"{target} already holds the final weights of {args.run}; its lineage record is added")
    else:
        source = final_weights(args.run)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = save_model(load_model(source), target, dtype=PARENT_DTYPE)
        file_digest = hashlib.sha256(target.read_bytes()).hexdigest()
        print(f"stored {source.name} of {args.run} as {target} (sha256 {file_digest}; tensors {digest})")
    text = (json.dumps({"sha256": digest} | record, indent=1) + "\n").encode()
    atomic_write(record_path, lambda f: f.write(text))
    lines, started = len(record["ledger"]), record["started_from"]
    print(f"lineage record {record_path}: {lines} ledger lines; a child starts from {started}")


if __name__ == "__main__":
    main()
