"""StreamingSession: the realtime transcription protocol over an incremental model.

One session = one stream of 16 kHz mono audio (a microphone, or a file fed in blocks; files use
the very same path). Protocol (shared/model-spec.md §3):

- 32 tokens (2.56 s) of silence are prepended; the prompt is ``BOS + [STREAMING_PAD] x (32 +
  delay)``; decoder position ``p`` sees ``audio_embedding[p] + embed(token emitted at p - 1)``.
- One token per 80 ms, as soon as that 80 ms of audio is in. ``close()`` appends right padding
  (``delay + 1 + 10`` tokens) so the last words come out; as in transformers' ``generate``
  the last padded position is never fed, so a file yields exactly the offline token ids.
- A token emitted at position ``p`` describes the audio ``delay`` tokens earlier: its time is
  ``(p - 32 - delay) * 80 ms`` into the audio.

EOS before the audio ends: the model marks the end of an utterance. We then restart the whole
session state (encoder, decoder, left padding and prompt) on the audio that follows what has
been transcribed, the ``delay`` tokens after the EOS position included, so nothing said after
the EOS is lost and the model again sees the start-of-stream context it was trained on (the
alternative, continuing the decoder past EOS, feeds it a sequence it never saw in training).
Times keep counting from the original start.
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

from voxtral_mlx.decode.audio_pipeline import FILE_BLOCK
from voxtral_mlx.decode.rows import RowBatch, State
from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.model import VoxtralRealtime
from voxtral_mlx.model.fast_step import FastStepper
from voxtral_mlx.text.tokenizer import Tokenizer
from voxtral_mlx.text.transcript import TokenEvent

__all__ = ["SessionGroup", "State", "StreamingSession"]


class _Inbox:
    """Thread-safe hand-off of sample chunks from producers on other threads to the MLX
    thread (``feed``); no MLX here. A producer on the MLX thread needs no queue (``push``)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._chunks: deque[np.ndarray] = deque()
        self._closed = False

    def put(self, samples: np.ndarray) -> None:
        with self._lock:
            if self._closed:
                raise VoxtralError("audio fed after the stream was closed")
            self._chunks.append(samples)

    def close(self) -> None:
        with self._lock:
            self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def take(self) -> tuple[list[np.ndarray], bool]:
        with self._lock:
            chunks, self._chunks = list(self._chunks), deque()
            return chunks, self._closed


class StreamingSession:
    """Feed audio from any thread, step the model on the MLX thread, get timed token events.

    The single-row case of :class:`~voxtral_mlx.decode.rows.RowBatch` (one feed, one row): the
    live engine's rows and a session run the same code. ``draft_delay_ms``: also decode the same
    audio at that (shorter) delay, a second row on the same feed; its events of each step are in
    ``draft_events``, its ids in ``draft_tokens``; ``step`` returns the main row's, which are
    exactly a session of ``delay_ms`` alone.

    Thread contract: ``feed`` and ``close`` may be called from any thread (they only queue
    numpy data, no MLX). ``push``, ``step`` and everything else must run on the thread that
    loaded the model. A session takes its audio one way: ``feed`` (a copy, through a
    thread-safe inbox) or ``push`` (no queue, no copy: for a producer on the MLX thread, such
    as the live transcriber). Events carry every emitted token id, the text that became valid
    UTF-8 with it, its audio time in seconds and whether a new word starts there.
    """

    def __init__(
        self,
        model: VoxtralRealtime,
        tokenizer: Tokenizer,
        delay_ms: int | None = None,
        encoder_block: int = FILE_BLOCK,
        draft_delay_ms: int | None = None,
        group: SessionGroup | None = None,
    ):
        self.model, self.tokenizer, self.encoder_block = model, tokenizer, encoder_block
        if group is None:  # a group of its own; one row needs no measure of exact rows
            group = SessionGroup(model, tokenizer, encoder_block, max_rows=None if draft_delay_ms else 1)  # fmt: skip
        self._group = group
        batch = group.batch
        feed = batch.add_feed([delay_ms] + ([draft_delay_ms] if draft_delay_ms else []))
        self._row = batch.add_row(feed, delay_ms)
        self._draft = batch.add_row(feed, draft_delay_ms) if draft_delay_ms else None
        self.draft_delay_ms = self._draft.protocol.delay_ms if self._draft else None
        self.draft_events: list[TokenEvent] = []
        self.protocol = proto = self._row.protocol
        self.delay_ms, self.n_delay, self.n_left = proto.delay_ms, proto.n_delay, proto.n_left
        self.samples_per_token, self.sample_rate = proto.samples_per_token, proto.sample_rate
        self.prompt = list(proto.prompt)
        self._inbox = _Inbox()
        self._pushed: list[np.ndarray] = []  # push()ed on this thread, for the next step
        self._closed_seen = False
        self._events: list[TokenEvent] = []  # decoded by any step of the group, not yet returned
        self._draft_events: list[TokenEvent] = []
        group.sessions.append(self)

    @property
    def closed(self) -> bool:
        """``close`` was called: no more audio comes."""
        return self._inbox.closed

    @property
    def group(self) -> SessionGroup:
        """The group whose step decodes this session (its own, unless one was given)."""
        return self._group

    @property
    def stepper(self) -> FastStepper:
        """The decoder stepper for this session's delay (its compiled functions are shared)."""
        return self._row.stepper

    @property
    def tokens(self) -> list[int]:
        return self._row.tokens

    @property
    def draft_tokens(self) -> list[int]:
        return self._draft.tokens if self._draft else []

    @property
    def state(self) -> State:
        return self._row.state

    # ---- any thread -------------------------------------------------------------------------
    def feed(self, samples) -> None:
        """Queue mono float32 samples at the model's rate (16 kHz). Copies; no MLX work."""
        x = np.array(samples, dtype=np.float32, copy=True).reshape(-1)
        if x.size:
            self._inbox.put(x)

    def close(self) -> None:
        """No more audio will come: the next ``step`` calls flush the last words."""
        self._inbox.close()

    # ---- MLX thread -------------------------------------------------------------------------
    def push(self, samples: np.ndarray) -> None:
        """Hand mono float32 samples at 16 kHz to the next ``step``: no queue, no copy. The
        session keeps ``samples``, so the caller must not change them afterwards."""
        if self._inbox.closed:
            raise VoxtralError("audio fed after the stream was closed")
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        if x.size:
            self._pushed.append(x)

    @property
    def done(self) -> bool:
        return self._row.done and (self._draft is None or self._draft.done)

    @property
    def audio_seconds(self) -> float:
        """Seconds of real audio received so far."""
        feed = self._row.feed
        return (feed.offset + feed.pipe.real_samples) / self.sample_rate

    def step(self, max_tokens: int | None = None) -> list[TokenEvent]:
        """Run the model on everything fed or pushed; decode at most ``max_tokens`` tokens per
        row. In a shared :class:`SessionGroup` this steps every session of the group; each
        gets its events at its own next ``step`` (or :meth:`take`)."""
        self._group.step(max_tokens)
        return self.take()

    def take(self) -> list[TokenEvent]:
        """The main row's events decoded since the last ``step``/``take`` (and the draft row's
        in ``draft_events``), without stepping."""
        events, self._events = self._events, []
        self.draft_events, self._draft_events = self._draft_events, []
        return events

    def _give_audio(self) -> None:
        """Hand what was fed or pushed, and the end of the stream, to the rows' feeds."""
        chunks, closed = self._inbox.take()
        if self._pushed:
            chunks, self._pushed = chunks + self._pushed, []
        if chunks:
            # One push per step however the producer sliced the audio (mel cost is per call).
            x = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
            for feed in self._feeds():
                feed.push(x)
        if closed and not self._closed_seen:
            self._closed_seen = True
            for feed in self._feeds():
                self._group.batch.finish(feed)

    def _collect(self, events: list) -> None:
        self._events += [e for row, e in events if row is self._row]
        self._draft_events += [e for row, e in events if row is self._draft]

    def _rows(self) -> list:
        return [self._row] + ([self._draft] if self._draft is not None else [])

    def _feeds(self) -> list:
        """The rows' feeds: one, unless a row restarted on a feed of its own after an EOS."""
        feeds = [self._row.feed]
        if self._draft is not None and self._draft.feed is not self._row.feed:
            feeds.append(self._draft.feed)
        return feeds


class SessionGroup:
    """Sessions whose rows are stepped together as one :class:`RowBatch` (the microphone and
    the computer's audio of one live recording): each session's tokens are exactly what it
    gives alone, since a row's result does not depend on the other rows of its batch
    (``exact_rows``). MLX thread only. A session joins by being made with ``group=``; it
    leaves once it is done (its rows removed, its last events kept for its ``take``).
    ``max_rows``: rows per decoder step; None measures it (see ``RowBatch``). ``bank_rows``:
    opt-in, live sessions' front ends and decoder rows computed together in banks of that many
    rows (``front_bank.py``, ``decoder_bank.py``; may change words)."""

    def __init__(self, model: VoxtralRealtime, tokenizer: Tokenizer,
                 encoder_block: int = FILE_BLOCK, max_rows: int | None = None,
                 bank_rows: int | None = None):  # fmt: skip
        self.batch = RowBatch(model, tokenizer, encoder_block, max_rows=max_rows,
                              bank_rows=bank_rows)  # fmt: skip
        self.sessions: list[StreamingSession] = []

    def remove(self, session: StreamingSession) -> None:
        """``session`` leaves now, decoded or not (a client that went away): its rows are
        removed from the batch; the other sessions are not disturbed."""
        if session in self.sessions:
            self.sessions.remove(session)
            for row in session._rows():
                if row in self.batch.rows:
                    self.batch.remove_row(row)

    def step(self, max_tokens: int | None = None, on_round=None) -> None:
        """Give every session's audio to its feeds, then one batch step for all rows; the
        events wait in their sessions (``take``). ``on_round()``: called after each round
        of the step that decoded tokens, once they are in their sessions (``RowBatch.step``)."""
        for session in self.sessions:
            session._give_audio()

        def collect(events: list) -> None:
            for session in self.sessions:
                session._collect(events)
            if on_round is not None:
                on_round()

        self.batch.step(max_tokens, collect)
        for session in list(self.sessions):
            if session.done:
                self.remove(session)
