"""How a command-line run ends: exit codes (their meaning: ``main.py``'s docstring), one-line
errors, and the signals that stop it. SIGTERM (a polite kill, logout) and SIGHUP (the terminal
closed) end a run as Ctrl-C does: what was transcribed is written, and the exit code is 128 +
the signal's number. Shared by the file path (``files.py``), ``--mic`` (``mic.py``) and
``main.py``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

from voxtral_mlx.errors import VoxtralError

log = logging.getLogger("voxtral_mlx")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

_POLITE = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))
_caught = [signal.SIGINT]  # the signal that stopped the run last


def fail(err: VoxtralError) -> int:
    """One ``error:`` line on stderr (the traceback only in the --verbose log); EXIT_FAILED."""
    log.debug("error", exc_info=True)
    print(f"error: {err}", file=sys.stderr)
    return EXIT_FAILED


class StdoutError(VoxtralError):
    """Standard output refused the transcript; nothing more can be printed there."""

    def __init__(self, path: Path, err: OSError):
        reason = "the reading end was closed" if isinstance(err, BrokenPipeError) else (
            err.strerror or type(err).__name__)  # fmt: skip
        super().__init__(f"{path.name}: could not print the transcript ({reason}); "
                         "use --format or -o to write files")  # fmt: skip


def silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush cannot raise again."""
    try:
        sys.stdout.flush()
    except OSError:
        pass
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class polite_signals:
    """Within: SIGTERM/SIGHUP raise KeyboardInterrupt as Ctrl-C does (main thread only)."""

    def __enter__(self):
        self._old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in _POLITE:
                self._old[sig] = signal.signal(sig, _raise_interrupt)
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False


def _raise_interrupt(signum, frame) -> None:
    _caught[0] = signum
    raise KeyboardInterrupt


def forget_signal() -> None:
    """From now on an interruption is Ctrl-C's until a polite signal says otherwise."""
    _caught[0] = signal.SIGINT


def stopped_by_polite_signal() -> bool:
    return _caught[0] != signal.SIGINT


def interrupted_code() -> int:
    """128 + the number of the signal that stopped the run."""
    return 128 + int(_caught[0])
