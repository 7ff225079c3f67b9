"""A server in place of the local model: ``--mic --server ws://HOST:PORT``, files with
``--server``, the app's "Engine: a server". Speaks vLLM's realtime protocol, so the server may
be ours (``python -m voxtral_mlx serve``) or a vLLM deployment of the model.

:func:`remote_loader` is a ``model_loader`` for :class:`~voxtral_mlx.live.engine.LiveTranscriber`:
the "model" it returns, a :class:`RemoteEngine`, opens a :class:`RemoteSession` per stream,
which has the verbs of a ``StreamingSession`` the live engine uses (push, close, step, take,
done, group), so autosave, history, captions and every output work as with the local model.

Times: the server sends one ``transcription.delta`` per decoder step (vLLM does, empty ones
included), and step ``k`` describes the audio from ``k x 80 ms``: each delta becomes a
TokenEvent of that time, a word starting where a delta starts with a space. The server sends
text, not token ids: events carry ``token_id = -1`` (ours also sends each step's id and times
as extra fields of the delta, used when present: then the words and ids are exactly a local
run's, an utterance the model ended early included). Drafts need a second row on the server:
with a server there are none.

Threads: a sender and a receiver thread per session own the socket (the websockets library's
threading client); the MLX-less engine thread only queues audio and takes events.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections import deque

import numpy as np

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.protocol import DEFAULT_DELAY_MS, SAMPLE_RATE, SAMPLES_PER_TOKEN
from voxtral_mlx.serve.protocol import VLLM_MODEL_ID, encode_pcm16
from voxtral_mlx.text.transcript import TokenEvent

log = logging.getLogger(__name__)

CHUNK_SECONDS = 0.5  # audio per append: a few messages a second
WAIT_SECONDS = 0.05  # how long a step waits for the server before returning nothing


class RemoteEngine:
    """What :func:`remote_loader` returns instead of a model: where the server is."""

    def __init__(self, url: str, api_key: str | None = None, model: str = VLLM_MODEL_ID):
        url = url.rstrip("/")
        if url.startswith("http"):
            url = "ws" + url[4:]
        self.url = url if url.endswith("/v1/realtime") else url + "/v1/realtime"
        self.api_key, self.model = api_key, model

    def open_session(self, delay_ms=None, draft_delay_ms=None) -> RemoteSession:
        """A connected session (raises VoxtralError when the server cannot be reached). The
        delay is the server's: ``delay_ms`` is only what this side assumes for its meters."""
        return RemoteSession(self, delay_ms or DEFAULT_DELAY_MS)


class _Group:
    """A session's own "group" for the live engine: stepping it waits for the server a little."""

    def __init__(self, session: RemoteSession):
        self.session = session

    def step(self, max_tokens: int | None = None) -> None:
        self.session._wait(WAIT_SECONDS)


