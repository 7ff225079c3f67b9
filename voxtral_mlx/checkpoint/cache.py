"""From a model name to a folder ready to load, converting a Hugging Face download once.

A local folder is used as it is. A repo id (the default is Mistral's official release) is
downloaded by :func:`voxtral_mlx.checkpoint.resolve.resolve`, converted once to ``bits`` (4 by
default) under the user cache, and every later start loads that converted folder directly: no
network, no second conversion. The conversion appears in the cache only when complete (it is
built under a temporary name and renamed), so a killed first start never leaves a folder that
loads as finished; the next start converts again and removes what the killed one left.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from voxtral_mlx.checkpoint.convert import convert
from voxtral_mlx.checkpoint.resolve import DEFAULT_BITS, GROUP_SIZE, converted_path, resolve
from voxtral_mlx.errors import VoxtralError


def model_folder(
    name: str | os.PathLike,
    bits: int = DEFAULT_BITS,
    root: Path | None = None,
    download: Callable | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> Path:
    """The folder to load for ``name``; ``on_progress(stage, done, total)`` while converting."""
    path = Path(name).expanduser()
    if path.exists() or bits == 16:
        return resolve(name, download=download)
    target = converted_path(str(name), bits, root)
    if _complete(target):
        return target
    source = resolve(name, download=download)

    def progress(done: int, total: int) -> None:
        if on_progress is not None:
            on_progress("converting", done, total)

    _remove_unfinished(target)
    try:
        return convert(source, target, bits=bits, group_size=GROUP_SIZE, on_progress=progress)
    except VoxtralError:
        if _complete(target):  # another start converted the same model first: use it
            return target
        raise


def _complete(target: Path) -> bool:
    return (target / "params.json").is_file()  # an older version wrote it last, in place


def _remove_unfinished(target: Path) -> None:
    """A cache folder without params.json was left by a version that converted in place."""
    if target.is_dir() and not target.is_symlink() and not _complete(target):
        shutil.rmtree(target)
