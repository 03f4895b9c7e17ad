"""Evaluation sets: HR images from a folder, mod-cropped, with their bicubic LR."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from flowkit.image.bicubic import bicubic_lr, imresize
from flowkit.image.io import IMAGE_EXTENSIONS, ImageError, load

__all__ = ["DATA_ENV", "data_folder", "mod_crop", "list_images", "EvalImage", "EvalSet"]

#: The environment variable naming the data folder (``train/``, ``eval/<set>/``, ``niqe/``;
#: docs: Data set-up).
DATA_ENV = "FLOWKIT_DATA"


def data_folder(part: str, what: str) -> Path:
    """``$FLOWKIT_DATA/<part>``: the default for a path the user did not give.

    Args:
        part: the sub-folder (``"train"``, ``"eval"``).
        what: the option the folder stands in for, named in the error (e.g. ``"--data"``).

    Raises:
        ValueError: ``FLOWKIT_DATA`` is not set, or the folder does not exist.
    """
    root = os.environ.get(DATA_ENV)
    if not root:
        raise ValueError(f"no {what} given and {DATA_ENV} is not set (docs: Data set-up)")
    folder = Path(root) / part
    if not folder.is_dir():
        raise ValueError(f"no {what} given and {folder} ({DATA_ENV}/{part}) is not a folder")
    return folder


def mod_crop(img: Tensor, scale: int) -> Tensor:
    """Crop the bottom/right edge so that H and W are multiples of ``scale`` (``(..., H, W)``).

    Example:
        >>> import torch
        >>> mod_crop(torch.zeros(3, 10, 13), 4).shape
        torch.Size([3, 8, 12])
    """
    h, w = img.shape[-2:]
    return img[..., : h - h % scale, : w - w % scale]


def list_images(directory: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``directory`` (by extension), sorted by name.

    Raises:
        ImageError: ``directory`` does not exist or holds no images.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ImageError(f"{directory}: not a directory")
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ImageError(f"{directory}: no image files ({', '.join(IMAGE_EXTENSIONS)})")
    return files


@dataclass(frozen=True)
class EvalImage:
    """One evaluation pair: ``hr`` is ``(3, H, W)`` with H, W multiples of the scale,
    ``lr`` is ``(3, H/s, W/s)``, the MATLAB-bicubic downscale of ``hr``."""

    name: str
    hr: Tensor
    lr: Tensor


class EvalSet:
    """An evaluation set folder (e.g. ``.../eval/Set5``) at a given scale.

    Each image is loaded as RGB, mod-cropped to a multiple of ``scale``, and paired
    with its bicubic LR ``imresize(hr, 1/scale)``, rounded to 8-bit levels when
    ``quantize_lr`` (the LR a benchmark would store as a file).

    Args:
        directory: folder of HR images.
        scale: integer downscaling factor.
        quantize_lr: round the LR to 8-bit levels.
        name: set name for reports (default: the folder name).

    Example:
        >>> import tempfile, torch
        >>> from flowkit.image import save_png
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save_png(f"{d}/a.png", torch.rand(3, 10, 13))
        ...     [(im.name, tuple(im.hr.shape), tuple(im.lr.shape)) for im in EvalSet(d, 4)]
        [('a', (3, 8, 12), (3, 2, 3))]
    """

    def __init__(
        self, directory: str | os.PathLike, scale: int, *, quantize_lr: bool = True, name: str | None = None
    ) -> None:
        if int(scale) != scale or scale < 1:
            raise ValueError(f"EvalSet: scale must be a positive integer, got {scale}")
        self.directory = Path(directory)
        self.scale = int(scale)
        self.quantize_lr = quantize_lr
        self.files = list_images(self.directory)
        self.name = name or self.directory.name

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[EvalImage]:
        for path in self.files:
            yield self.load(path)

    def load(self, path: Path) -> EvalImage:
        """Load one file of the set as an :class:`EvalImage` (float64)."""
        hr = mod_crop(load(path, dtype=torch.float64), self.scale)
        if min(hr.shape[-2:]) < self.scale:
            raise ImageError(f"{path}: {tuple(hr.shape[-2:])} is smaller than the scale {self.scale}")
        lr = bicubic_lr(hr, self.scale) if self.quantize_lr else imresize(hr, 1 / self.scale)
        return EvalImage(path.stem, hr, lr)
