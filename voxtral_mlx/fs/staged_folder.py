"""A folder built under a temporary name beside its destination, then renamed into place.

Nothing appears at the destination until the folder is complete, so a killed build never
leaves a folder that loads as finished: it leaves only a hidden ``.voxtral-partial-*`` folder
beside the destination, which the next build of the same destination removes. A live build
holds a lock on its folder (``flock``), so only the folders of dead builds are removed.
Unix only (``fcntl``), as MLX is.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from voxtral_mlx.fs.atomic_file import sync_folder

PREFIX = ".voxtral-partial-"
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)


@contextmanager
def staged_folder(final: Path) -> Iterator[Path]:
    """Yield a new empty folder beside ``final`` that becomes ``final`` when the block ends
    without an error. ``final`` must be absent or an empty folder then (else OSError and
    ``final`` is untouched); on any error the new folder is removed. Raises OSError."""
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_builds(final)
    work, lock = _create(final)
    try:
        yield work
        sync_folder(work)
        os.rename(work, final)  # atomic; replaces only an empty folder, never a file
        sync_folder(final.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        os.close(lock)


def build_folders(final: Path) -> list[Path]:
    """The temporary folders of builds of ``final`` beside it (live or left by a killed one)."""
    return sorted(final.parent.glob(_prefix(final) + "*"))


def remove_dead_builds(final: Path) -> None:
    """Remove the folders that killed builds of ``final`` left; a live build's is kept."""
    for old in build_folders(final):
        try:
            fd = os.open(old, _DIR_FLAGS)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # locked: its build is running
            os.close(fd)
            continue
        try:
            shutil.rmtree(old, ignore_errors=True)
        finally:
            os.close(fd)


def _prefix(final: Path) -> str:
    # A digest keeps the name short whatever the destination's name, and tied to it.
    digest = hashlib.sha256(os.fsencode(final.name)).hexdigest()[:12]
    return f"{PREFIX}{digest}-"


def _create(final: Path) -> tuple[Path, int]:
    for _ in range(100):
        work = final.parent / f"{_prefix(final)}{secrets.token_hex(4)}"
        try:
            os.mkdir(work)  # exclusive: anything already there (a link included) is refused
        except FileExistsError:
            continue
        fd = os.open(work, _DIR_FLAGS)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return work, fd
    raise FileExistsError(f"{final.parent}: no free temporary folder name")


__all__ = ["staged_folder", "build_folders", "remove_dead_builds", "PREFIX"]
