"""Fast CPU matmuls on Linux: load the system OpenBLAS before MLX.

The PyPI ``mlx-cpu`` wheel links a single-threaded reference BLAS (a 3072x3072 float32 matmul
takes ~12.6 s on our 2-core CI machine); with Debian's OpenBLAS loaded first, ``RTLD_GLOBAL``,
the same matmul takes ~0.19 s (shared/linux-notes.md §1). This must run before ``mlx.core``
is imported, so ``voxtral_mlx/__init__.py`` calls it. Opt out with ``VOXTRAL_MLX_NO_OPENBLAS=1``.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

log = logging.getLogger(__name__)

CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib64/libopenblas.so.0",
    "/usr/lib/libopenblas.so.0",
)
HINT = "MLX's CPU backend is ~60x faster with OpenBLAS: apt-get install libopenblas0-pthread"

_state: dict[str, str | None] = {}


def _core_type() -> str | None:
    """OpenBLAS 0.3.21 mis-detects some virtual CPUs (as 'Prescott'); name the kernel set."""
    try:
        flags = next(
            (line for line in open("/proc/cpuinfo") if line.startswith("flags")), ""
        ).split()
    except OSError:
        return None
    if "avx512f" in flags and "avx512bw" in flags:
        return "SkylakeX"
    if "avx2" in flags:
        return "Haswell"
    return None


def preload() -> str | None:
    """Load OpenBLAS globally if possible; returns its path, or None (with the reason logged)."""
    if "path" in _state:
        return _state["path"]
    _state["path"] = None
    if not sys.platform.startswith("linux") or os.environ.get("VOXTRAL_MLX_NO_OPENBLAS"):
        return None
    if "mlx.core" in sys.modules:
        log.debug("OpenBLAS not preloaded: mlx.core was imported first")
        return None
    path = next((p for p in CANDIDATES if os.path.exists(p)), None)
    if path is None:
        log.warning(HINT)
        return None
    if "OPENBLAS_CORETYPE" not in os.environ and (core := _core_type()):
        os.environ["OPENBLAS_CORETYPE"] = core  # read once, when the library loads
    try:
        ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    except OSError as e:
        log.warning("could not load %s (%s); %s", path, e, HINT)
        return None
    _state["path"] = path
    return path
