"""The training images a lent-GPU call can carry beside the working tree.

Usage::

    python -m benchmarks.reproduce.carry_images OUT [--train-dir DIR] [--budget MIB] [--holdout 10]

A lent-GPU call carries the repository's working tree (git's tracked and untracked-not-ignored files)
and the paths named in its ``carry``, 64 MiB in all, and the machine cannot read ``../shared/``. This
writes ``OUT/train/``, the subset of the training images that fits the room the working tree leaves
(``--budget``, by default 64 MiB less the tree and a 1 MiB margin), for ``FLOWKIT_DATA=OUT`` there:

* the ``--holdout`` validation images the trainer holds out of the whole set (the last by path, as
  :func:`flowkit.train.data.split_holdout` takes them) are always carried, and stay the last by path;
* then every other image that still fits, in an order fixed by a hash of its path, so that each
  folder is sampled alike;
* each keeps its path below the training folder (so the path order, and with it the held-out images,
  is the same there); a PNG is re-encoded at Pillow's highest compression, its pixels checked equal
  to the original's, any other file is copied as it is.

OUT must be a new folder that git ignores (``.git/info/exclude``) and the call names in ``carry``;
remove it after the call. ``OUT/carried.json`` lists the carried images, relative to the training
folder, and the sizes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
from pathlib import Path

import numpy as np

from benchmarks.common import REPO, description
from benchmarks.reproduce.common import data_root
from flowkit.atomic import atomic_write
from flowkit.train.data import find_images, split_holdout

CALL_MIB = 64.0  # what a lent-GPU call carries, the working tree included


def working_tree_mib(root: Path = REPO) -> float | None:
    """The size in MiB of what a lent-GPU call carries of the checkout at ``root``: git's tracked and
    untracked-not-ignored files; None when ``root`` is not a git checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root, capture_output=True
    )
    if listed.returncode != 0:
        return None
    files = [root / name for name in listed.stdout.decode().split("\0") if name]
    return sum(path.stat().st_size for path in files if path.is_file()) / 2**20


def smallest_png(path: Path) -> bytes:
    """``path``'s image as a PNG at the highest compression, its pixels and mode checked equal to the file's."""
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        buffer = io.BytesIO()
        im.save(buffer, format="PNG", optimize=True, compress_level=9)
        with Image.open(io.BytesIO(buffer.getvalue())) as back:
            if back.mode != im.mode or not np.array_equal(np.asarray(back), np.asarray(im)):
                raise ValueError(f"{path}: the re-encoded PNG's pixels differ")
    return buffer.getvalue()


def choose(files: list[Path], sizes: dict[Path, int], holdout: int, budget: int) -> list[Path]:
    """The held-out files, then every other file that still fits ``budget`` bytes, taken in an order
    fixed by a hash of each path below the files' common folder (so every folder is sampled alike,
    wherever the images lie); returned in path order.

    >>> f = [Path(n) for n in "abcdef"]
    >>> [p.name for p in choose(f, dict(zip(f, [5, 4, 3, 2, 1, 9])), holdout=1, budget=15)]
    ['c', 'd', 'e', 'f']
    """
    train, held = split_holdout(files, holdout)
    used = sum(sizes[p] for p in held)
    if used > budget:
        raise ValueError(f"the {holdout} held-out images alone take {used / 2**20:.1f} MiB, over the budget")
    chosen = []
    root = Path(os.path.commonpath(files)) if len(files) > 1 else Path()
    for path in sorted(train, key=lambda p: hashlib.sha256(p.relative_to(root).as_posix().encode()).hexdigest()):
        if used + sizes[path] <= budget:
            chosen.append(path)
            used += sizes[path]
    return sorted(chosen) + held


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("out", type=Path, help="a new folder that git ignores")
    parser.add_argument("--train-dir", type=Path, help="default: $FLOWKIT_DATA/train or ../shared/data/train")
    parser.add_argument("--budget", type=float, help="MiB for the images (default: 64 less the tree, less 1)")
    parser.add_argument("--holdout", type=int, default=10, help="the trainer's val_holdout (default: 10)")
    args = parser.parse_args(argv)
    train_dir = args.train_dir or data_root() / "train"
    if args.out.exists():
        parser.error(f"{args.out} exists: give a new folder")
    budget = args.budget
    if budget is None:
        tree = working_tree_mib()
        if tree is None:
            parser.error("not a git checkout: give --budget")
        budget = CALL_MIB - tree - 1.0
    files = find_images([train_dir])
    encoded = {path: smallest_png(path) if path.suffix.lower() == ".png" else path.read_bytes() for path in files}
    chosen = choose(files, {p: len(b) for p, b in encoded.items()}, args.holdout, int(budget * 2**20))
    for path in chosen:
        target = args.out / "train" / path.relative_to(train_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, lambda f, data=encoded[path]: f.write(data))
    record = {
        "train_dir": str(train_dir),
        "carried": [str(p.relative_to(train_dir)) for p in chosen],
        "held_out": [str(p.relative_to(train_dir)) for p in split_holdout(files, args.holdout)[1]],
        "images": f"{len(chosen)} of {len(files)}",
        "mib": round(sum(len(encoded[p]) for p in chosen) / 2**20, 2),
        "budget_mib": round(budget, 2),
    }
    atomic_write(args.out / "carried.json", lambda f: f.write(json.dumps(record, indent=1).encode()))
    print(f"{record['images']} training images, {record['mib']} MiB of {record['budget_mib']}, in {args.out}/train")
    return record


if __name__ == "__main__":
    main()
