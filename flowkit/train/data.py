"""Training data: random HR patches with the 8 dihedral augmentations and their bicubic LR.

Every random draw of sample ``k`` comes from a generator seeded by ``(seed, k)``, so a
run's data is a pure function of the seed and the step: the same with any number of
DataLoader workers, and a resumed run sees exactly the samples the uninterrupted run
would have seen. :meth:`~flowkit.train.PatchDataset.batch` cuts a whole batch where the images are kept
(:meth:`~flowkit.train.PatchDataset.to` a GPU), with the same samples as the per-item path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from flowkit.image.bicubic import imresize
from flowkit.image.io import IMAGE_EXTENSIONS, ImageError, load

__all__ = ["find_images", "split_holdout", "PatchDataset", "StepSampler", "dihedral"]


def find_images(dirs: Sequence[str | os.PathLike]) -> list[Path]:
    """Image files under the given folders (recursively), sorted by path.

    Raises:
        ImageError: a folder is missing, or none holds images.
    """
    files: list[Path] = []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            raise ImageError(f"{d}: training folder not found")
        files += [p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if not files:
        raise ImageError(f"no training images in {[str(d) for d in dirs]}")
    return sorted(files)


def split_holdout(files: list[Path], holdout: int) -> tuple[list[Path], list[Path]]:
    """``(train, validation)``: the last ``holdout`` files are held out."""
    if holdout < 0 or holdout >= len(files):
        raise ValueError(f"val_holdout {holdout} must be in [0, {len(files) - 1}] for {len(files)} images")
    return (files[:-holdout], files[-holdout:]) if holdout else (files, [])


def dihedral(img: Tensor, k: int) -> Tensor:
    """The ``k``-th of the 8 symmetries of the square (``k`` in 0..7): ``k % 4`` quarter
    turns, then a horizontal flip if ``k >= 4``. Shapes: ``(..., H, W) -> (..., H', W')``."""
    out = torch.rot90(img, k % 4, dims=(-2, -1))
    return out.flip(-1) if k >= 4 else out


class PatchDataset(Dataset):
    """Sample ``k`` is a random ``patch_size`` HR crop of a random training image, under a
    random dihedral transform, with its MATLAB-bicubic LR (float, not quantised).

    Images are decoded once and kept in memory as uint8. Images smaller than the
    patch are skipped (with their count in ``skipped``).

    Args:
        files: image paths.
        patch_size: HR patch side.
        scale: downscaling factor for the LR.
        seed: the run's seed.
        length: number of samples the dataset claims to have (steps x batch).
        by_area: pick the image with probability proportional to its number of patch
            positions, ``(H - P + 1)(W - P + 1)``, so every HR pixel is about equally
            likely to be trained on (False: every image equally often).

    Returns (per item):
        ``(hr, lr)``: ``(3, P, P)`` and ``(3, P/s, P/s)`` float32 in [0, 1].

    :meth:`to` moves the decoded images to a device and :meth:`batch` then cuts a batch
    and its bicubic LR there: the same samples as ``__getitem__`` (bit for bit on the
    CPU), without DataLoader workers.
    """

    def __init__(
        self, files: Sequence[Path], patch_size: int, scale: int, seed: int, length: int, by_area: bool = False
    ) -> None:
        self.patch_size, self.scale, self.seed, self.length = patch_size, scale, seed, length
        self.images: list[Tensor] = []
        self.skipped = 0
        for path in files:
            img = load(path)
            if min(img.shape[-2:]) < patch_size:
                self.skipped += 1
                continue
            self.images.append(torch.round(img * 255).to(torch.uint8))
        if not self.images:
            raise ImageError(f"no training image is at least {patch_size}x{patch_size}")
        positions = [(img.shape[-2] - patch_size + 1) * (img.shape[-1] - patch_size + 1) for img in self.images]
        self.weights = torch.tensor(positions, dtype=torch.float64) if by_area else None

    def __len__(self) -> int:
        return self.length

    def _patch(self, k: int) -> Tensor:
        """Sample ``k``'s HR patch, ``(3, P, P)`` uint8 on the images' device."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + int(k))
        if self.weights is None:
            index = int(torch.randint(len(self.images), (1,), generator=gen))
        else:
            index = int(torch.multinomial(self.weights, 1, generator=gen))
        img = self.images[index]
        h, w = img.shape[-2:]
        p = self.patch_size
        top = int(torch.randint(h - p + 1, (1,), generator=gen))
        left = int(torch.randint(w - p + 1, (1,), generator=gen))
        return dihedral(img[:, top : top + p, left : left + p], int(torch.randint(8, (1,), generator=gen)))

    def __getitem__(self, k: int) -> tuple[Tensor, Tensor]:
        hr = (self._patch(k).float() / 255).contiguous()
        return hr, imresize(hr, 1 / self.scale)

    def to(self, device: torch.device | str) -> PatchDataset:
        """Keep the decoded images (uint8) on ``device``, where :meth:`batch` cuts patches; returns self."""
        self.images = [img.to(device) for img in self.images]
        return self

    def batch(self, ks: Sequence[int]) -> tuple[Tensor, Tensor]:
        """Samples ``ks`` as one batch, ``(B, 3, P, P)`` and ``(B, 3, P/s, P/s)`` float32,
        cut and resized on the images' device (the same values as stacking ``self[k]``)."""
        hr = torch.stack([self._patch(k) for k in ks]).float() / 255
        return hr, imresize(hr, 1 / self.scale)


class StepSampler(Sampler[int]):
    """Sample indices for steps ``start, start + 1, ...``: at step ``t`` process ``rank`` of
    ``world`` takes the samples ``t B + rank B/world ... t B + (rank+1) B/world - 1`` of
    the global batch ``B``. Yields ``(steps - start) * B / world`` indices."""

    def __init__(self, start_step: int, steps: int, batch_size: int, rank: int = 0, world: int = 1) -> None:
        if batch_size % world:
            raise ValueError(f"batch_size {batch_size} must be divisible by the {world} processes")
        self.start, self.steps, self.batch, self.rank, self.world = start_step, steps, batch_size, rank, world

    def __len__(self) -> int:
        return (self.steps - self.start) * self.batch // self.world

    def __iter__(self) -> Iterator[int]:
        per = self.batch // self.world
        for t in range(self.start, self.steps):
            base = t * self.batch + self.rank * per
            yield from range(base, base + per)
