"""What the live transcriber reports about the source it listens to: the meter (level, lag,
audio state), audio dropped, the silence hint and stalls, each event once. Pure Python (no MLX);
runs on the transcriber's thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from voxtral_mlx.audio.levels import is_sound
from voxtral_mlx.audio.sources import AudioSource
from voxtral_mlx.live.events import (
    AudioState,
    DroppedEvent,
    ErrorEvent,
    HintEvent,
    LiveEvent,
    MeterEvent,
)

SILENT_AFTER = 2.0  # seconds of nothing but silence before the meter says AudioState.SILENT
# Once a session has heard sound, silence this long is a pause, not a muted device (a virtual
# source gives digital silence between sentences): SILENT and its hint wait longer then.
PAUSE_SECONDS = 10.0


class SourceMonitor:
    """Turns a source's counters into events for ``emit``. :meth:`begin` with each new session
    (drops count from then, nothing heard yet), :meth:`fed` with every chunk the model is fed,
    :meth:`report` once per turn of the loop (a meter every ``meter_interval`` seconds)."""

    def __init__(self, emit: Callable[[LiveEvent], None], meter_interval: float):
        self._emit, self._meter_interval = emit, meter_interval
        self._meter_at = 0.0
        self.heard = False  # this session has fed sound (not only digital silence)
        self._dropped_seen, self._overflows_seen = 0.0, 0

    def begin(self, source: AudioSource) -> None:
        self.heard = False
        self._dropped_seen, self._overflows_seen = source.dropped_seconds, source.overflows

    def fed(self, chunk: np.ndarray) -> None:
        self.heard = self.heard or is_sound(chunk)

    def report(self, src: AudioSource, session: Any, decoded_to: float, offset: float) -> None:
        """Events due now. ``session`` listens to ``src`` and has decoded its audio up to
        ``decoded_to`` s; ``offset``: the recording's audio seconds before this session."""
        now = time.monotonic()
        if now - self._meter_at >= self._meter_interval:
            self._meter_at = now
            fed = session.audio_seconds
            lag = max(0.0, fed - decoded_to - session.delay_ms / 1000) + src.queued_seconds
            self._emit(MeterEvent(level_db=src.level_db, lag=lag, audio_seconds=offset + fed,
                                  audio=self.audio_state(src)))  # fmt: skip
        dropped, overflows = src.dropped_seconds, src.overflows
        if dropped > self._dropped_seen or overflows > self._overflows_seen:
            self._emit(DroppedEvent(dropped - self._dropped_seen, dropped, overflows))
            self._dropped_seen, self._overflows_seen = dropped, overflows
        silent = self.audio_state(src) is AudioState.SILENT
        hint = src.poll_hint() if silent else None
        if hint:  # the source's hint is about silence: true until sound comes
            self._emit(HintEvent(hint, clears_on=AudioState.FLOWING))
        stall = src.poll_stall()
        if stall is not None:  # reported once each way; the source stays, it may come back
            stalled, message = stall
            self._emit(ErrorEvent(message) if stalled else HintEvent(message))

    def audio_state(self, src: AudioSource) -> AudioState:
        if getattr(src, "lost", False):  # sources of older code may not say
            return AudioState.LOST
        if src.stalled:
            return AudioState.STALLED
        quiet = PAUSE_SECONDS if self.heard else SILENT_AFTER
        return AudioState.SILENT if _heard_silence(src, quiet) else AudioState.FLOWING


def _heard_silence(src: AudioSource, seconds: float) -> bool:
    """Whether the source has truly delivered ``seconds`` of nothing but silence. It counts
    seconds since it last read sound; audio still queued in it (captured during a slow step:
    the first one compiles) has not been looked at and must not count as silent."""
    return src.silent_seconds - src.queued_seconds >= seconds


__all__ = ["PAUSE_SECONDS", "SILENT_AFTER", "SourceMonitor"]
