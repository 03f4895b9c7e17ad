"""Which existing files an example command may replace: only the ones it wrote itself.

The examples (``flowkit demo``, ``flowkit moons``) write PNGs under fixed names. Each marks its PNGs with a text
chunk of its own; a later run replaces a file only when it carries that mark, so a user's file under one of the
names is never overwritten.
"""

from __future__ import annotations

from pathlib import Path

from flowkit.image.io import ImageError, read_png_metadata

__all__ = ["check_replaceable"]


def check_replaceable(path: Path, mark: str, command: str) -> None:
    """Raise ``ValueError`` (one line) unless ``path`` is absent or a PNG whose text chunks hold ``mark``.

    ``command`` names the writer in the message, e.g. ``"flowkit demo"``.
    """
    if not (path.exists() or path.is_symlink()):
        return
    try:
        ours = path.is_file() and not path.is_symlink() and mark in read_png_metadata(path)
    except ImageError:
        ours = False
    if not ours:
        raise ValueError(f"{path}: exists and was not written by `{command}`; move it away or choose another --out")
