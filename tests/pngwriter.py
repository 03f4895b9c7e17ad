"""Write PNG variants Pillow cannot produce (16-bit colour, lying headers), for the I/O tests."""

import struct
import zlib

import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(arr: np.ndarray, bit_depth: int = 16) -> bytes:
    """A PNG of ``arr`` (H, W, planes) with planes 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA)."""
    h, w, planes = arr.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[planes]
    dtype = ">u2" if bit_depth == 16 else "u1"
    raw = b"".join(b"\x00" + arr[y].astype(dtype).tobytes() for y in range(h))
    header = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


def bomb_png_bytes(width: int, height: int) -> bytes:
    """A tiny file whose header declares a huge 8-bit RGB image."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )
