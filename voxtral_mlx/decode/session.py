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

import enum
import threading
from collections import deque

import mlx.core as mx
import numpy as np

from voxtral_mlx.decode.audio_pipeline import FILE_BLOCK, AudioPipeline
from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.model import VoxtralRealtime
from voxtral_mlx.model.fast_step import FastStepper
from voxtral_mlx.protocol import StreamProtocol
from voxtral_mlx.text.detokenizer import StreamingDetokenizer
from voxtral_mlx.text.tokenizer import Tokenizer
from voxtral_mlx.text.transcript import TokenEvent

CLEAR_CACHE_EVERY = 512  # tokens


class State(enum.Enum):
    WAITING = "waiting"  # not enough audio for the prompt yet
    PREFILLED = "prefilled"  # decoding one token per 80 ms as audio arrives
    DRAINING = "draining"  # close() seen: right padding in, decoding the rest
    DONE = "done"


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
    ):
        self.model, self.tokenizer = model, tokenizer
        self.protocol = proto = StreamProtocol.of(model.config, tokenizer, delay_ms)
        self.delay_ms, self.n_delay, self.n_left = proto.delay_ms, proto.n_delay, proto.n_left
        self.samples_per_token, self.sample_rate = proto.samples_per_token, proto.sample_rate
        self.prompt = list(proto.prompt)
        self.encoder_block = encoder_block
        # The prefill and the steps after it: few kernels per token (model/fast_step.py).
        self._stepper = FastStepper.for_delay(model.decoder, self.n_delay)
        self._inbox = _Inbox()
        self._pushed: list[np.ndarray] = []  # push()ed on this thread, for the next step
        self._detok = StreamingDetokenizer(tokenizer)
        self.tokens: list[int] = []
        self._offset_samples = 0  # real-audio sample index where the current segment starts
        self._history: list[np.ndarray] = []  # this segment's samples not yet safely transcribed
        self._history_start = 0  # segment-relative sample index of _history[0]
        self._closed_seen = False
        self._reset_segment()

    @property
    def stepper(self) -> FastStepper:
        """The decoder stepper for this session's delay (batch_decode.py drives one too)."""
        return self._stepper

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
        return self.state is State.DONE

    @property
    def audio_seconds(self) -> float:
        """Seconds of real audio received so far."""
        return (self._offset_samples + self._pipe.real_samples) / self.sample_rate

    def step(self, max_tokens: int | None = None) -> list[TokenEvent]:
        """Run the model on everything fed or pushed; decode at most ``max_tokens`` tokens."""
        chunks, closed = self._inbox.take()
        if self._pushed:
            chunks, self._pushed = chunks + self._pushed, []
        if chunks:
            # One push per step however the producer sliced the audio (mel cost is per call).
            x = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
            self._history.append(x)
            self._pipe.push(x)
        if closed and not self._closed_seen:
            self._closed_seen = True
            self._pipe.finish()
            if self.state is not State.DONE:
                self.state = State.DRAINING
        events: list[TokenEvent] = []
        budget = float("inf") if max_tokens is None else max_tokens
        while budget > 0 and self.state is not State.DONE:
            token = self._next_token()
            if token is None:
                break
            budget -= 1
            events.append(self._event(token, self._emitted - 1))
            if token == self.tokenizer.eos_id:
                self._on_eos()
        return events

    # ---- internals --------------------------------------------------------------------------
    def _reset_segment(self) -> None:
        right = self.protocol.right_pad_tokens
        self._pipe = AudioPipeline(self.model, self.n_left, right, self.encoder_block)
        self._prefilled = False
        self._pos = 0  # next decoder position to queue
        self._emitted = 0  # positions whose token has been emitted
        self._pending: tuple[mx.array, int] | None = None  # queued (token, position), not read yet
        self._prev: int | None = None
        self.state = State.WAITING

    def _last_position(self) -> int | None:
        """Positions ``< this`` may be fed; None while the stream is open."""
        return self._pipe.available - 1 if self._pipe.finished else None

    def _launch(self, prev: int | mx.array | None) -> bool:
        """Queue the model work for the next position (prefill first); False if it cannot run yet.

        ``prev`` may still be a lazy array: the next step is built on the previous token before
        that token is read back, and ``async_eval`` starts it, so the host's Python work for one
        token overlaps the device's compute for the previous one (double buffering).
        """
        avail, last = self._pipe.available, self._last_position()
        if not self._prefilled:
            p = len(self.prompt)
            if avail < p or (last is not None and last < p):
                return False
            x = self._stepper.inputs(mx.array([self.prompt]), self._pipe.embeddings(0, p))
            self.state = State.DRAINING if self._pipe.finished else State.PREFILLED
            position = p - 1
            token = self._stepper.prefill(x)
            self._prefilled = True
        else:
            position = self._pos
            if (last is not None and position >= last) or position >= avail:
                return False
            ids = prev.reshape(1, 1) if isinstance(prev, mx.array) else mx.array([[prev]])
            x = self._stepper.inputs(ids, self._pipe.embeddings(position, position + 1))
            token = self._stepper.step(x)
        mx.async_eval(token)
        self._pending = (token, position)
        self._pos = position + 1
        self._pipe.drop_before(self._pos)
        return True

    def _next_token(self) -> int | None:
        if self._pending is None and not self._launch(self._prev):
            self._maybe_done()
            return None
        token_arr, position = self._pending
        self._pending = None
        self._launch(token_arr)  # queue position + 1 before waiting for this token
        self._prev = int(token_arr.item())  # the one host sync per token
        self.tokens.append(self._prev)
        self._emitted = position + 1
        self._trim_history()
        if len(self.tokens) % CLEAR_CACHE_EVERY == 0:
            mx.clear_cache()  # release freed buffers on long sessions
        self._maybe_done()
        return self._prev

    def _maybe_done(self) -> None:
        last = self._last_position()
        if (
            self._pending is None
            and last is not None
            and (self._pos >= last or last < len(self.prompt))
        ):
            self.state = State.DONE

    def _event(self, token: int, position: int) -> TokenEvent:
        piece = self._detok.push_event(token)
        start = (self._offset_samples + self.protocol.token_sample(position)) / self.sample_rate
        end = start + self.protocol.token_seconds
        total = self.audio_seconds
        return TokenEvent(
            token,
            piece.text,
            min(max(start, 0.0), total),
            min(max(end, 0.0), total),
            piece.word_start,
        )

    def _untranscribed_sample(self) -> int:
        """Segment-relative sample index of the first audio no emitted token describes yet."""
        return max(0, self.protocol.token_sample(self._emitted))

    def _trim_history(self) -> None:
        keep_from = self._untranscribed_sample()
        while self._history and self._history_start + len(self._history[0]) <= keep_from:
            self._history_start += len(self._history.pop(0))

    def _on_eos(self) -> None:
        """Restart on the untranscribed audio (see module docstring); DONE if there is none.

        The detokenizer is kept: the text stream simply continues in the next segment.
        """
        start = self._untranscribed_sample()
        rest = np.concatenate(self._history) if self._history else np.zeros(0, np.float32)
        rest = rest[max(0, start - self._history_start) :]
        if self._closed_seen and rest.size == 0:
            self.state = State.DONE
            return
        self._offset_samples += start
        self._history, self._history_start = [rest], 0
        self._reset_segment()
        self._pipe.push(rest)
        if self._closed_seen:
            self._pipe.finish()
            self.state = State.DRAINING