class RemoteSession:
    """One stream on the server. ``push``/``feed`` audio, ``close`` at the end, ``take`` or
    ``step`` for TokenEvents; ``done`` once the server said ``transcription.done``."""

    draft_delay_ms = None
    draft_events: list = []
    draft_tokens: list = []

    def __init__(self, engine: RemoteEngine, delay_ms: int):
        from websockets.sync.client import connect

        self.delay_ms, self.sample_rate = delay_ms, SAMPLE_RATE
        self.group = _Group(self)
        headers = {"Authorization": f"Bearer {engine.api_key}"} if engine.api_key else None
        try:
            self._ws = connect(engine.url, additional_headers=headers, open_timeout=10,
                               max_size=None).__enter__()  # fmt: skip
            first = json.loads(self._ws.recv(10))
        except Exception as err:  # refused, unreachable, not a websocket, a wrong key
            raise VoxtralError(f"cannot reach the server at {engine.url}: {_why(err)}") from err
        if first.get("type") != "session.created":
            self._ws.close()
            raise VoxtralError(f"the server at {engine.url} refused: {_message(first)}")
        if isinstance(first.get("delay_ms"), int):  # ours says it; vLLM does not
            self.delay_ms = first["delay_ms"]
        self._send({"type": "session.update", "model": engine.model})
        self._send({"type": "input_audio_buffer.commit"})
        self._lock = threading.Condition()
        self._events: deque[TokenEvent] = deque()
        self._steps = 0
        self.error: str | None = None
        self._done = self.closed = False
        self.samples = 0
        self._out: queue.SimpleQueue = queue.SimpleQueue()
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        threading.Thread(target=self._sender, name="voxtral-remote-send", daemon=True).start()
        threading.Thread(target=self._receiver, name="voxtral-remote-recv", daemon=True).start()

    # ---- the engine's side ------------------------------------------------------------------
    def push(self, samples: np.ndarray) -> None:
        if self.closed:
            raise VoxtralError("audio fed after the stream was closed")
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        self.samples += x.size
        self._pending.append(x)
        self._pending_n += x.size
        if self._pending_n >= CHUNK_SECONDS * SAMPLE_RATE:
            self._flush()

    feed = push

    def close(self) -> None:
        if not self.closed:
            self._flush()
            self.closed = True
            self._out.put({"type": "input_audio_buffer.commit", "final": True})

    def take(self) -> list[TokenEvent]:
        with self._lock:
            events, self._events = list(self._events), deque()
            error = self.error
        if error and not events:
            raise VoxtralError(error)
        return events

    def step(self, max_tokens: int | None = None) -> list[TokenEvent]:
        self._wait(WAIT_SECONDS)
        return self.take()

    @property
    def done(self) -> bool:
        """The server said done and every event has been taken (a drain loop that stops at
        ``done`` must not leave the last words behind)."""
        with self._lock:
            return self._done and not self._events

    def abandon(self) -> None:
        """Close the connection now (a finished or given-up stream)."""
        self.closed = True
        try:
            self._ws.close()
        except Exception:  # already gone
            pass

    @property
    def audio_seconds(self) -> float:
        return self.samples / SAMPLE_RATE

    def _flush(self) -> None:
        if self._pending:
            x = np.concatenate(self._pending)
            self._pending, self._pending_n = [], 0
            self._out.put({"type": "input_audio_buffer.append", "audio": encode_pcm16(x)})

    def _wait(self, seconds: float) -> None:
        with self._lock:
            if not self._events and not self._done and not self.error:
                self._lock.wait(seconds)

    # ---- the socket's threads ---------------------------------------------------------------
    def _send(self, event: dict) -> None:
        self._ws.send(json.dumps(event))

    def _sender(self) -> None:
        try:
            while True:
                event = self._out.get()
                self._send(event)
                if event.get("final"):
                    return
        except Exception as err:  # the receiver reports the lost connection
            log.debug("sending to the server failed: %s", err)

    def _receiver(self) -> None:
        try:
            while True:
                event = json.loads(self._ws.recv())
                kind = event.get("type")
                if kind == "transcription.delta":
                    self._delta(event)
                elif kind == "transcription.done":
                    with self._lock:
                        self._done = True
                        self._lock.notify_all()
                    return
                elif kind == "error":
                    self._fail(f"the server says: {_message(event)}")
                    return
        except Exception as err:
            self._fail(f"the connection to the server was lost ({_why(err)})")
        finally:
            self._ws.close()

    def _delta(self, delta: dict) -> None:
        """One decoder step: our server says its token id and times; from another (vLLM) the
        step's place gives the time and the id is unknown (-1)."""
        text, k = str(delta.get("delta", "")), self._steps
        self._steps += 1
        start = float(delta.get("start", k * SAMPLES_PER_TOKEN / SAMPLE_RATE))
        end = float(delta.get("end", start + SAMPLES_PER_TOKEN / SAMPLE_RATE))
        token = int(delta.get("token_id", -1))
        word = bool(delta.get("word_start", text[:1].isspace()))
        event = TokenEvent(token, text, start, end, word_start=word)
        with self._lock:
            self._events.append(event)
            self._lock.notify_all()

    def _fail(self, message: str) -> None:
        with self._lock:
            if not self._done:
                self.error = message
            self._lock.notify_all()


def remote_loader(url: str, api_key: str | None = None):
    """A ``model_loader`` for the live transcriber: ``(RemoteEngine, None)``."""

    def load():
        return RemoteEngine(url, api_key), None

    load.description = url
    return load


def _message(event: dict) -> str:
    error = event.get("error")
    if isinstance(error, dict):
        error = error.get("message")
    return " ".join(str(error or event).split())


def _why(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


__all__ = ["RemoteEngine", "RemoteSession", "remote_loader"]
