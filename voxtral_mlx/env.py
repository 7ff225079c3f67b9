"""Process set-up and where things live. No MLX import: the package runs this before
``mlx.core`` loads, and the GUI thread (which must not run MLX) asks it for folders.

- Fast CPU matmuls on Linux (:func:`preload`): the PyPI ``mlx-cpu`` wheel links a
  single-threaded reference BLAS (a 3072x3072 float32 matmul takes ~12.6 s on our 2-core CI
  machine, ~0.19 s with Debian's OpenBLAS loaded first, ``RTLD_GLOBAL``; shared/linux-notes.md
  section 1). It must run before ``mlx.core`` is imported, so ``voxtral_mlx/__init__.py`` calls
  it. Opt out with ``VOXTRAL_MLX_NO_OPENBLAS=1``.
- MLX's compiled-kernel cache kept in the user cache (:func:`keep_compiled_kernels`).
- ``--dtype float32`` kept in float32 (:func:`full_float32`).
- User folders (:func:`cache_dir`, :func:`data_dir`, from platformdirs) and the shipped
  ``resources/`` files (:func:`resource_path`, :func:`sample_audio`).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from pathlib import Path

from platformdirs.api import PlatformDirsABC

from voxtral_mlx.errors import VoxtralError

log = logging.getLogger(__name__)

APP = "voxtral-mlx"
KERNELS = "mlx-cuda-kernels"
TF32_VARIABLE = "MLX_ENABLE_TF32"
SAMPLE = "sample-en.flac"

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


def keep_compiled_kernels(environ=os.environ) -> None:
    """Let MLX's CUDA backend keep the kernels it compiles in the user cache.

    It compiles some kernels on first use (tens of seconds on an H200; docs/benchmarks.md) and
    stores them under the system temp folder unless ``MLX_PTX_CACHE_DIR`` says otherwise
    (mlx/backend/cuda/jit_module.cpp): a reboot that empties /tmp would make the next start pay
    again. MLX reads the variable at its first compile, so setting it at import is early
    enough. Linux only (MLX's CUDA backend); a value the user set wins.
    """
    if sys.platform.startswith("linux"):
        environ.setdefault("MLX_PTX_CACHE_DIR", str(cache_dir() / KERNELS))


def full_float32() -> None:
    """What ``--dtype float32`` promises: float32 arithmetic on every device.

    MLX runs float32 matmuls as TF32 (10-bit mantissa) on CUDA and on M5-class Apple GPUs unless
    ``MLX_ENABLE_TF32=0`` (at full size on an H200 that changed the greedy token at 69 of 241
    positions; docs/benchmarks.md). MLX reads the variable when it first needs it, so the CLI
    calls this before the model loads. The user's own setting of the variable wins.
    """
    os.environ.setdefault(TF32_VARIABLE, "0")


def _dirs() -> PlatformDirsABC:
    # Chosen at call time (platformdirs picks at import) so one test can ask for each platform.
    if sys.platform == "darwin":
        from platformdirs.macos import MacOS as Dirs
    elif sys.platform == "win32":
        from platformdirs.windows import Windows as Dirs
    else:
        from platformdirs.unix import Unix as Dirs
    return Dirs(APP, appauthor=False)


def cache_dir() -> Path:
    """``$VOXTRAL_MLX_CACHE``, else the platform's user cache folder + ``voxtral-mlx``."""
    if env := os.environ.get("VOXTRAL_MLX_CACHE"):
        return Path(env).expanduser()
    return Path(_dirs().user_cache_dir)


def data_dir() -> Path:
    """The platform's user data folder + ``voxtral-mlx`` (live transcripts go in it)."""
    return Path(_dirs().user_data_dir)


# The shipped resources/ files. Three layouts, first match wins: a PyInstaller bundle
# (sys._MEIPASS/resources), an installed wheel (pyproject maps resources/ into the package as
# voxtral_mlx/resources), a checkout or editable install (resources/ beside the package).


def resource_roots() -> list[Path]:
    """The folders searched, in order."""
    here = Path(__file__).resolve().parent
    roots = [here / "resources", here.parent / "resources"]
    if bundle := getattr(sys, "_MEIPASS", None):
        roots.insert(0, Path(bundle) / "resources")
    return roots


def resource_path(name: str) -> Path | None:
    """``resources/<name>`` (e.g. ``icons/voxtral-64.png``) on this install; None if absent."""
    for root in resource_roots():
        if (root / name).is_file():
            return root / name
    return None


def sample_audio() -> Path:
    """The bundled speech sample; a one-line error naming where it was looked for if missing."""
    path = resource_path(SAMPLE)
    if path is None:
        where = ", ".join(str(r) for r in resource_roots())
        raise VoxtralError(f"the bundled sample {SAMPLE} is missing (looked in {where}): reinstall voxtral-mlx")  # fmt: skip
    return path
