"""Training data: deterministic patches, dihedral augmentation, bicubic LR, per-rank sampling."""

import pytest
import torch
from torch.utils.data import DataLoader

from flowkit.image import ImageError, imresize, save_png
from flowkit.train.data import PatchDataset, StepSampler, dihedral, find_images, split_holdout


@pytest.fixture()
def image_dir(tmp_path):
    gen = torch.Generator().manual_seed(0)
    (tmp_path / "sub").mkdir()
    for i in range(4):
        save_png(tmp_path / ("sub" if i % 2 else ".") / f"im{i}.png", torch.rand(3, 40 + i, 50, generator=gen))
    save_png(tmp_path / "tiny.png", torch.rand(3, 10, 10, generator=gen))
    (tmp_path / "readme.txt").write_text("not an image")
    return tmp_path


def test_find_images_recursive_and_sorted(image_dir):
    names = [p.relative_to(image_dir).as_posix() for p in find_images([image_dir])]
    assert names == ["im0.png", "im2.png", "sub/im1.png", "sub/im3.png", "tiny.png"]
    with pytest.raises(ImageError, match="training folder not found"):
        find_images([image_dir / "missing"])


def test_split_holdout(image_dir):
    files = find_images([image_dir])
    train, val = split_holdout(files, 2)
    assert train == files[:3] and val == files[3:]
    with pytest.raises(ValueError, match="val_holdout"):
        split_holdout(files, 5)


def test_patches_are_deterministic_and_worker_independent(image_dir):
    ds = PatchDataset(find_images([image_dir]), patch_size=16, scale=4, seed=7, length=64)
    assert ds.skipped == 1  # tiny.png is smaller than the patch
    hr, lr = ds[5]
    assert hr.shape == (3, 16, 16) and lr.shape == (3, 4, 4)
    torch.testing.assert_close(lr, imresize(hr, 0.25))
    again = PatchDataset(find_images([image_dir]), patch_size=16, scale=4, seed=7, length=64)
    assert torch.equal(again[5][0], hr)
    other_seed = PatchDataset(find_images([image_dir]), patch_size=16, scale=4, seed=8, length=64)
    assert not torch.equal(other_seed[5][0], hr)
    serial = torch.cat([b[0] for b in DataLoader(ds, batch_size=8, num_workers=0)])
    parallel = torch.cat([b[0] for b in DataLoader(ds, batch_size=8, num_workers=2)])
    assert torch.equal(serial, parallel)


@pytest.mark.parametrize("by_area", [False, True])
def test_a_batch_cut_where_the_images_are_equals_the_stacked_items(image_dir, by_area):
    ds = PatchDataset(find_images([image_dir]), patch_size=16, scale=4, seed=3, length=64, by_area=by_area)
    ks = [0, 9, 17, 33, 34, 63]
    items = [ds[k] for k in ks]
    hr, lr = ds.to("cpu").batch(ks)
    assert hr.shape == (6, 3, 16, 16) and lr.shape == (6, 3, 4, 4) and hr.dtype == lr.dtype == torch.float32
    assert torch.equal(hr, torch.stack([h for h, _ in items]))
    assert torch.equal(lr, torch.stack([low for _, low in items]))
    assert hr.is_contiguous() and ds[9][0].is_contiguous()


def test_dihedral_group():
    x = torch.arange(6.0).view(1, 2, 3)
    outs = [dihedral(x, k) for k in range(8)]
    assert len({tuple(o.flatten().tolist()) + tuple(o.shape) for o in outs}) == 8
    assert torch.equal(outs[0], x)


def test_step_sampler_partitions_batches_between_ranks():
    single = list(StepSampler(2, 4, 6))
    assert single == list(range(12, 24))
    ranks = [list(StepSampler(2, 4, 6, rank=r, world=2)) for r in range(2)]
    assert ranks[0] == [12, 13, 14, 18, 19, 20] and ranks[1] == [15, 16, 17, 21, 22, 23]
    with pytest.raises(ValueError, match="divisible"):
        StepSampler(0, 1, 5, world=2)


def test_sampling_by_area_follows_patch_positions(tmp_path):
    save_png(tmp_path / "big.png", torch.full((3, 16 + 29, 16 + 29), 0.2))  # 30 x 30 = 900 positions
    save_png(tmp_path / "small.png", torch.full((3, 16 + 9, 16 + 2), 0.8))  # 10 x 3 = 30 positions
    files = find_images([tmp_path])

    def share_of_small(by_area):
        ds = PatchDataset(files, patch_size=16, scale=4, seed=0, length=1500, by_area=by_area)
        return sum(float(ds[k][0].mean()) > 0.5 for k in range(len(ds))) / len(ds)

    assert share_of_small(False) == pytest.approx(0.5, abs=0.04)
    assert share_of_small(True) == pytest.approx(30 / 930, abs=0.015)
    assert PatchDataset(files, patch_size=16, scale=4, seed=0, length=8, by_area=True).weights.tolist() == [900, 30]
