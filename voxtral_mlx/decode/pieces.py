"""Long files cut into pieces that are decoded side by side (batch_decode.py), then stitched.

A file arrives in blocks (bounded memory). Once enough audio is buffered for a *wave* of
``streams`` pieces, the wave is cut, decoded as one batch and its words are kept; the next
wave starts where it ended. Stitching without losing or doubling words:

- Cuts go where the audio is quietest (a 0.3 s window within ``SEARCH_S`` of the even split),
  so they fall in the pauses between words rather than inside one.
- Each piece owns ``[cut_i, cut_i+1)``. It is fed from ``LEAD_S`` before its cut (the model
  has then heard the context leading into its first words; its text for the lead-in is
  dropped) to ``TAIL_S`` after its end (a word ending at the cut is complete; the protocol's
  right padding then flushes the model's delay).
- A word belongs to the piece in whose owned span it starts. The file's first piece starts at
  sample 0 with no lead-in, exactly like a single stream.

Short files (under two pieces) take the single-stream path (transcribe.py), which gives the
offline greedy tokens exactly; a piece is identical to a single stream on its own audio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from voxtral_mlx.audio.mel import SAMPLE_RATE
from voxtral_mlx.decode.batch import BatchDecoder, BatchInterrupted
from voxtral_mlx.text.transcript import TokenEvent, TranscriptBuilder, Word

LEAD_S = 2.0  # audio fed before a piece's owned span
TAIL_S = 1.0  # audio fed after it
SEARCH_S = 3.0  # a cut may move this far to reach the quietest spot
QUIET_WINDOW_S = 0.3
MIN_PIECE_S = 8.0  # shorter pieces would spend most of their steps on lead-in and padding
MAX_PIECE_S = 30.0  # bounds a wave's KV memory (~0.1 MB per position and row at full size)
# A decoder step for 8 rows costs little more than for one (decode/batch.py); past 8, more rows
# hold more memory for less gain (benchmarks/bench_batch.py; figures in docs/benchmarks.md).
DEFAULT_STREAMS = 8


@dataclass(frozen=True)
class Piece:
    """One row of a wave, in samples of the file: fed ``[start, stop)``, owns ``[own, own_end)``.

    ``last``: the file's last piece also owns what is timed at its very end (token times are
    clamped to the audio, so the right padding's tokens sit exactly at ``own_end``).
    """

    start: int
    stop: int
    own: int
    own_end: int
    last: bool = False


def piece_seconds(duration: float | None, streams: int) -> float:
    """Piece length for a file: spread over ``streams`` rows, within the bounds above."""
    if duration is None:
        return MAX_PIECE_S
    return min(MAX_PIECE_S, max(MIN_PIECE_S, duration / streams))


def quiet_cut(audio: np.ndarray, lo: int, hi: int) -> int:
    """Sample index in ``[lo, hi)`` at the centre of the quietest ``QUIET_WINDOW_S`` window."""
    hop = SAMPLE_RATE // 100  # 10 ms frames
    lo, hi = max(0, lo), min(len(audio), hi)
    n = (hi - lo) // hop
    if n <= 1:
        return lo
    frames = audio[lo : lo + n * hop].reshape(n, hop).astype(np.float64)
    energy = (frames**2).mean(axis=1)
    width = max(1, min(n, int(QUIET_WINDOW_S * 100)))
    window_energy = np.convolve(energy, np.ones(width), mode="valid")
    best = int(np.argmin(window_energy))  # first of equals: deterministic
    return lo + (best + width // 2) * hop


def plan_wave(
    audio: np.ndarray, base: int, own: int, pieces: int, piece: int, final: bool
) -> list[Piece]:
    """Cut ``audio`` (file samples ``base..``) into ``pieces`` owned spans from sample ``own``.

    Non-final waves end at a quiet cut near ``own + pieces * piece`` (the buffer must reach
    ``SEARCH_S + TAIL_S`` past it); a final wave owns everything to the end of ``audio``.
    """
    end = base + len(audio)
    search = int(SEARCH_S * SAMPLE_RATE)
    lead, tail = int(LEAD_S * SAMPLE_RATE), int(TAIL_S * SAMPLE_RATE)
    span = (end - own) if final else pieces * piece
    cuts = [own]
    for k in range(1, pieces + 1):
        nominal = own + round(k * span / pieces)
        if k == pieces and final:
            cuts.append(end)
            break
        lo = max(cuts[-1] + SAMPLE_RATE, nominal - search)  # at least 1 s per piece
        hi = min(end - tail, nominal + search)
        cuts.append(base + quiet_cut(audio, lo - base, hi - base) if hi > lo else nominal)
    return [
        Piece(
            start=max(base, a - lead) if a > 0 else 0,
            stop=min(end, b + tail),
            own=a,
            own_end=b,
            last=final and b == end,
        )
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]


def owned_words(events: list[TokenEvent], piece: Piece) -> tuple[list[Word], list[int]]:
    """The words (file times) starting in the piece's owned span, and the tokens timed there."""
    offset = piece.start / SAMPLE_RATE
    lo = piece.own / SAMPLE_RATE
    hi = math.inf if piece.last else piece.own_end / SAMPLE_RATE
    shifted = [e.shifted(offset) for e in events]
    builder = TranscriptBuilder()
    builder.add(shifted)
    words = [w for w in builder.words if lo <= w.start < hi]
    tokens = [e.token_id for e in shifted if lo <= e.start < hi]
    return words, tokens


