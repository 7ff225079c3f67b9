"""File transcription: audio blocks through the same StreamingSession that live captions use.

A file is a stream that happens to arrive faster than real time, read in blocks so memory
stays bounded for hour-long recordings. By default a file is one stream, whose tokens equal
offline greedy decoding (and transformers) exactly. ``streams > 1`` is an opt-in speed
option: files of two pieces or more (pieces.py: 16 s and up) are cut at pauses into pieces
decoded side by side, several times faster, and their text may differ near the cuts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from voxtral_mlx.audio.damage import Damage
from voxtral_mlx.audio.files import iter_audio
from voxtral_mlx.decode.pieces import MIN_PIECE_S, ParallelTranscriber
from voxtral_mlx.decode.session import StreamingSession
from voxtral_mlx.model import VoxtralRealtime
from voxtral_mlx.protocol import SAMPLE_RATE
from voxtral_mlx.text.tokenizer import Tokenizer
from voxtral_mlx.text.transcript import Transcript, TranscriptBuilder

# Audio fed to the session per step: long enough for the encoder to work on big batches,
# short enough that memory stays flat and progress moves.
BLOCK_SECONDS = 10.0


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
    """Ctrl-C during a file: carries what was transcribed up to that point (or, for files
    decoded side by side, ``paths``: the files whose words so far were already written)."""

    def __init__(self, transcript: Transcript | None, paths: list | tuple = ()):
        super().__init__("interrupted")
        self.transcript, self.paths = transcript, list(paths)


def transcribe_file(
    path: str | os.PathLike,
    model: VoxtralRealtime,
    tokenizer: Tokenizer,
    delay_ms: int | None = None,
    block_seconds: float = BLOCK_SECONDS,
    duration: float | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    metadata: dict | None = None,
    streams: int | None = None,
    strict: bool = False,
    on_damage: Callable[[Damage], None] | None = None,
) -> Transcript:
    """Transcribe one file. Raises AudioError for unreadable audio, Interrupted on Ctrl-C.

    ``block_seconds`` of audio are fed per step: long enough for the encoder to work on big
    batches, short enough that memory stays flat and progress moves. ``streams``: pieces
    decoded side by side when ``duration`` is known and long enough (None or 1: one stream,
    the model's exact words). Damaged audio (corrupt frames, a cut-off tail, NaN samples) is
    transcribed around and reported to ``on_damage``, or raises AudioError when ``strict``
    (audio_io.py). Runs on the MLX thread.
    """
    audio = {"block_seconds": block_seconds, "strict": strict, "on_damage": on_damage}
    streams = 1 if streams is None else streams
    if streams > 1 and duration is not None and duration >= 2 * MIN_PIECE_S:
        return _transcribe_parallel(path, model, tokenizer, delay_ms, audio, duration,
                                    on_progress, metadata, streams)  # fmt: skip
    session = StreamingSession(model, tokenizer, delay_ms=delay_ms)
    builder = TranscriptBuilder()
    report = _reporter(on_progress, duration)
    meta = file_metadata(path, session.delay_ms, metadata)

    try:
        for block in iter_audio(path, **audio):
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


def file_metadata(path, delay_ms: int, metadata: dict | None) -> dict:
    """A file transcript's metadata: its source and delay, then the caller's entries."""
    return {"source": os.fspath(path), "delay_ms": delay_ms, **(metadata or {})}


def _reporter(on_progress, duration) -> Callable[[float], None]:
    """``report(audio_done)``: a Progress for the callback, timed from this call."""
    t0 = time.perf_counter()

    def report(done: float) -> None:
        if on_progress is not None:
            on_progress(Progress(done, duration, time.perf_counter() - t0))

    return report


def _transcribe_parallel(path, model, tokenizer, delay_ms, audio, duration, on_progress,
                         metadata, streams) -> Transcript:  # fmt: skip
    report = _reporter(on_progress, duration)
    par = ParallelTranscriber(model, tokenizer, delay_ms, streams, duration, on_progress=report)
    meta = file_metadata(path, par.delay_ms, {"streams": streams, **(metadata or {})})

    def transcript(seconds: float, **extra) -> Transcript:
        return Transcript.from_words(par.words, tokens=par.tokens, duration=seconds,
                                     metadata={**meta, **extra})  # fmt: skip

    try:
        for block in iter_audio(path, **audio):
            par.feed(block)
            report(par.seconds_done)
        par.close()
    except KeyboardInterrupt:
        raise Interrupted(transcript(par.seconds_heard, interrupted=True)) from None
    seconds = par.total_samples / SAMPLE_RATE
    report(seconds)
    return transcript(seconds)


__all__ = ["Interrupted", "Progress", "transcribe_file"]
