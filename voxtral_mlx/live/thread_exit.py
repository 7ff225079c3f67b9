"""Waiting for a finished MLX thread to be gone for good (Python < 3.13)."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def wait_os_thread_exit(native_id: int | None, timeout: float = 2.0) -> None:
    """Let a finished thread run its C++ thread-local destructors before we go on.

    MLX keeps per-thread state (e.g. the random key) whose destructor takes the GIL when the
    OS thread exits, after ``Thread.join`` has returned (Python < 3.13). If the interpreter is
    finalizing by then, CPython ends that thread with ``pthread_exit`` and the process aborts
    ("terminate called without an active exception"). Sleeping releases the GIL so the
    destructors can run; on Linux we wait until the thread is really gone.
    """
    if sys.version_info >= (3, 13):  # join() waits for the OS thread itself
        return
    task = Path(f"/proc/self/task/{native_id}")
    if native_id is None or not Path("/proc/self/task").is_dir():
        time.sleep(0.05)
        return
    deadline = time.monotonic() + timeout
    while task.exists() and time.monotonic() < deadline:
        time.sleep(0.001)


__all__ = ["wait_os_thread_exit"]
