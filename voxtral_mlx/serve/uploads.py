"""A file sent to ``POST /v1/audio/transcriptions``, transcribed as one stream of the hub.

The file is decoded in blocks as the command line decodes it (``iter_audio``: any format PyAV
or soundfile reads, resampled to 16 kHz) on a worker thread that waits whenever the stream
holds more than ``max_queued_seconds``, so an hour-long upload never sits in memory; its
tokens come from the same rows as every live stream, so the transcript is the CLI's for the
same file and delay (metadata aside).
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from voxtral_mlx.audio.files import iter_audio
from voxtral_mlx.decode.transcribe import file_metadata
from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.protocol import SAMPLE_RATE
from voxtral_mlx.serve.hub import StreamHub
from voxtral_mlx.text.transcript import Transcript, TranscriptBuilder

BLOCK_SECONDS = 10.0


async def transcribe_upload(hub: StreamHub, path: Path, max_queued_seconds: float = 20.0) -> Transcript:  # fmt: skip
    """``path``'s transcript through ``hub``. Raises VoxtralError (unreadable audio, the stream
    dropped) or StreamsFull."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future = loop.create_future()
    builder = TranscriptBuilder()

    def on_event(kind, payload) -> None:  # the hub's thread: its events arrive in order
        if kind == "tokens":
            builder.add(payload)
        elif not done.done():
            loop.call_soon_threadsafe(_settle, done, payload if kind == "error" else None)

    stream = hub.open(on_event)
    cancelled = threading.Event()

    def feed() -> None:
        limit = max_queued_seconds * SAMPLE_RATE
        for block in iter_audio(path, block_seconds=BLOCK_SECONDS):
            while stream.queued > limit and not cancelled.is_set():
                time.sleep(0.01)
            if cancelled.is_set():
                return
            stream.append(block)
        stream.finish()

    try:
        await asyncio.to_thread(feed)
        error = await done
    except BaseException:  # unreadable audio, or the request went away: the rows leave
        cancelled.set()
        stream.cancel()
        raise
    if error:
        raise VoxtralError(error)
    meta = file_metadata(path.name, hub.delay_ms, {"model": hub.model_name})
    return builder.build(duration=stream.samples / SAMPLE_RATE, **meta)


def _settle(future: asyncio.Future, error: str | None) -> None:
    if not future.done():
        future.set_result(error)


__all__ = ["transcribe_upload"]
