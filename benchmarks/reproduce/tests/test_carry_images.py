"""benchmarks.reproduce.carry_images: the training images a lent-GPU call carries, the trainer's held-out
validation images among them, within the room the working tree leaves, pixels unchanged."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.reproduce.carry_images import choose, main, working_tree_mib
from flowkit.train.data import find_images, split_holdout


def _folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for folder, count in (("A", 6), ("B", 5)):
        (root / folder).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (20 + 4 * i, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels if i % 2 else pixels[..., 0]).save(root / folder / f"{i}.png")  # RGB and L
    Image.fromarray(pixels).save(root / "B" / "4.jpg")  # beside 4.png: its own name, copied as it is
    return root


def test_the_held_out_images_are_carried_and_stay_the_last(tmp_path):
    files = [Path(f"{d}/{i}.png") for d in "AB" for i in range(5)]
    sizes = dict.fromkeys(files, 10)
    chosen = choose(files, sizes, holdout=3, budget=70)
    assert chosen[-3:] == files[-3:] and len(chosen) == 7 and chosen == sorted(chosen)
    assert choose(files, sizes, holdout=3, budget=1000) == files
    with pytest.raises(ValueError, match="held-out images alone take"):
        choose(files, sizes, holdout=3, budget=29)
    for root in (Path("/data/train"), Path("/elsewhere/x/train")):  # the same choice wherever the images lie
        moved = [root / p for p in files]
        assert [p.relative_to(root) for p in choose(moved, dict.fromkeys(moved, 10), 3, 70)] == chosen


def test_the_carried_folder_trains_with_the_same_validation_images_and_pixels(tmp_path):
    train = _folder(tmp_path / "data" / "train")
    total = sum(p.stat().st_size for p in find_images([train]))
    out = tmp_path / "carry"
    record = main([str(out), "--train-dir", str(train), "--budget", str(0.6 * total / 2**20), "--holdout", "3"])
    carried = find_images([out / "train"])
    assert 3 < len(carried) < 12 and record["images"] == f"{len(carried)} of 12"
    assert sum(p.stat().st_size for p in carried) <= 0.6 * total
    held_here = [p.relative_to(train) for p in split_holdout(find_images([train]), 3)[1]]
    assert [p.relative_to(out / "train") for p in split_holdout(carried, 3)[1]] == held_here
    assert out / "train" / "B" / "4.jpg" in carried  # held out: the last by path
    assert (out / "train" / "B" / "4.jpg").read_bytes() == (train / "B" / "4.jpg").read_bytes()
    for path in carried:
        with Image.open(path) as a, Image.open(train / path.relative_to(out / "train")) as b:
            assert a.mode == b.mode and np.array_equal(np.asarray(a), np.asarray(b))
    assert json.loads((out / "carried.json").read_text())["carried"] == [
        str(p.relative_to(out / "train")) for p in carried
    ]
    with pytest.raises(SystemExit):  # never into a folder that exists
        main([str(out), "--train-dir", str(train), "--budget", "1"])


def test_the_working_tree_is_measured_as_git_lists_it(tmp_path):
    assert working_tree_mib(tmp_path) is None  # not a git checkout
