"""A real server on a loopback port (uvicorn + the app + a StreamHub on the tiny checkpoint),
run on a thread for the length of a test module, and a real WebSocket client's helpers."""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager

import numpy as np

from tests.live.tiny_live import TOK, Loader
from voxtral_mlx.decode.audio_pipeline import LIVE_BLOCK
from voxtral_mlx.decode.session import StreamingSession
from voxtral_mlx.serve.protocol import decode_pcm16, encode_pcm16
from voxtral_mlx.serve.realtime import Limits
from voxtral_mlx.serve.server import make_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(folder, loader=None, **options):
    """(base url, hub) of a server until the block ends (``loader``: default the tiny live
    checkpoint's, with the live tests' tokenizer)."""
    port = free_port()
    server, hub = make_server(loader or Loader(folder), port=port, **options)
    hub.start()
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    assert hub.ready.wait(30)
    try:
        yield f"127.0.0.1:{port}", hub
    finally:
        server.should_exit = True
        thread.join(10)
        hub.stop()
        assert hub.join(30)


def pcm_messages(audio: np.ndarray, chunk_bytes: int = 4096) -> list[str]:
    """The example client's appends: PCM16 (x 32767, truncated) in ``chunk_bytes`` pieces."""
    pcm = (audio * 32767).astype(np.int16).tobytes()
    out = []
    for i in range(0, len(pcm), chunk_bytes):
        piece = np.frombuffer(pcm[i : i + chunk_bytes], np.int16).astype(np.float32) / 32768
        out.append(json.dumps({"type": "input_audio_buffer.append", "audio": encode_pcm16(piece)}))
    return out


def heard(messages: list[str]) -> np.ndarray:
    """What the server decodes from those appends (vLLM's own decoding)."""
    return np.concatenate([decode_pcm16(json.loads(m)["audio"]) for m in messages])


def local_events(model, audio: np.ndarray, tokenizer=TOK, delay_ms: int | None = None) -> list:
    """The TokenEvents of a StreamingSession of its own on ``audio``: what a server's stream
    must give for the same audio."""
    session = StreamingSession(model, tokenizer, delay_ms=delay_ms, encoder_block=LIVE_BLOCK)
    session.feed(audio)
    session.close()
    events = []
    while not session.done:
        events += session.step()
    return events


def local_text(model, audio: np.ndarray) -> tuple[str, int]:
    """(text, decoder steps) of :func:`local_events`."""
    events = local_events(model, audio)
    return "".join(e.text for e in events), len(events)


def local_ids(model, audio: np.ndarray, delay_ms: int | None = None) -> list[int]:
    """The token ids of :func:`local_events`."""
    return [e.token_id for e in local_events(model, audio, delay_ms=delay_ms)]


__all__ = [
    "Limits",
    "heard",
    "local_events",
    "local_ids",
    "local_text",
    "pcm_messages",
    "running_server",
]
