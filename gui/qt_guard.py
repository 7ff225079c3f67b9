"""Refuse to run, or make safe, a Qt binding that loses references to ``True`` and ``None``.

PySide6 6.12.0 on Python 3.10/3.11 drops a reference to ``True`` on every ``Signal.emit()``
and to ``None`` on every Qt method that returns nothing; after a few thousand calls the
interpreter frees one of them and aborts (``Fatal Python error: bool_dealloc``, exit 134): the
app died after ~5 minutes of listening. pyproject.toml fences that release off, but a user's
own environment or an old frozen build may still have it, so :func:`ensure_safe_qt` (called
when the app starts) measures the leak and, when present, makes ``True``, ``False`` and
``None`` immortal as Python 3.12 does (a refcount no leak can exhaust). GUI thread, once.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Callable

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import QObject, Signal

from voxtral_mlx.errors import VoxtralError

log = logging.getLogger(__name__)

PROBE_CALLS = 16  # few enough to be harmless when leaking (True starts with 100+ references)
PINNED_REFS = 1 << 60  # ~10^18 leaked calls before it could reach zero again
IMMORTAL_SINGLETONS = sys.version_info >= (3, 12)  # PEP 683: no refcount to lose
_checked = False


class QtBindingError(VoxtralError):
    """The Qt binding is known to crash this interpreter and cannot be made safe."""


class _Probe(QObject):
    ping = Signal()


def leak_per_call(emit: Callable[[], object], void_call: Callable[[], object],
                  calls: int = PROBE_CALLS) -> tuple[float, float]:  # fmt: skip
    """References to (True, None) lost per call of ``emit`` and ``void_call`` (0 when sound)."""
    before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(calls):
        emit()
        void_call()
    after = sys.getrefcount(True), sys.getrefcount(None)
    return (before[0] - after[0]) / calls, (before[1] - after[1]) / calls


def qt_leaks() -> bool:
    """True when this Qt binding loses a reference per emit or per void call (>= half a call:
    other threads may take or drop a few meanwhile)."""
    probe = _Probe()
    lost_true, lost_none = leak_per_call(probe.ping.emit, lambda: probe.setObjectName("probe"))
    return lost_true >= 0.5 or lost_none >= 0.5


def can_pin() -> bool:
    """True where ``ob_refcnt`` is an object's first word: CPython release builds < 3.12 (3.12
    makes the singletons immortal itself; debug builds put list links first)."""
    return (
        sys.implementation.name == "cpython"
        and not IMMORTAL_SINGLETONS
        and not hasattr(sys, "getobjects")  # Py_TRACE_REFS builds
    )


def pin_singletons() -> None:
    """Give True, False and None a refcount no leak can exhaust: they are never freed anyway."""
    for obj in (True, False, None):
        refcnt = ctypes.c_ssize_t.from_address(id(obj))
        refcnt.value = max(refcnt.value, PINNED_REFS)


def ensure_safe_qt(leaks: Callable[[], bool] = qt_leaks) -> bool:
    """Check the binding once; pin the singletons if it leaks. True if a workaround was applied;
    QtBindingError (one line, what to install) if it leaks and cannot be worked around."""
    global _checked
    if _checked or IMMORTAL_SINGLETONS:
        return False
    if not leaks():
        _checked = True
        return False
    if not can_pin():
        raise QtBindingError(
            f"PySide6 {PYSIDE_VERSION} crashes Python {sys.version.split()[0]} after a few "
            "minutes of captions: install a fixed one (pip install 'PySide6-Essentials<6.12') "
            "or use Python 3.12 or later"
        )
    pin_singletons()
    _checked = True
    log.warning("PySide6 %s loses references to True/None on Python %s: pinned them so the app "
                "cannot crash; install PySide6-Essentials<6.12", PYSIDE_VERSION,
                sys.version.split()[0])  # fmt: skip
    return True


__all__ = ["QtBindingError", "ensure_safe_qt", "leak_per_call", "pin_singletons", "qt_leaks"]
