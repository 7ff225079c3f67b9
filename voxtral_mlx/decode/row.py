"""One row of a :class:`~voxtral_mlx.decode.rows.RowBatch` and the feed it reads.

A *feed* is the encoder work over one audio stream from one start point (mel, conv stem,
encoder, adapter: none of it depends on the delay), with the samples its rows may still need to
restart after an EOS. A *row* is one delay's decoding of a feed: its protocol (prompt, padding,
token times), stepper, KV lane, detokenizer and tokens. Decoder position ``p`` of every row on
a feed reads embedding ``p``. MLX thread only.
"""

from __future__ import annotations

import enum

import mlx.core as mx
import numpy as np

from voxtral_mlx.decode.audio_pipeline import AudioPipeline
from voxtral_mlx.model.fast_step import FastStepper
from voxtral_mlx.model.lanes import Lane
from voxtral_mlx.protocol import StreamProtocol
from voxtral_mlx.text.detokenizer import StreamingDetokenizer
from voxtral_mlx.text.transcript import TokenEvent


class State(enum.Enum):
    WAITING = "waiting"  # not enough audio for the prompt yet
    PREFILLED = "prefilled"  # decoding one token per 80 ms as audio arrives
    DRAINING = "draining"  # the audio ended: right padding in, decoding the rest
    DONE = "done"


class Feed:
    """One audio stream's encoder work from one start point, and the samples its rows may
    still need (to restart after an EOS). MLX thread only."""

    def __init__(self, model, n_left: int, right_pad: int, block: int, offset: int = 0):
        self.pipe = AudioPipeline(model, n_left, right_pad, block)
        self.right_pad = right_pad
        self.offset = offset  # source sample index of this feed's first real sample
        self.history: list[np.ndarray] = []
        self.history_start = 0  # feed-relative sample index of history[0]
        self.rows: list[Row] = []

    @property
    def finished(self) -> bool:
        """Every position's embedding is available (the audio ended and was computed)."""
        return self.pipe.finished

    @property
    def closed(self) -> bool:
        """No more audio comes (its end may still be computing, in a bank)."""
        return self.pipe.closed

    def push(self, samples: np.ndarray) -> None:
        self.history.append(samples)
        self.pipe.push(samples)

    def finish(self) -> None:
        self.pipe.finish()

    def samples_from(self, start: int) -> np.ndarray:
        """This feed's samples from feed-relative index ``start`` on."""
        rest = np.concatenate(self.history) if self.history else np.zeros(0, np.float32)
        return rest[max(0, start - self.history_start) :]

    def forget(self) -> None:
        """Drop embeddings and samples no row of this feed needs any more."""
        if not self.rows:
            return
        self.pipe.drop_before(min(row.pos for row in self.rows))
        keep = min(row.untranscribed_sample() for row in self.rows)
        while self.history and self.history_start + len(self.history[0]) <= keep:
            self.history_start += len(self.history.pop(0))


class Row:
    """One delay's decoding of a feed. Read ``tokens``, ``state``, ``protocol``; the batch
    drives the rest."""

    def __init__(self, model, tokenizer, feed: Feed, protocol: StreamProtocol):
        self.protocol = protocol
        self.stepper = FastStepper.for_delay(model.decoder, protocol.n_delay)
        self.prompt = list(protocol.prompt)
        self.detok = StreamingDetokenizer(tokenizer)
        self.tokens: list[int] = []
        self._join(feed)

    def _join(self, feed: Feed) -> None:
        self.feed = feed
        feed.rows.append(self)
        self.lane: Lane | None = None  # shared with other rows at the same position, maybe
        self.lane_row = 0  # this row's index in its lane
        self.pos = 0  # next decoder position to queue
        self.emitted = 0  # positions whose token has been emitted
        # Queued, unread: (the step's tokens, this row's index in them, its position).
        self.pending: tuple[mx.array, int, int] | None = None
        self.prev: int | None = None
        self.state = State.WAITING

    @property
    def done(self) -> bool:
        return self.state is State.DONE

    def last_position(self) -> int | None:
        """Positions ``< this`` may be fed; None while the audio is open. A feed padded for a
        longer delay has more right padding than this row reads."""
        if not self.feed.finished:
            return None
        return self.feed.pipe.available - 1 - (self.feed.right_pad - self.protocol.right_pad_tokens)

    def can_prefill(self) -> bool:
        p, last = len(self.prompt), self.last_position()
        return self.lane is None and self.feed.pipe.available >= p and (last is None or last >= p)

    def can_step(self) -> bool:
        last = self.last_position()
        return (
            self.lane is not None
            and self.pos < self.feed.pipe.available
            and (last is None or self.pos < last)
        )

    def maybe_done(self) -> None:
        last = self.last_position()
        if (
            self.pending is None
            and last is not None
            and (self.pos >= last or last < len(self.prompt))
        ):
            self.state = State.DONE

    def untranscribed_sample(self) -> int:
        """Feed-relative sample index of the first audio no emitted token describes yet."""
        return max(0, self.protocol.token_sample(self.emitted))

    def event(self, token: int, position: int, sample_rate: int) -> TokenEvent:
        piece = self.detok.push_event(token)
        proto = self.protocol
        start = (self.feed.offset + proto.token_sample(position)) / sample_rate
        total = (self.feed.offset + self.feed.pipe.real_samples) / sample_rate
        end = start + proto.token_seconds
        return TokenEvent(token, piece.text, min(max(start, 0.0), total),
                          min(max(end, 0.0), total), piece.word_start)  # fmt: skip


def step_inputs(rows: list[Row], prev: dict) -> mx.array:
    """The decoder inputs ``[rows, 1, dim]`` of one step of ``rows``: each row's previous
    token (``prev[id(row)]``, see :func:`step_ids`) and the audio at its next position."""
    ids = step_ids([prev[id(r)] for r in rows]).reshape(len(rows), 1)
    audio = mx.concatenate([r.feed.pipe.embeddings(r.pos, r.pos + 1) for r in rows])
    return rows[0].stepper.inputs(ids, audio)


def step_ids(prevs: list) -> mx.array:
    """The rows' previous tokens as one array: read-back ints, or (lazy tokens, index) pairs;
    a whole step's tokens in order are used as they are (no slicing ops)."""
    arrays = {id(p[0]) for p in prevs if isinstance(p, tuple)}
    if len(arrays) == 1 and all(isinstance(p, tuple) for p in prevs):
        tokens = prevs[0][0]
        if [p[1] for p in prevs] == list(range(tokens.shape[0])):
            return tokens
    return mx.concatenate(
        [p[0][p[1] : p[1] + 1] if isinstance(p, tuple) else mx.array([p]) for p in prevs]
    )


__all__ = ["Feed", "Row", "State", "step_ids", "step_inputs"]
