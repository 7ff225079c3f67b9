"""Stopping and closing PortAudio streams without ever hanging the caller. No MLX.

PortAudio's stop() on a stalled stream (a suspended PulseAudio source, CoreAudio after an
unplug) blocks until the device delivers again (abort() does not: use it when the device has
gone quiet), and a stream may stall while stopping. So a :class:`StreamRelease` stops and
closes a stream on a helper thread, and the caller waits for it with a timeout. A stream still
held by PortAudio at exit would hang Pa_Terminate or crash as its library is unloaded, so then
the process ends at once (:func:`exit_if_streams_left`).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from typing import Any

from voxtral_mlx.audio.devices import PORTAUDIO_LOCK, stream_closed

log = logging.getLogger(__name__)
RELEASE_SECONDS = 0.75  # longest stop()/close() waits for PortAudio (Stop must answer in 2 s)


class StreamRelease:
    """Stops (or aborts) and closes a stream on its own thread: the caller waits for
    ``stopped`` / :meth:`join` with a timeout; a stream left behind is closed, and stops
    counting as open, whenever PortAudio lets go of it."""

    left: set[StreamRelease] = set()  # not done yet

    def __init__(self, stream: Any, abort: bool):
        self.stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(stream, abort),
                                        name="mic-release", daemon=True)  # fmt: skip
        StreamRelease.left.add(self)
        self._thread.start()

    def _run(self, stream: Any, abort: bool) -> None:
        try:
            stream.abort() if abort else stream.stop()
        except Exception:  # a device that vanished may fail to stop; it is stopped anyway
            pass
        self.stopped.set()
        with PORTAUDIO_LOCK:
            try:
                stream.close()
            except Exception:
                pass
            stream_closed()
        StreamRelease.left.discard(self)

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()


def guard_exit() -> None:
    """A stream may be left behind: make sure the process does not hang at exit on it."""
    atexit.unregister(exit_if_streams_left)  # once; registered after sounddevice's
    atexit.register(exit_if_streams_left)  # Pa_Terminate, so it runs before it


def streams_left() -> int:
    """Streams PortAudio has not let go of (their device stalled while stopping)."""
    return len(StreamRelease.left)


def exit_if_streams_left(code: int = 1) -> None:
    """End the process now (stdio flushed) if PortAudio still holds a stream: the interpreter's
    clean-up would hang in Pa_Terminate or crash when PortAudio's thread outlives its library.
    Front ends call it with their exit code; at exit it runs by itself (code 1)."""
    if not streams_left():
        return
    log.warning("a microphone never let go of its stream: ending the process without clean-up")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(code)


__all__ = ["RELEASE_SECONDS", "StreamRelease", "exit_if_streams_left", "guard_exit", "streams_left"]
