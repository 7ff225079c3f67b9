"""File transcription: audio blocks through the same StreamingSession that live captions use.

There is no second decode path: a file is a stream that happens to arrive faster than real
time, read in blocks so memory stays bounded for hour-long recordings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from .audio import iter_audio
from .model import VoxtralRealtime
from .stream import StreamingSession
from .tokenizer import Tokenizer
from .transcript import Transcript, TranscriptBuilder


@dataclass(frozen=True)
class Progress:
    """Where a transcription stands; handed to the progress callback after every block."""

    audio_done: float  # seconds of audio transcribed
    audio_total: float | None  # seconds in the file, if known up front
    elapsed: float  # wall-clock seconds so far

    @property
    def speed(self) -> float:
        """Times real time (audio seconds per wall second)."""
        return self.audio_done / self.elapsed if self.elapsed > 0 else 0.0


class Interrupted(Exception):
    """Ctrl-C during a file: carries what was transcribed up to that point."""

    def __init__(self, transcript: Transcript):
        super().__init__("interrupted")
        self.transcript = transcript


def transcribe_file(
    path: str | os.PathLike,
    model: VoxtralRealtime,
    tokenizer: Tokenizer,
    delay_ms: int | None = None,
    block_seconds: float = 10.0,
    duration: float | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    metadata: dict | None = None,
) -> Transcript:
    """Transcribe one file. Raises AudioError for unreadable audio, Interrupted on Ctrl-C.

    ``block_seconds`` of audio are fed per step: long enough for the encoder to work on big
    batches, short enough that memory stays flat and progress moves. Runs on the MLX thread.
    """
    session = StreamingSession(model, tokenizer, delay_ms=delay_ms)
    builder = TranscriptBuilder()
    t0 = time.perf_counter()
    meta = {"source": os.fspath(path), "delay_ms": session.delay_ms, **(metadata or {})}

    def report(done: float) -> None:
        if on_progress is not None:
            on_progress(Progress(done, duration, time.perf_counter() - t0))

    try:
        for block in iter_audio(path, block_seconds=block_seconds):
            session.feed(block)
            builder.add(session.step())
            report(session.audio_seconds)
        session.close()
        while not session.done:
            builder.add(session.step())
    except KeyboardInterrupt:
        raise Interrupted(
            builder.build(duration=session.audio_seconds, interrupted=True, **meta)
        ) from None
    report(session.audio_seconds)
    return builder.build(duration=session.audio_seconds, **meta)


__all__ = ["Interrupted", "Progress", "transcribe_file"]
