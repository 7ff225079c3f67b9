"""Which model a name means, and the only network call: a Hugging Face repo id to a folder.

No MLX import: the GUI thread asks for the default repo and the converted folder's path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from voxtral_mlx.env import cache_dir
from voxtral_mlx.errors import WeightsError

DEFAULT_REPO = "mistralai/Voxtral-Mini-4B-Realtime-2602"  # the model a plain start uses
DEFAULT_BITS = 4  # what a repo id is converted to unless asked otherwise
GROUP_SIZE = 64
# The only files a transcription needs (the repo also holds a second 8.9 GB copy of the
# weights in transformers layout, which we never download).
NATIVE_FILES = ("params.json", "tekken.json", "consolidated.safetensors")


def converted_path(repo_id: str, bits: int, root: Path | None = None) -> Path:
    """The folder where ``repo_id`` converted to ``bits`` lives (checkpoint/cache.py writes it)."""
    return (root or cache_dir()) / f"{repo_id.replace('/', '--')}-{bits}bit-g{GROUP_SIZE}"


def resolve(model: str | os.PathLike, download: Callable | None = None) -> Path:
    """A local folder as is; otherwise a Hugging Face repo id fetched into the HF cache.

    Only :data:`NATIVE_FILES` are downloaded. ``download`` is injectable for tests (defaults to
    ``huggingface_hub.snapshot_download``, which honours ``HF_HUB_OFFLINE``).
    """
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise WeightsError(f"{path}: expected a model folder, got a file")
        return path
    name = str(model)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", name) or name.startswith((".", "/", "~")):
        raise WeightsError(f"model folder not found: {name}")
    if download is None:
        from huggingface_hub import snapshot_download as download
    try:
        return Path(download(repo_id=name, allow_patterns=list(NATIVE_FILES)))
    except Exception as e:  # huggingface_hub raises many types; all mean "not available"
        raise WeightsError(
            f"cannot get '{name}' from Hugging Face ({type(e).__name__}); check the network, "
            "or pass --model with a local folder"
        ) from e
