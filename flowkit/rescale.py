"""Rescaling image files with a model: what ``flowkit downscale`` and ``flowkit upscale`` do.

``downscale`` writes an 8-bit PNG whose text chunks record the model, the scale, the
original HR size and the weights, so that ``upscale`` can restore the exact size with
the same model. Images of any size are padded internally; large ones are processed
in overlapping tiles (:func:`flowkit.image.tiled`) so memory stays bounded.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import torch
from torch import Tensor
from tqdm import tqdm

from flowkit.atomic import remove_stale_temp_files
from flowkit.image.io import IMAGE_EXTENSIONS, ImageError, read_png_metadata
from flowkit.image.tiling import tiled
from flowkit.layers.quantize import quantize
from flowkit.models.base import RescalingModel, pad_to_multiple
from flowkit.models.fgrn import FGRN, search_lr

__all__ = [
    "META_MODEL",
    "META_SCALE",
    "META_SIZE",
    "META_WEIGHTS",
    "META_SEARCH",
    "AUTO_TILE_PIXELS",
    "downscale_image",
    "search_downscale_image",
    "upscale_image",
    "plan",
    "Job",
    "EXISTING",
    "Existing",
    "run_jobs",
    "lr_metadata",
    "weights_id",
    "check_tiles",
    "check_workers",
    "compile_model",
]

META_MODEL, META_SCALE, META_SIZE, META_WEIGHTS = (
    "flowkit.model",
    "flowkit.scale",
    "flowkit.original_size",
    "flowkit.weights",
)
#: The PNG text chunk of an LR from :func:`search_downscale_image`: the search's steps.
META_SEARCH = "flowkit.search_steps"
#: Input images with more pixels than this are tiled even without ``--tile``.
AUTO_TILE_PIXELS = 2_000_000
DEFAULT_TILE = {"downscale": 512, "upscale": 192}
DEFAULT_OVERLAP = 32


def check_tiles(tile: int | None, overlap: int | None) -> None:
    """Refuse a tile below 1 pixel or a negative overlap (``None``: the automatic default).

    Raises:
        ValueError: naming the bad value.
    """
    if tile is not None and tile < 1:
        raise ValueError(f"tile must be at least 1 pixel, got {tile}")
    if overlap is not None and overlap < 0:
        raise ValueError(f"overlap must be 0 or more pixels, got {overlap}")


def check_workers(workers: int, name: str = "workers") -> None:
    """Refuse a negative number of reader/writer threads (``name``: the option, in the message).

    Raises:
        ValueError: naming the bad value.
    """
    if workers < 0:
        raise ValueError(f"{name} must be 0 or more, got {workers}")


def _tile_args(pixels: int, kind: str, tile: int | None, overlap: int | None) -> tuple[int, int] | None:
    check_tiles(tile, overlap)
    if tile is None and pixels <= AUTO_TILE_PIXELS:
        return None
    tile = tile or DEFAULT_TILE[kind]
    return tile, min(DEFAULT_OVERLAP if overlap is None else overlap, tile // 2)


def compile_model(model: RescalingModel) -> RescalingModel:
    """Compile ``model.downscale`` and ``model.upscale`` with ``torch.compile``, in place.

    Worth it only for many images of one size: every new input shape (the tiled path's
    edge tiles too) compiles again, and the first call is many times slower than an eager
    one (the Performance page of the docs gives measured times). On CPU it needs a C++
    compiler. Returns ``model``.
    """
    model.downscale, model.upscale = torch.compile(model.downscale), torch.compile(model.upscale)
    return model


@torch.inference_mode()
def downscale_image(model: RescalingModel, hr: Tensor, tile: int | None = None, overlap: int | None = None) -> Tensor:
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
def search_downscale_image(model: RescalingModel, hr: Tensor, steps: int) -> Tensor:
    """``(3, H, W) -> (3, ceil(H/s), ceil(W/s))``: :func:`downscale_image` with the LR's rounding
    searched for ``steps`` steps (:func:`~flowkit.models.fgrn.search.search_lr`), an LR that the
    same model's upscale reconstructs at least as well. FGRN only, and never tiled: every step
    upscales the whole image.

    Raises:
        ValueError: ``model`` is not an FGRN, or ``hr`` has more than :data:`AUTO_TILE_PIXELS` pixels.
    """
    if not isinstance(model, FGRN):
        raise ValueError(f"the LR search applies to FGRN only, not {model.name}")
    h, w = hr.shape[-2:]
    if h * w > AUTO_TILE_PIXELS:
        raise ValueError(
            f"{h}x{w} is too large for the LR search (at most {AUTO_TILE_PIXELS:,} pixels: every step "
            "upscales the whole image); downscale it without the search"
        )
    return search_lr(model, pad_to_multiple(hr[None], model.scale), steps)[0]


@torch.inference_mode()
def upscale_image(
    model: RescalingModel,
    lr: Tensor,
    size: tuple[int, int] | None = None,
    tile: int | None = None,
    overlap: int | None = None,
) -> Tensor:
    """``(3, h, w) -> (3, s h, s w)``, cropped to ``size``; tiled when large (tile in LR pixels)."""
    s = model.scale
    args = _tile_args(lr.shape[-2] * lr.shape[-1] * s * s, "upscale", tile, overlap)
    if args is None:
        out = model.upscale(lr[None])
    else:
        out = tiled(model.upscale, lr[None], tile=args[0], overlap=args[1], scale=s)
    out = out[0].clamp(0, 1)
    return out if size is None else RescalingModel.crop(out, size)


def lr_metadata(path: Path) -> dict[str, str]:
    """The flowkit text chunks of an LR PNG (empty dict when there are none)."""
    meta = read_png_metadata(path)
    return {k: v for k, v in meta.items() if k.startswith("flowkit.")}


@dataclass
class Job:
    """One input file and where its result goes; ``skip``: the output exists and is kept."""

    source: Path
    target: Path
    skip: bool = False


#: What :func:`plan` does with an output file that already exists.
Existing = Literal["refuse", "skip", "overwrite"]
EXISTING: tuple[str, ...] = get_args(Existing)


def _identity(path: Path) -> tuple:
    """What makes two paths one file: device and inode when it exists (catching hard
    links), else the resolved path (catching ``./``, ``..`` and symbolic links)."""
    try:
        st = path.stat()
    except OSError:
        return ("path", path.resolve())
    return ("inode", st.st_dev, st.st_ino)


def _collisions(jobs: list[Job]) -> list[str]:
    """Groups of inputs that would write one output (names compared case-insensitively,
    as on macOS and Windows file systems)."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.target.name.casefold(), []).append(job)
    return [
        f"{', '.join(j.source.name for j in group)} -> {group[0].target.name}"
        for group in groups.values()
        if len(group) > 1
    ]


