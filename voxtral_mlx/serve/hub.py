"""StreamHub: every stream of the server as rows of one batch, on one MLX thread.

::

    hub = StreamHub(folder_loader("~/models/voxtral"), max_streams=64)
    hub.start()                                   # the thread loads the model
    stream = hub.open(on_event)                   # any thread; StreamsFull when full
    stream.append(samples)                        # 16 kHz mono float32, any thread, never blocks
    stream.finish()                               # no more audio: the last words, then done
    stream.cancel()                               # the client went away: its rows leave now
    hub.stop(); hub.join()

Each stream is a :class:`~voxtral_mlx.decode.session.StreamingSession` in one shared
:class:`~voxtral_mlx.decode.session.SessionGroup`, so its token ids are exactly what a session
of its own gives for the same audio, and a decoder step serves every stream at once.
``on_event(kind, payload)`` is called on the hub's thread (return at once: the server hands it
to its event loop): ``("tokens", [TokenEvent, ...])`` after each step that decoded tokens of
the stream, ``("done", None)`` once a finished stream has decoded everything, ``("error",
message)`` when the stream is dropped (then nothing more comes). Nothing a client does can block
the thread: audio waits in a per-stream inbox bounded by ``max_queued_seconds`` (a client that
sends faster than real time for that long is told and dropped), and events are handed over, not
awaited. Memory is bounded by ``max_streams`` x (the inbox + one session).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.live.thread_exit import wait_os_thread_exit
from voxtral_mlx.protocol import SAMPLE_RATE

log = logging.getLogger(__name__)

OnEvent = Callable[[str, Any], None]
WAIT_SECONDS = 0.05  # longest sleep of an idle loop before it looks at commands again
# A rehearsal stream's stall, in 40 ms turns: 6 tokens, more than a front bank member may lag
# its bank's median before it leaves to catch up alone (``FrontBank.max_backlog``, 4).
STALL_TURNS = 12
# Tokens a stream may decode in one turn. A turn is one step of every stream with a token
# (one while they keep up) and then rounds for those with more: a backlog, or a stream's end
# (its right padding: 18 positions at a 480 ms delay, all there at once). Every other stream's
# next token waits for those rounds. Alone, a round steps only the rows with more (cheap).
# In the decoder bank (``--batch-rows``) it computes every row of the bank: on the H200 at
# 4-bit, 64 streams ending over 2 s each cost everyone a turn of ~300 ms, 12 such rounds
# (docs/benchmarks.md). Three a turn still catch up a server that fell 160 ms behind.
TOKENS_PER_TURN = 12
BANK_TOKENS_PER_TURN = 3


class StreamsFull(VoxtralError):
    """Every stream the server admits is in use."""


class Stream:
    """One client's audio in and events out. ``append``/``finish``/``cancel`` from any thread."""

    def __init__(self, hub: StreamHub, stream_id: str, on_event: OnEvent, max_samples: int):
        self.id, self._hub, self._on_event, self._max = stream_id, hub, on_event, max_samples
        self._lock = threading.Lock()
        self._chunks: deque[np.ndarray] = deque()
        self._queued = 0
        self.finished = self.cancelled = False
        self.samples = 0  # appended so far

    def append(self, samples: np.ndarray) -> None:
        """Queue audio (copied); a stream over its inbox bound is dropped with an error."""
        x = np.array(samples, dtype=np.float32, copy=True).reshape(-1)
        with self._lock:
            if self.finished or self.cancelled or not x.size:
                return
            self._chunks.append(x)
            self._queued += x.size
            self.samples += x.size
            over = self._queued > self._max
        if over:
            self._hub._drop(self, f"audio arrives faster than it is transcribed: more than "
                                  f"{self._max / SAMPLE_RATE:.0f} s queued")  # fmt: skip
        self._hub._wake.set()

    @property
    def queued(self) -> int:
        """Samples appended and not yet taken by the hub."""
        return self._queued

    def finish(self) -> None:
        with self._lock:
            self.finished = True
        self._hub._wake.set()

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
        self._hub._wake.set()

    def _take(self) -> tuple[np.ndarray | None, bool, bool]:
        """(the queued audio as one array or None, finished, cancelled): hub thread."""
        with self._lock:
            chunks, self._chunks, self._queued = list(self._chunks), deque(), 0
            finished, cancelled = self.finished, self.cancelled
        if not chunks:
            return None, finished, cancelled
        return (np.concatenate(chunks) if len(chunks) > 1 else chunks[0]), finished, cancelled

    def _emit(self, kind: str, payload: Any) -> None:
        try:
            self._on_event(kind, payload)
        except Exception:  # a connection's bug must not stop the others
            log.exception("stream %s: event callback failed", self.id)


