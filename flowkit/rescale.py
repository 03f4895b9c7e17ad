"""Rescaling image files with a model: what ``flowkit downscale`` and ``flowkit upscale`` do.

``downscale`` writes an 8-bit PNG whose text chunks record the model, the scale, the
original HR size and the weights, so that ``upscale`` can restore the exact size with
the same model. Images of any size are padded internally; large ones are processed
in overlapping tiles (:func:`flowkit.image.tiled`) so memory stays bounded.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from tqdm import tqdm

from flowkit.image.io import IMAGE_EXTENSIONS, ImageError, read_png_metadata
from flowkit.image.tiling import tiled
from flowkit.layers.quantize import quantize
from flowkit.models.base import RescalingModel, pad_to_multiple

__all__ = [
    "META_MODEL", "META_SCALE", "META_SIZE", "META_WEIGHTS", "AUTO_TILE_PIXELS",
    "downscale_image", "upscale_image", "plan", "Job", "run_jobs", "lr_metadata", "weights_id",
]

META_MODEL, META_SCALE, META_SIZE, META_WEIGHTS = "flowkit.model", "flowkit.scale", "flowkit.original_size", \
    "flowkit.weights"
#: Input images with more pixels than this are tiled even without ``--tile``.
AUTO_TILE_PIXELS = 2_000_000
DEFAULT_TILE = {"downscale": 512, "upscale": 192}
DEFAULT_OVERLAP = 32


def _tile_args(pixels: int, kind: str, tile: int | None, overlap: int | None) -> tuple[int, int] | None:
    if tile is None and pixels <= AUTO_TILE_PIXELS:
        return None
    tile = tile or DEFAULT_TILE[kind]
    return tile, min(DEFAULT_OVERLAP if overlap is None else overlap, tile // 2)


def compile_model(model: RescalingModel) -> RescalingModel:
    """Compile ``model.downscale`` and ``model.upscale`` with ``torch.compile``, in place.

    Worth it only for many images of one size: every new input shape (the tiled path's
    edge tiles too) compiles again, and the first call is slow (FGRN x4 on a 1 MP image,
    2 CPU cores: 38 s against 4.3 s, then 1.68x faster; docs: Performance). On CPU it
    needs a C++ compiler. Returns ``model``.
    """
    model.downscale, model.upscale = torch.compile(model.downscale), torch.compile(model.upscale)
    return model


@torch.inference_mode()
def downscale_image(model: RescalingModel, hr: Tensor, tile: int | None = None,
                    overlap: int | None = None) -> Tensor:
    """``(3, H, W) -> (3, ceil(H/s), ceil(W/s))`` on the 8-bit grid, tiled when large.

    ``tile`` and ``overlap`` are in HR pixels and are rounded down to multiples of the scale.

    Example:
        >>> import torch
        >>> from flowkit.models import build
        >>> bicubic = build("bicubic", 4)
        >>> lr = downscale_image(bicubic, torch.rand(3, 30, 41))
        >>> lr.shape, upscale_image(bicubic, lr, size=(30, 41)).shape
        (torch.Size([3, 8, 11]), torch.Size([3, 30, 41]))
    """
    s = model.scale
    x = pad_to_multiple(hr[None], s)
    args = _tile_args(hr.shape[-2] * hr.shape[-1], "downscale", tile, overlap)
    if args is None:
        return model.downscale(x)[0]
    t, o = (max(s, v - v % s) for v in args)
    o = min(o, t // 2 - (t // 2) % s)
    return quantize(tiled(model.downscale, x, tile=t, overlap=o, scale=1 / s))[0]


@torch.inference_mode()
def upscale_image(model: RescalingModel, lr: Tensor, size: tuple[int, int] | None = None,
                  tile: int | None = None, overlap: int | None = None) -> Tensor:
    """``(3, h, w) -> (3, s h, s w)``, cropped to ``size``; tiled when large (tile in LR pixels)."""
    s = model.scale
    args = _tile_args(lr.shape[-2] * lr.shape[-1] * s * s, "upscale", tile, overlap)
    if args is None:
        out = model.upscale(lr[None])
    else:
        out = tiled(model.upscale, lr[None], tile=args[0], overlap=args[1], scale=s)
    out = out[0].clamp(0, 1)
    return out if size is None else RescalingModel._crop(out, size)


def lr_metadata(path: Path) -> dict[str, str]:
    """The flowkit text chunks of an LR PNG (empty dict when there are none)."""
    meta = read_png_metadata(path)
    return {k: v for k, v in meta.items() if k.startswith("flowkit.")}


@dataclass
class Job:
    """One input file and where its result goes."""

    source: Path
    target: Path


def plan(inputs: Path, output: Path, suffix: str = ".png") -> list[Job]:
    """Pair inputs with outputs: a file to a file (or into an existing folder), or a folder's
    images into a folder (created). Outputs are PNG.

    Raises:
        ImageError: the input does not exist, or a folder has no image files.
    """
    inputs, output = Path(inputs), Path(output)
    if inputs.is_dir():
        files = sorted(p for p in inputs.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise ImageError(f"{inputs}: no image files ({', '.join(IMAGE_EXTENSIONS)})")
        if output.exists() and not output.is_dir():
            raise ImageError(f"{output}: exists and is not a folder (the input is a folder)")
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ImageError(f"{output}: cannot create output folder ({exc.strerror or exc})") from None
        return [Job(p, output / f"{p.stem}{suffix}") for p in files]
    if not inputs.exists():
        raise ImageError(f"{inputs}: no such file or folder")
    target = output / f"{inputs.stem}{suffix}" if output.is_dir() else output
    if target.suffix.lower() != ".png":
        raise ImageError(f"{target}: output must be a .png file (the LR must be stored losslessly)")
    return [Job(inputs, target)]


def run_jobs(jobs: list[Job], work: Callable[[Job], None], *, progress: bool = True, desc: str = "") -> int:
    """Run ``work`` on each job; a failing file prints one line on stderr and the others go on.

    Returns the number of failures.
    """
    failures = 0
    bar = tqdm(jobs, desc=desc, unit="img", disable=not progress or len(jobs) < 2, file=sys.stderr)
    for job in bar:
        try:
            work(job)
        except (ImageError, ValueError, OSError) as exc:
            failures += 1
            message = str(exc) if str(job.source) in str(exc) else f"{job.source}: {exc}"
            tqdm.write(f"flowkit: error: {message}", file=sys.stderr)
    return failures


def weights_id(path: str | os.PathLike | None, model: RescalingModel) -> str:
    """A short identifier of the weights in use, recorded in the LR metadata."""
    if path is None:
        return f"shipped:{model.name}-x{model.scale}" if model.name != "bicubic" else "none"
    return Path(path).name