def _listing(paths: list[Path], most: int = 3) -> str:
    shown = ", ".join(str(p) for p in paths[:most])
    return shown + (f" and {len(paths) - most} more" if len(paths) > most else "")


def plan(inputs: str | Path, output: str | Path, suffix: str = ".png", existing: Existing = "refuse") -> list[Job]:
    """Pair inputs with outputs: a file to a file, or into a folder (one that exists, or one
    spelled with a trailing separator, ``out/``, which is created); a folder's images into
    a folder (created). Outputs are PNG. Everything is checked before anything is written:

    - no output may be an input, however the path is spelled (``./``, ``..``, a symbolic
      or hard link), and a folder is never its own output folder;
    - two inputs never write one output (``a.png`` and ``a.jpg``, or ``shot.PNG`` and
      ``shot.jpeg``, both make ``a.png`` / ``shot.png``): the plan is refused with the list;
    - an output that exists is refused (``existing="refuse"``, the default), kept and its
      input skipped (``"skip"``), or replaced (``"overwrite"``);
    - an output file whose folder does not exist is refused (a mistyped folder is not
      created; ``out/`` asks for a new folder).

    Temporary files that a killed earlier run left in the output folder are removed
    (:func:`flowkit.atomic.remove_stale_temp_files`).

    Raises:
        ImageError: the input does not exist, a folder has no image files, or a check
            above fails; the message names the paths.
    """
    if existing not in EXISTING:
        raise ValueError(f"existing must be one of {EXISTING}, got {existing!r}")
    into_folder = str(output).endswith(("/", os.sep))  # Path() drops the trailing separator
    inputs, output = Path(inputs), Path(output)
    if inputs.is_dir():
        files = sorted(p for p in inputs.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise ImageError(f"{inputs}: no image files ({', '.join(IMAGE_EXTENSIONS)})")
        if output.exists() and not output.is_dir():
            raise ImageError(f"{output}: exists and is not a folder (the input is a folder)")
        if _identity(inputs) == _identity(output):
            raise ImageError(f"{output}: is the input folder {inputs}; choose another output folder")
        jobs = [Job(p, output / f"{p.stem}{suffix}") for p in files]
        clashes = _collisions(jobs)
        if clashes:
            raise ImageError(
                f"{inputs}: inputs that would write the same output: {'; '.join(clashes)}; "
                "rename or move all but one of each"
            )
        folder = output
    else:
        if not inputs.exists():
            raise ImageError(f"{inputs}: no such file or folder")
        files = [inputs]
        if into_folder and output.exists() and not output.is_dir():
            raise ImageError(f"{output}: exists and is not a folder")
        target = output / f"{inputs.stem}{suffix}" if into_folder or output.is_dir() else output
        if target.suffix.lower() != ".png":
            raise ImageError(f"{target}: output must be a .png file (flowkit writes lossless PNGs only)")
        if not into_folder and not target.parent.is_dir():
            raise ImageError(f"{target.parent}: no such folder (end the output with '/' to create one)")
        jobs, folder = [Job(inputs, target)], target.parent
    sources = {_identity(f): f for f in files}
    for job in jobs:
        hit = sources.get(_identity(job.target))
        if hit is not None:
            raise ImageError(f"{job.target}: is the input {hit}; refusing to overwrite an input")
        if job.target.is_dir():
            raise ImageError(f"{job.target}: is a folder, not a PNG file")
    present = [job for job in jobs if job.target.exists()]
    if present and existing == "refuse":
        raise ImageError(
            f"output exists: {_listing([j.target for j in present])}; pass --overwrite to replace "
            "or --skip-existing to keep"
        )
    for job in present:
        job.skip = existing == "skip"
    if inputs.is_dir() or into_folder:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ImageError(f"{folder}: cannot create output folder ({exc.strerror or exc})") from None
    remove_stale_temp_files(folder)
    return jobs


def _report(job: Job, exc: BaseException) -> None:
    text = " ".join(str(exc).split()) or type(exc).__name__
    message = text if str(job.source) in text else f"{job.source}: {text}"
    tqdm.write(f"flowkit: error: {message}", file=sys.stderr)


def run_jobs(
    jobs: list[Job],
    read: Callable[[Job], Any],
    compute: Callable[[Job, Any], Any],
    write: Callable[[Job, Any], None],
    *,
    workers: int = 0,
    progress: bool = True,
    desc: str = "",
) -> int:
    """Run each job that is not skipped as ``write(job, compute(job, read(job)))``.

    With ``workers`` > 0, that many threads read the next files and as many write the
    finished ones while ``compute`` runs in this thread (a GPU is then never idle waiting
    for decoding or encoding); at most ``workers + 1`` files are read ahead and ``workers``
    results wait to be written. Results are the same either way.

    A failing file, whatever the error and the stage (a bad image, out of memory, a bug),
    prints one line on stderr naming it and the others go on; skipped jobs print one line
    each. On an interruption, reads and writes not yet started are cancelled and those
    under way finish (every write is atomic). Returns the number of failures.
    """
    check_workers(workers)
    todo = [job for job in jobs if not job.skip]
    for job in jobs:
        if job.skip:
            print(f"flowkit: skipped {job.source}: {job.target} exists", file=sys.stderr)
    bar = tqdm(total=len(todo), desc=desc, unit="img", disable=not progress or len(todo) < 2, file=sys.stderr)
    failures = 0

    def finished(job: Job, exc: BaseException | None) -> None:
        nonlocal failures
        if exc is not None:
            failures += 1
            _report(job, exc)
        bar.update(1)

    try:
        if workers == 0:
            for job in todo:
                try:
                    write(job, compute(job, read(job)))
                except Exception as exc:  # noqa: BLE001 - one file's failure never stops the others
                    finished(job, exc)
                else:
                    finished(job, None)
        else:
            _pipeline(todo, read, compute, write, workers, finished)
    finally:
        bar.close()
    if failures and len(todo) > 1:
        print(f"flowkit: error: {failures} of {len(todo)} files failed", file=sys.stderr)
    return failures


def _pipeline(
    todo: list[Job],
    read: Callable[[Job], Any],
    compute: Callable[[Job, Any], Any],
    write: Callable[[Job, Any], None],
    workers: int,
    finished: Callable[[Job, BaseException | None], None],
) -> None:
    """:func:`run_jobs` with reader and writer threads."""
    readers, writers = ThreadPoolExecutor(workers), ThreadPoolExecutor(workers)
    reads: deque[tuple[Job, Future]] = deque()
    writes: deque[tuple[Job, Future]] = deque()
    upcoming = iter(todo)

    def read_ahead() -> None:
        while len(reads) <= workers and (job := next(upcoming, None)) is not None:
            reads.append((job, readers.submit(read, job)))

    def collect(pending: int) -> None:
        while len(writes) > pending:
            job, future = writes.popleft()
            finished(job, future.exception())

    try:
        read_ahead()
        while reads:
            job, future = reads.popleft()
            read_ahead()
            try:
                result = compute(job, future.result())
            except Exception as exc:  # noqa: BLE001 - one file's failure never stops the others
                finished(job, exc)
                continue
            collect(workers - 1)
            writes.append((job, writers.submit(write, job, result)))
        collect(0)
    finally:
        readers.shutdown(wait=True, cancel_futures=True)
        writers.shutdown(wait=True, cancel_futures=True)


def weights_id(path: str | os.PathLike | None, model: RescalingModel) -> str:
    """A short identifier of the weights in use, recorded in the LR metadata."""
    if path is None:
        return f"shipped:{model.name}-x{model.scale}" if model.name != "bicubic" else "none"
    return Path(path).name
