"""Atomic file writes: a crash or a full disk never leaves a half-written file under the final name.

The temporary file is ``.flowkit-<pid>-<name>.<random>.tmp`` in the target's folder. It is
removed when the write fails or is interrupted (``KeyboardInterrupt``; the command line turns
SIGTERM into one). Only a process killed outright (SIGKILL, power loss) leaves one behind:
:func:`remove_stale_temp_files` removes those whose process is gone.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "remove_stale_temp_files", "TEMP_PREFIX"]

#: Every temporary file of :func:`atomic_write` starts with this.
TEMP_PREFIX = ".flowkit-"
_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"(\d+)-.*\.tmp")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through ``write(f)`` on a temporary file in the same folder, flush and
    fsync it, give it the usual permissions, then rename it into place.

    If anything fails (including ``OSError`` for a full disk, or an interruption), the
    temporary file is removed, any previous file at ``path`` is left untouched, and the
    error propagates.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that :func:`atomic_write` left in ``folder`` when its
    process was killed (their process no longer runs); returns the paths removed.

    Files of a process that still runs (a concurrent write) and every other file are kept.
    """
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _TEMP_NAME.fullmatch(p.name)
        if m and p.is_file() and not _running(int(m.group(1))):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed
