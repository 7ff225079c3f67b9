"""The user cache folder: converted models and MLX's compiled kernels inside it.

Imported by the package before ``mlx.core`` is, and by the GUI thread (which must not run
MLX): it must not import mlx itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

KERNELS = "mlx-cuda-kernels"
DEFAULT_REPO = "mistralai/Voxtral-Mini-4B-Realtime-2602"  # the model a plain start uses
DEFAULT_BITS = 4  # what a repo id is converted to unless asked otherwise
GROUP_SIZE = 64


def cache_dir() -> Path:
    """``$VOXTRAL_MLX_CACHE``, else the platform's user cache folder + ``voxtral-mlx``."""
    if env := os.environ.get("VOXTRAL_MLX_CACHE"):
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "voxtral-mlx"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "voxtral-mlx"


def converted_path(repo_id: str, bits: int, root: Path | None = None) -> Path:
    """The folder where ``repo_id`` converted to ``bits`` lives (model_cache.py writes it)."""
    return (root or cache_dir()) / f"{repo_id.replace('/', '--')}-{bits}bit-g{GROUP_SIZE}"


def keep_compiled_kernels(environ=os.environ) -> None:
    """Let MLX's CUDA backend keep the kernels it compiles in the user cache.

    It compiles some kernels on first use (on an H200 its multi-row quantized matmul took
    30-40 s per row tile, a first live pass 65.7 s) and stores them under the system temp
    folder unless ``MLX_PTX_CACHE_DIR`` says otherwise (mlx/backend/cuda/jit_module.cpp): a
    reboot that empties /tmp would make the next start pay again. MLX reads the variable at
    its first compile, so setting it at import is early enough. Linux only (MLX's CUDA
    backend); a value the user set wins.
    """
    if sys.platform.startswith("linux"):
        environ.setdefault("MLX_PTX_CACHE_DIR", str(cache_dir() / KERNELS))
