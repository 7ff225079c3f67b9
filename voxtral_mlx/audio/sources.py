"""Where live audio comes from: the :class:`AudioSource` protocol the live transcriber pulls
from, and :class:`IteratorSource` (any iterable of 16 kHz chunks; ``realtime=True`` paces it like
a microphone: handy for demos, tests and benchmarks). :class:`~voxtral_mlx.audio.mic.MicSource` is
the microphone one. No MLX here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import numpy as np

from voxtral_mlx.audio.levels import SILENCE_DB, rms_dbfs
from voxtral_mlx.protocol import SAMPLE_RATE


class AudioSource(Protocol):
    """What the transcriber pulls audio from (:class:`~voxtral_mlx.audio.mic.MicSource` is one).

    ``read(timeout)`` returns 16 kHz mono float32 or None (nothing yet / finished) and may raise
    a VoxtralError (e.g. DeviceError: the source then ends). Each array it returns is new and
    the caller's (nobody else holds or changes it): the transcriber hands it to the model as is.
    After ``stop()``, ``read`` returns what was captured and then None with ``finished`` set.
    ``stop`` and ``close`` return within about a second whatever the device does. ``poll_stall()``: ``(True, message)`` once when the
    source stops delivering (it may come back), ``(False, message)`` once when it does.
    ``stalled``: delivering nothing now; ``lost``: the device has gone (a microphone waits for
    it to come back and reopens it).
    """

    name: str
    finished: bool
    level_db: float
    overflows: int
    queued_seconds: float
    dropped_seconds: float
    stalled: bool
    lost: bool
    silent_seconds: float

    def open(self) -> None: ...
    def read(self, timeout: float) -> np.ndarray | None: ...
    def poll_hint(self) -> str | None: ...
    def poll_stall(self) -> tuple[bool, str] | None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


class IteratorSource:
    """Chunks from any iterable as a source. ``realtime``: chunk k becomes readable only once
    its audio would have been spoken (``speed`` x real time), as from a microphone."""

    overflows = 0
    dropped_seconds = 0.0
    stalled = lost = False
    silent_seconds = 0.0

    def __init__(self, chunks: Iterable[np.ndarray], *, realtime: bool = False,
                 speed: float = 1.0, name: str = "audio",
                 clock: Callable[[], float] = time.monotonic):  # fmt: skip
        self.name, self.realtime, self.speed = name, realtime, speed
        self.finished = False
        self.level_db = SILENCE_DB
        self.started_at = 0.0
        self.samples_read = 0
        self._chunks, self._clock = chunks, clock
        self._iter = None
        self._pending: np.ndarray | None = None
        self._exhausted = self._stopping = False

    def open(self) -> None:
        self._iter = iter(self._chunks)
        self.started_at = self._clock()

    def due(self, sample: int) -> float:
        """When sample ``sample`` arrives (realtime): ``started_at + sample / rate / speed``."""
        return self.started_at + sample / SAMPLE_RATE / self.speed

    def read(self, timeout: float = 0.0) -> np.ndarray | None:
        if self.finished:
            return None
        got, deadline = [], self._clock() + timeout
        while not self._stopping or (self.realtime and self._pending is not None):
            if self._pending is None and not self._exhausted:
                nxt = next(self._iter, None)
                self._exhausted = nxt is None
                if nxt is not None:  # a copy: the iterable's owner may reuse its arrays
                    self._pending = np.array(nxt, dtype=np.float32).reshape(-1)
            if self._pending is None:
                break
            now = self._clock()
            wait = self.due(self.samples_read + len(self._pending)) - now if self.realtime else 0
            if wait <= 0:
                got.append(self._pending)
                self.samples_read += len(self._pending)
                self._pending = None
                if not self.realtime:
                    break
                continue
            if got or self._stopping or now >= deadline:
                break
            time.sleep(min(wait, deadline - now))
        if got:
            out = np.concatenate(got) if len(got) > 1 else got[0]
            self.level_db = rms_dbfs(out)
            return out
        if self._exhausted or self._stopping:
            self.finished = True
        return None

    @property
    def queued_seconds(self) -> float:
        if not self.realtime or self.finished:
            return 0.0
        spoken = (self._clock() - self.started_at) * self.speed
        return max(0.0, spoken - self.samples_read / SAMPLE_RATE)

    def poll_hint(self) -> str | None:
        return None

    def poll_stall(self) -> tuple[bool, str] | None:
        return None

    def stop(self) -> None:
        self._stopping = True
        if self.realtime and self._pending is not None:  # not spoken yet: it never will be
            self._pending = None

    def close(self) -> None:
        self.stop()
        self.finished = True


def as_source(source: Any) -> AudioSource:
    """A source object as is; an array as one chunk; any other iterable as an IteratorSource."""
    if hasattr(source, "read") and hasattr(source, "open"):
        return source
    if isinstance(source, np.ndarray):
        return IteratorSource([source])
    return IteratorSource(source)


__all__ = ["AudioSource", "IteratorSource", "as_source"]
