"""An exclusive lock on a run folder, so that two trainings never write into one folder.

A :class:`~flowkit.train.Trainer` takes it on its run folder before writing anything there
and gives it back in :meth:`~flowkit.train.Trainer.close`; a second trainer (another
process, or another trainer in the same process) on the same folder is refused with
:class:`RunFolderBusy` until then. The lock is the operating system's advisory lock on
``<folder>/train.lock`` (``flock`` on POSIX, ``msvcrt.locking`` on Windows), so a run that
is killed leaves no stale lock behind: the file stays, the lock goes with its process. On a
file system that cannot lock files the trainer warns and trains unguarded.
"""

from __future__ import annotations

import errno
import os
import warnings
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
    import msvcrt

#: The lock file's name inside the run folder.
LOCK_NAME = "train.lock"


class RunFolderBusy(RuntimeError):
    """The run folder is being written by another training."""


#: The errors of a lock that another holder has (the others say the file system cannot lock).
_HELD = {errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES, errno.EDEADLK}


def _try_lock(fd: int) -> OSError | bool:
    """True when locked, False when another holder has the lock, or the error of a file system without locks."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError as exc:
        return False if exc.errno in _HELD else exc
    return True


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:  # pragma: no cover - Windows
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def _holder(fd: int) -> str:
    """`` (process N)`` from the lock file's record of its holder, or empty when unreadable."""
    try:
        text = os.pread(fd, 64, 0).decode("ascii").strip() if hasattr(os, "pread") else ""
    except (OSError, UnicodeDecodeError):
        return ""
    if not text.isdigit():
        return ""
    if int(text) == os.getpid():
        return " (another trainer of this process: let its run() end, or close() it)"
    return f" (process {text})"


class RunLock:
    """Holds the lock on run folder ``folder`` (which must exist) from construction to :meth:`release`.

    Raises:
        RunFolderBusy: another training holds the folder's lock.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self._fd: int | None = None
        fd = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        locked = _try_lock(fd)
        if isinstance(locked, OSError):
            warnings.warn(
                f"{self.folder}: this file system does not lock files ({locked.strerror}); "
                "nothing stops a second training from writing into this folder",
                stacklevel=2,
            )
        elif not locked:
            holder = _holder(fd)
            os.close(fd)
            raise RunFolderBusy(
                f"{self.folder} is in use by another training{holder}: wait for it to end, or train into another folder"
            )
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd

    @property
    def held(self) -> bool:
        """Whether this object still holds the lock."""
        return self._fd is not None

    def __del__(self) -> None:
        try:
            self.release()
        except OSError:  # pragma: no cover - the interpreter is shutting down
            pass

    def release(self) -> None:
        """Give the lock back (once; later calls do nothing)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            _unlock(fd)
        except OSError:
            pass  # never locked: the file system does not lock files
        finally:
            os.close(fd)
