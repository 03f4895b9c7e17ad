"""Reading and writing images: float tensors ``(3, H, W)`` in ``[0, 1]``.

:func:`~flowkit.image.load` accepts what people actually have — 8-bit RGB, grayscale, RGBA,
palette, 16-bit PNGs, JPEG (EXIF orientation applied), BMP — and always returns
RGB. :func:`~flowkit.image.save_png` writes an 8-bit PNG with text metadata, atomically.
Every failure to read or write is one :class:`ImageError` naming the file.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from flowkit.atomic import atomic_write
from flowkit.extras import missing_extra

try:
    from PIL import Image, ImageOps, PngImagePlugin
except ModuleNotFoundError as exc:
    raise missing_extra("flowkit.image", "image", exc) from None

__all__ = ["ImageError", "load", "save_png", "read_png_metadata", "to_uint8", "IMAGE_EXTENSIONS", "MAX_PIXELS"]

#: File name suffixes treated as images when listing directories.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

#: Largest image :func:`~flowkit.image.load` accepts (pixels); larger declared sizes are refused
#: before decoding, as a guard against decompression bombs.
MAX_PIXELS = 100_000_000

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageError(ValueError):
    """An image file could not be read or written; the message names the file."""


def _png_bit_depth(path: Path) -> int | None:
    """The bit depth in a PNG's IHDR chunk, or None if ``path`` is not a PNG."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return head[24]


def _load_png16(path: Path) -> tuple[np.ndarray, bool]:
    """Decode a 16-bit PNG at full precision: ``(H, W, planes)`` float64 in [0, 1], has-alpha."""
    import png  # pypng: Pillow truncates 16-bit colour PNGs to 8 bits

    with open(path, "rb") as f:
        width, height, rows, info = png.Reader(file=f).asDirect()
        _check_size(path, width, height)
        planes = info["planes"]
        data = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows]).reshape(height, width, planes)
    return data.astype(np.float64) / 65535.0, bool(info["alpha"])


def _check_size(path: Path, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{path}: declared size {width}x{height} exceeds the limit of {MAX_PIXELS} pixels "
            "(possible decompression bomb)"
        )


def _drop_alpha(arr: np.ndarray, path: Path) -> np.ndarray:
    warnings.warn(f"{path}: alpha channel dropped", UserWarning, stacklevel=3)
    return arr[..., :-1]


def _pil_to_array(im: Image.Image, path: Path) -> np.ndarray:
    """Any PIL mode -> ``(H, W, 1 or 3)`` float64 in [0, 1], alpha dropped with a warning."""
    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    if mode == "1":
        im, mode = im.convert("L"), "L"
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        im, mode = im.convert("RGB"), "RGB"
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(im).astype(np.float64)
        if arr.max(initial=0) > 65535 or arr.min(initial=0) < 0:
            raise ImageError(f"{path}: integer image values outside the 16-bit range")
        return arr[..., None] / 65535.0
    if mode in ("L", "LA", "RGB", "RGBA"):
        arr = np.asarray(im).astype(np.float64) / 255.0
        arr = arr[..., None] if arr.ndim == 2 else arr
        return _drop_alpha(arr, path) if mode in ("LA", "RGBA") else arr
    raise ImageError(f"{path}: unsupported image mode {mode!r}")


def load(path: str | os.PathLike, dtype: torch.dtype = torch.float32) -> Tensor:
    """Read an image file as RGB ``(3, H, W)`` in ``[0, 1]``.

    * 8-bit RGB: as is; grayscale: replicated to three channels;
    * RGBA / LA / palette with transparency: alpha dropped with a ``UserWarning``;
    * palette: expanded to RGB; 16-bit PNG (gray or colour): full precision /65535;
    * JPEG: EXIF orientation applied.

    Args:
        path: the file.
        dtype: floating-point dtype of the result.

    Returns:
        ``(3, H, W)`` tensor of ``dtype`` with values in [0, 1].

    Raises:
        ImageError: missing, unreadable, truncated or non-image file, or larger
            than :data:`~flowkit.image.io.MAX_PIXELS`.

    Example:
        >>> import tempfile, torch
        >>> from pathlib import Path
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save_png(Path(d) / "x.png", torch.full((3, 2, 4), 0.5))
        ...     img = load(Path(d) / "x.png")
        >>> img.shape, round(img[0, 0, 0].item() * 255)
        (torch.Size([3, 2, 4]), 128)
    """
    path = Path(path)
    try:
        if _png_bit_depth(path) == 16:
            arr, alpha = _load_png16(path)
            if alpha:
                arr = _drop_alpha(arr, path)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we apply MAX_PIXELS
                im = Image.open(path)
            with im:
                _check_size(path, im.width, im.height)
                im.load()
                im = ImageOps.exif_transpose(im) or im
                arr = _pil_to_array(im, path)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory, not an image") from None
    except PermissionError:
        raise ImageError(f"{path}: permission denied") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file (or an unsupported format)") from None
    except Image.DecompressionBombError:
        raise ImageError(
            f"{path}: declared size exceeds the limit of {MAX_PIXELS} pixels (possible decompression bomb)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - every decoder failure becomes one clear error
        raise ImageError(f"{path}: cannot decode image ({exc})") from None
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ImageError(f"{path}: image has no pixels")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).to(dtype)


def to_uint8(img: Tensor) -> np.ndarray:
    """``(C, H, W)`` float in [0, 1] -> ``(H, W, C)`` uint8: clamp, ``round(255 x)``."""
    if img.dim() != 3:
        raise ValueError(f"to_uint8: expected (C, H, W), got shape {tuple(img.shape)}")
    if not torch.isfinite(img).all():
        raise ValueError("to_uint8: image contains NaN or Inf")
    arr = torch.round(img.detach().clamp(0, 1) * 255).to(torch.uint8).cpu().numpy()
    return arr.transpose(1, 2, 0)


def save_png(path: str | os.PathLike, img: Tensor, metadata: dict[str, object] | None = None) -> None:
    """Write ``img`` (``(3, H, W)`` or ``(1, H, W)`` in [0, 1]) as an 8-bit PNG.

    Values are clamped and rounded to 8-bit. ``metadata`` goes into PNG text
    chunks (values as ``str``), read back by :func:`read_png_metadata`. The file
    is written to a temporary name, flushed to disk and renamed, so a crash never
    leaves a half-written PNG under ``path``.

    Raises:
        ImageError: the file cannot be written (missing directory, permissions, disk full).
    """
    path = Path(path)
    arr = to_uint8(img)
    mode = {1: "L", 3: "RGB"}.get(arr.shape[2])
    if mode is None:
        raise ValueError(f"save_png: expected 1 or 3 channels, got {arr.shape[2]}")
    info = PngImagePlugin.PngInfo()
    for key, value in (metadata or {}).items():
        info.add_text(str(key), str(value))
    image = Image.fromarray(arr[..., 0] if mode == "L" else arr, mode=mode)
    try:
        atomic_write(path, lambda f: image.save(f, format="PNG", pnginfo=info))
    except OSError as exc:
        raise ImageError(f"{path}: cannot write ({exc.strerror or exc})") from None


def read_png_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The text chunks of a PNG as a dict (empty for other formats or PNGs without text).

    Raises:
        ImageError: the file cannot be opened as an image.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            return dict(getattr(im, "text", {}) or {})
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except Exception as exc:  # noqa: BLE001
        raise ImageError(f"{path}: cannot read metadata ({exc})") from None
