"""Replace a file atomically without following links: a fresh temp file beside it, fsync, rename.

A reader sees the old file or the new one, never half of one; an error removes the temp file
and leaves the old file as it was. The temp file is created exclusively (``O_CREAT|O_EXCL``,
links not followed) under a short fixed-length random name, so a link planted at a temp name
is never written through, and any name the filesystem accepts for the target works (255 bytes
included). Pure Python (no MLX): the writers and the GUI thread use it.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_FLAGS |= getattr(os, "O_CLOEXEC", 0)
_ATTEMPTS = 100


def temp_name() -> str:
    """A hidden name of fixed length (20 bytes) that names no file of ours."""
    return f".vx-{secrets.token_hex(6)}.tmp"


def create_exclusive(path: Path, mode: int) -> int:
    """Create ``path`` as a new file (``mode`` less the umask): never opens an existing file or
    follows a link at ``path``; raises FileExistsError if anything is there."""
    return os.open(path, _FLAGS, mode)


@contextmanager
def replacing(path: str | os.PathLike, mode: int | None = None) -> Iterator[BinaryIO]:
    """Yield a binary file that becomes ``path`` when the block ends without an error.

    The data is fsynced before the rename. An existing file's permission bits are kept; a new
    file gets ``mode`` (default 0o666) less the umask, like a plain ``open``. Raises OSError.
    """
    path = Path(path)
    keep = existing_mode(path)
    fd, temp = _create_temp(path.parent, 0o666 if mode is None else mode)
    try:
        if keep is not None:
            os.fchmod(fd, keep)
        with open(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def existing_mode(path: Path) -> int | None:
    """Permission bits of the regular file at ``path`` (following a link), None if there is none."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return stat.S_IMODE(st.st_mode) & 0o777 if stat.S_ISREG(st.st_mode) else None


def sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable; best effort (some filesystems refuse a folder fsync)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_temp(folder: Path, mode: int) -> tuple[int, Path]:
    for _ in range(_ATTEMPTS):
        temp = folder / temp_name()
        try:
            return create_exclusive(temp, mode), temp
        except FileExistsError:  # a file or a planted link: never touched, try another name
            continue
    raise FileExistsError(f"{folder}: no free temporary name after {_ATTEMPTS} tries")


__all__ = ["replacing", "create_exclusive", "existing_mode", "sync_folder", "temp_name"]
