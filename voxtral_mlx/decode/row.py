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
    return rows[0].stepper.inputs(ids, step_audio(rows))


def step_audio(rows: list[Row]) -> mx.array:
    """Each row's embedding at its next position, ``[rows, 1, dim]``: one gather per array
    they lie in (a front bank's call holds every member's), not an op per row."""
    groups: dict[int, tuple[mx.array, list, list, list]] = {}  # array id -> (array, i, rows, at)
    for i, r in enumerate(rows):
        array, row, at = r.feed.pipe.embedding_at(r.pos)
        group = groups.setdefault(id(array), (array, [], [], []))
        group[1].append(i)
        group[2].append(row)
        group[3].append(at)
    parts, order = [], []
    for array, members, lines, at in groups.values():
        if len(members) == 1:
            parts.append(array[lines[0] : lines[0] + 1, at[0] : at[0] + 1])
        else:
            parts.append(array[mx.array(lines), mx.array(at)][:, None])
        order += members
    return _in_order(parts, order)


def step_ids(prevs: list) -> mx.array:
    """The rows' previous tokens as one array ``[rows]``: read-back ints (one array for all),
    or (lazy tokens, index) pairs (one gather per array; a whole step's tokens in order are
    used as they are). A few ops whatever the number of rows."""
    ints = [i for i, p in enumerate(prevs) if not isinstance(p, tuple)]
    parts, order = [], []
    if ints:
        parts.append(mx.array([prevs[i] for i in ints], mx.int32))
        order += ints
    groups: dict[int, tuple[mx.array, list, list]] = {}  # array id -> (array, i, index)
    for i, p in enumerate(prevs):
        if isinstance(p, tuple):
            group = groups.setdefault(id(p[0]), (p[0], [], []))
            group[1].append(i)
            group[2].append(p[1])
    for tokens, members, index in groups.values():
        if index == list(range(tokens.shape[0])):
            parts.append(tokens)
        elif len(index) == 1:
            parts.append(tokens[index[0] : index[0] + 1])
        else:
            parts.append(tokens[mx.array(index)])
        order += members
    if len({p.dtype for p in parts}) > 1:  # read-back ints with argmax's uint32
        parts = [p.astype(mx.int32) for p in parts]
    return _in_order(parts, order)


def _in_order(parts: list[mx.array], order: list[int]) -> mx.array:
    """``parts`` (their rows are the items ``order`` names, in turn) as one array in the
    items' order."""
    out = parts[0] if len(parts) == 1 else mx.concatenate(parts)
    if order != sorted(order):
        where = [0] * len(order)
        for place, i in enumerate(order):
            where[i] = place
        out = out[mx.array(where)]
    return out


__all__ = ["Feed", "Row", "State", "step_audio", "step_ids", "step_inputs"]