class StreamHub:
    """See the module docstring. ``model_loader()`` returns ``(model, tokenizer)`` and runs on
    the hub's thread; ``delay_ms``: every stream's delay (None: the model's). ``batch_rows``:
    rows per decoder step; None (default) steps only as many together as the device keeps
    exact (``exact_rows``), a number steps that many even where rows round differently, and
    computes up to that many streams' front ends and decoder steps in one call each for all
    (``front_bank.py``, ``decoder_bank.py``): faster with many streams, and the words may
    change (opt-in). ``max_tokens_per_step``: tokens a stream decodes in one turn at most
    (None: ``TOKENS_PER_TURN``, ``BANK_TOKENS_PER_TURN`` with banks)."""

    def __init__(self, model_loader: Callable[[], tuple[Any, Any]], *, max_streams: int = 64,
                 delay_ms: int | None = None, max_queued_seconds: float = 30.0,
                 max_tokens_per_step: int | None = None,
                 batch_rows: int | None = None):  # fmt: skip
        self._loader, self.max_streams, self.delay_ms = model_loader, max_streams, delay_ms
        self._max_samples = int(max_queued_seconds * SAMPLE_RATE)
        default = BANK_TOKENS_PER_TURN if batch_rows else TOKENS_PER_TURN
        self._max_tokens = max_tokens_per_step or default
        self._batch_rows = batch_rows  # None: as many as keep every stream exact (exact_rows)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._streams: dict[str, Stream] = {}  # admitted, any thread reads the count
        self._ids = itertools.count(1)
        self._stopping = False
        self.ready = threading.Event()  # the model is loaded
        self.error: str | None = None  # why the thread ended early (the model did not load)
        self.model_name = getattr(model_loader, "description", "voxtral")
        self.prompt: list[int] = []  # a stream's prompt (BOS, left padding, delay): usage counts
        self._thread = threading.Thread(target=self._run, name="voxtral-serve", daemon=True)
        # Hub thread only:
        self._model = self._tokenizer = self._group = None
        self._sessions: dict[str, Any] = {}
        self._sent = False  # this turn delivered tokens

    # ---- any thread -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def open(self, on_event: OnEvent) -> Stream:
        """A new stream, or StreamsFull. Audio may be appended at once."""
        with self._lock:
            if self._stopping or self.error:
                raise VoxtralError("the server is shutting down")
            if len(self._streams) >= self.max_streams:
                raise StreamsFull(f"all {self.max_streams} streams are in use: try again later")
            stream = Stream(self, f"stream-{next(self._ids)}", on_event, self._max_samples)
            self._streams[stream.id] = stream
        self._wake.set()
        return stream

    @property
    def active(self) -> int:
        return len(self._streams)

    def stop(self) -> None:
        """End every stream (with an error event) and the thread."""
        with self._lock:
            self._stopping = True
        self._wake.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True if it has. Call it before the process exits."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        if self._thread.native_id is not None:
            wait_os_thread_exit(self._thread.native_id)
        return True

    def _drop(self, stream: Stream, message: str) -> None:
        """End ``stream`` with an error (any thread); its rows leave at the next turn."""
        with stream._lock:
            if stream.cancelled:
                return
            stream.cancelled = True
        stream._emit("error", message)

    # ---- the hub's thread -------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._model, self._tokenizer = self._loader()
            self._prepare()
        except Exception as err:  # said to every client that asks; the server reports it
            log.debug("the model did not load or run", exc_info=True)
            self.error = " ".join(str(err).split()) or type(err).__name__
            self.ready.set()
            return
        self.ready.set()
        try:
            while not self._stopping:
                if not self._turn():
                    self._wake.wait(WAIT_SECONDS)
                    self._wake.clear()
        except Exception as err:  # every stream is told; the thread ends
            log.exception("the server's engine failed")
            self.error = " ".join(str(err).split()) or type(err).__name__
        finally:
            for stream in list(self._streams.values()):
                self._drop(stream, self.error or "the server is shutting down")
                self._forget(stream)

    def _prepare(self) -> None:
        """The streams' group, and everything a first client would otherwise wait for."""
        from voxtral_mlx.decode.audio_pipeline import LIVE_BLOCK
        from voxtral_mlx.decode.session import SessionGroup
        from voxtral_mlx.protocol import StreamProtocol

        # Live-sized encoder blocks: attention of one shape (model/encoder_ring.py).
        # --batch-rows also computes the streams' front ends together (one call for all)
        # and steps their decoder rows in one bank (one attention op per layer).
        banks = min(self._batch_rows, self.max_streams) if self._batch_rows else None
        self._group = SessionGroup(self._model, self._tokenizer, LIVE_BLOCK,
                                   max_rows=self._batch_rows, bank_rows=banks)  # fmt: skip
        proto = StreamProtocol.of(self._model.config, self._tokenizer, self.delay_ms)
        self.prompt, self.delay_ms = list(proto.prompt), proto.delay_ms
        # Before the first client: the measure compiles the multi-row kernels (MLX CUDA), the
        # banks run each shape they can make, and a rehearsal runs every other kernel.
        self._group.batch.plan_rows(self._batch_rows or self.max_streams, self.delay_ms)
        self._rehearse()

    def _rehearse(self, streams: int = 3, seconds: float = 2.4) -> None:
        """Made-up audio through the real path before the first client: ``streams`` streams
        starting 80 ms apart (rows joining the banks, their prompts as bank steps, steps of
        some of them), each ``seconds`` long, to their end (the banks' last calls, rows given
        back); the second stalls for ``STALL_TURNS`` turns and then sends what it held at
        once, as a client on a bad network does (its stream leaves the front bank, catches
        up alone and joins again). A machine's first run of each MLX CUDA kernel compiles it
        (seconds each; cached on disk after): met by the first clients, those seconds put
        every stream seconds behind (docs/benchmarks.md). The sessions leave; nothing of
        theirs is kept."""
        from voxtral_mlx.decode.session import StreamingSession

        rng = np.random.default_rng(0)
        piece = SAMPLE_RATE // 25  # 40 ms, as clients send
        turns = int(seconds * 25)
        stall = range(turns // 3, turns // 3 + STALL_TURNS)  # the second stream's
        held: list[np.ndarray] = []
        sessions = [StreamingSession(self._model, self._tokenizer, self.delay_ms,
                                     group=self._group) for _ in range(streams)]  # fmt: skip
        try:
            for turn in range(turns + 2 * streams):
                for i, session in enumerate(sessions):
                    if 2 * i <= turn < 2 * i + turns:
                        x = (0.01 * rng.standard_normal(piece)).astype(np.float32)
                        if i == 1 and turn - 2 * i in stall:
                            held.append(x)
                            continue
                        if i == 1 and held:
                            x, held = np.concatenate(held + [x]), []
                        session.push(x)
                    elif turn == 2 * i + turns:
                        session.close()
                self._group.step(self._max_tokens)
            for _ in range(100):  # the last words (a few steps)
                if all(session.done for session in sessions):
                    break
                self._group.step(self._max_tokens)
        finally:
            for session in sessions:
                self._group.remove(session)

    def _turn(self) -> bool:
        """Move audio in, one step of every stream, events out; False when there was nothing
        to do."""
        busy = False
        streams = list(self._streams.values())
        fresh = sum(s.id not in self._sessions and not s.cancelled for s in streams)
        if fresh > 1:  # streams starting together: their banks grow once for all of them
            self._group.batch.make_room(fresh)
        for stream in streams:
            audio, finished, cancelled = stream._take()
            if cancelled:
                self._forget(stream)
                continue
            session = self._sessions.get(stream.id) or self._new_session(stream)
            if audio is not None:
                session.push(audio)
                busy = True
            if finished and not session.closed:
                session.close()
                busy = True
        if not self._sessions:
            return busy
        # The first round's tokens (one for each stream with one) go out as soon as they are
        # read: the turn's later rounds (rows with a backlog, streams ending with their right
        # padding) do not hold them back. The rest go out at the end of the turn: a send a
        # round wakes the event loop, whose Python then competes with this thread's (on the
        # 2-core CPU no better than one send a turn: docs/benchmarks.md).
        self._sent = False
        self._group.step(self._max_tokens, self._first_round)
        self._deliver()
        busy = busy or self._sent
        for stream_id, session in list(self._sessions.items()):
            if session.done:
                self._streams[stream_id]._emit("done", None)
                self._forget(self._streams[stream_id])
        return busy

    def _first_round(self) -> None:
        """After each round of a turn's step: the first round's tokens go out."""
        if not self._sent:
            self._deliver()

    def _deliver(self) -> None:
        """Each stream's decoded tokens to its connection (``_sent`` if there were any)."""
        for stream_id, session in self._sessions.items():
            events = session.take()
            if events:
                self._sent = True
                self._streams[stream_id]._emit("tokens", events)

    def _new_session(self, stream: Stream):
        from voxtral_mlx.decode.session import StreamingSession

        session = StreamingSession(self._model, self._tokenizer, self.delay_ms, group=self._group)
        self._sessions[stream.id] = session
        return session

    def _forget(self, stream: Stream) -> None:
        session = self._sessions.pop(stream.id, None)
        if session is not None and self._group is not None:
            self._group.remove(session)
        with self._lock:
            self._streams.pop(stream.id, None)


__all__ = ["Stream", "StreamHub", "StreamsFull"]