class ParallelTranscriber:
    """Feed a file's samples in blocks; waves of pieces are decoded as they fill up.

    ``feed``/``close`` run the model (MLX thread). ``words``/``tokens`` grow wave by wave;
    ``seconds_done`` is the audio whose words are final; ``on_progress(seconds)`` is also
    called during a wave with an estimate of the audio decoded so far.
    """

    def __init__(self, model, tokenizer, delay_ms: int | None = None, streams: int = DEFAULT_STREAMS,
                 duration: float | None = None, on_progress=None):  # fmt: skip
        self.decoder = BatchDecoder(model, tokenizer, delay_ms)
        self.delay_ms = self.decoder.delay_ms
        self.streams = max(1, streams)
        self.piece = int(piece_seconds(duration, self.streams) * SAMPLE_RATE)
        self.words: list[Word] = []
        self.tokens: list[int] = []
        self._buf: list[np.ndarray] = []
        self._buffered = 0
        self._base = 0  # file sample index of the buffer's first sample
        self._own = 0  # first sample not owned by a finished piece
        self.total_samples = 0
        self.on_progress = on_progress

    @property
    def seconds_done(self) -> float:
        return self._own / SAMPLE_RATE

    def feed(self, samples: np.ndarray) -> None:
        self._buf.append(np.asarray(samples, dtype=np.float32).reshape(-1))
        self._buffered += len(self._buf[-1])
        self.total_samples += len(self._buf[-1])
        need = self.streams * self.piece + int((SEARCH_S + TAIL_S) * SAMPLE_RATE)
        while self._base + self._buffered - self._own >= need:
            self._wave(self.streams, final=False)

    def close(self) -> None:
        rest = self._base + self._buffered - self._own
        if rest > 0:
            self._wave(min(self.streams, max(1, math.ceil(rest / self.piece))), final=True)

    def _wave(self, pieces: int, final: bool) -> None:
        audio = np.concatenate(self._buf) if len(self._buf) > 1 else self._buf[0]
        plan = plan_wave(audio, self._base, self._own, pieces, self.piece, final)
        clips = [audio[p.start - self._base : p.stop - self._base] for p in plan]

        span = (plan[-1].own_end - self._own) / SAMPLE_RATE

        def progress(fraction: float) -> None:
            if self.on_progress is not None:
                self.on_progress(self.seconds_done + fraction * span)

        try:
            events_per_piece = self.decoder.decode(clips, on_progress=progress)
        except BatchInterrupted as stop:
            # Keep what every row decided: a token is never revised, so a running row's tokens
            # so far are final (its last word may stop mid-word, as live captions do).
            for piece, events in zip(plan, stop.events, strict=True):
                self._keep(piece, events)
            raise
        for piece, events in zip(plan, events_per_piece, strict=True):
            self._keep(piece, events)
        self._own = plan[-1].own_end
        keep = max(self._base, self._own - int(LEAD_S * SAMPLE_RATE))
        audio = audio[keep - self._base :].copy()  # not a view pinning the whole wave
        self._buf, self._base, self._buffered = [audio], keep, len(audio)

    def _keep(self, piece: Piece, events: list[TokenEvent]) -> None:
        words, tokens = owned_words(events, piece)
        self.words += words
        self.tokens += tokens

    @property
    def seconds_heard(self) -> float:
        """End of the last word kept (beyond ``seconds_done`` after an interrupted wave)."""
        return max([self.seconds_done] + [w.end for w in self.words])
