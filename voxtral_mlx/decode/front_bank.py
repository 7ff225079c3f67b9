"""FrontBank: the live front end of many streams in one call for all (opt-in).

A server's streams each ran their own front end per token: the mel, the conv stem, 32 encoder
layers and the adapter, ~4.5 ms of host time each on the H200 whatever the batch (MLX launches
every op from the host; docs/benchmarks.md), so one MLX thread could serve some 20 streams. In
the bank each member stream is a row, and one call computes a token for every row that has one.
The matmuls then see many rows at once, which some devices round differently from one row
(MLX CUDA's dense bfloat16 matmuls: docs/benchmarks.md), so the bank goes with the server's
opt-in ``--batch-rows`` (faster, the words may change), never by default.

A stream joins once it is past its start (the left padding's silence, copied in by
``silent_start.py``: at once) with no token waiting: its conv-stem buffers and its encoder ring
(``model/encoder_ring.py``; a row has the same layout) are copied into its row. A call computes
``k`` tokens for each row with ``k`` ready (1 while streams keep up; a power of two up to the
ring's block for a backlog or a stream's end), rows without them compute on zeros, keep their
conv buffers and write their keys to a spare slot no query sees, so a call has one of a few
shapes. A stream whose audio ends has its right padding to compute (18 tokens at a 480 ms
delay) and leaves, finished, once computed: where a call costs its host dispatch whatever its
rows (a GPU) it computes it in the bank's calls, ``END_TOKENS_PER_RUN`` tokens a run (one: in
the call every member makes, not in calls of 16 that compute every row); where a call costs
its rows' arithmetic (the CPU), a few ending at once compute theirs alone (``_end_alone``). A
stream more than ``max_backlog`` tokens further behind than the bank's median member (a
client that stalled and then sent its audio in a burst) leaves, its state copied back,
catches up alone and joins again later. Members behind together (the server is busy) stay: a
call computes their backlog for all of them, where alone each would cost calls of its own (on
the H200 that turned a busy moment into a collapse: docs/benchmarks.md). MLX thread only.
"""

from __future__ import annotations

import statistics

import mlx.core as mx
import numpy as np

from voxtral_mlx.audio.mel import FRAMES_PER_TOKEN, HOP_LENGTH, segments_to_log_mel
from voxtral_mlx.decode.audio_pipeline import LIVE_BLOCK, AudioPipeline
from voxtral_mlx.decode.bank_rows import room_for, rows_to_keep, warm_sizes
from voxtral_mlx.model import VoxtralRealtime
from voxtral_mlx.model.encoder import ConvStemState
from voxtral_mlx.model.encoder_ring import RingCache, RowRings
from voxtral_mlx.model.encoder_rows import encode_rows

# Tokens of a member's end (its right padding) a run computes on a GPU: one, in the call of
# one token every member makes a turn anyway, and then in the decoder's round every row makes
# anyway, so an end costs the others nothing. More is sooner done, but costs every stream:
# on the H200 at 4-bit, 64 streams ending over 2 s, 3 a run (one more call of 2 tokens for
# every row, 3 decoder rounds a turn) made the p95 108-127 ms against 90-92 with 1, for the
# last words 150 ms sooner (done p50 640-690 ms against 800-830 ms); ends alone (two calls of
# one row each, ~5 ms of dispatch apiece) or in calls of 16 tokens for every row made turns
# of 150-340 ms while streams ended (docs/benchmarks.md).
END_TOKENS_PER_RUN = 1


class FrontBank:
    """Up to ``rows`` member streams' front ends; ``join``/``leave``/``drop`` members, ``run``
    them. Rows are made as members come, in powers of two (a call computes every row made:
    a few shapes, and a bank of 4 streams on a Mac does not compute 64 rows), and given back
    when few are left (``_shrink``)."""

    def __init__(self, model: VoxtralRealtime, rows: int, max_backlog: int = 4,
                 ends_alone: bool | None = None):  # fmt: skip
        enc, args = model.encoder, model.encoder.args
        self.model, self.max_backlog, self.capacity = model, max_backlog, rows
        # How members' ends are computed (the module docstring); None: by the device.
        self.ends_alone = mx.default_device() == mx.cpu if ends_alone is None else ends_alone
        self.dtype = model.decoder.norm.weight.dtype
        # Tokens a row in one call at most: the ring's block of conv frames.
        self.largest = LIVE_BLOCK // model.config.downsample_factor
        self.n_mels = args.audio_encoding_args.num_mel_bins
        self.rings = RowRings(len(enc.layers), 1, args.sliding_window, LIVE_BLOCK,
                              args.kv_heads, args.head_dim, self.dtype)  # fmt: skip
        state = enc.new_conv_state(1, self.dtype)
        self.buf1, self.buf2 = state.buf1, state.buf2
        self.members: list[AudioPipeline | None] = [None]

    def can_join(self, pipe: AudioPipeline) -> bool:
        """A live stream past its start, alone, with no token waiting, and a row to take."""
        ring = pipe.enc_cache[0]
        return (
            isinstance(ring, RingCache) and ring.slots == self.rings.slots and ring.offset > 0
            and pipe.bank is None and not pipe.closed and not pipe.mel.quanta_ready()
            and (None in self.members or len(self.members) < self.capacity)
        )  # fmt: skip

    def join(self, pipe: AudioPipeline) -> None:
        self.make_room(1)  # full: the next bank size (double, up to the capacity)
        row = self.members.index(None)
        self.buf1[row : row + 1] = pipe.conv_state.buf1
        self.buf2[row : row + 1] = pipe.conv_state.buf2
        self.rings.put(row, pipe.enc_cache)
        self.members[row] = pipe
        pipe.bank, pipe.bank_row = self, row

    def make_room(self, more: int) -> None:
        """Grow once for ``more`` streams about to join (``room_for``)."""
        rows = room_for(self.members, more, self.capacity)
        if rows is not None:
            self._grow(rows)

    def leave(self, pipe: AudioPipeline) -> None:
        """``pipe`` goes on alone from where its row is."""
        row = pipe.bank_row
        pipe.conv_state.buf1 = mx.contiguous(self.buf1[row : row + 1])
        pipe.conv_state.buf2 = mx.contiguous(self.buf2[row : row + 1])
        self.rings.get(row, pipe.enc_cache)
        self.drop(pipe)

    def drop(self, pipe: AudioPipeline) -> None:
        """``pipe``'s row is free (its stream is gone: nothing to copy back)."""
        if pipe.bank is self:
            self.members[pipe.bank_row] = None
            pipe.bank, pipe.bank_row = None, None

    def _shrink(self) -> None:
        """Give rows back once few are members (``bank_rows.py``): a call computes every row
        made. With no member left one row is kept, its buffers small."""
        kept = rows_to_keep(self.members)
        if kept is None:
            return
        self.rings.keep(kept)
        index = mx.array(kept)
        self.buf1, self.buf2 = self.buf1[index], self.buf2[index]
        self.members = [self.members[r] for r in kept]
        for row, pipe in enumerate(self.members):
            if pipe is not None:
                pipe.bank_row = row

    def _grow(self, rows: int) -> None:
        more = rows - len(self.members)
        self.rings.grow(rows)
        pad = [(0, more), (0, 0), (0, 0)]
        self.buf1, self.buf2 = mx.pad(self.buf1, pad), mx.pad(self.buf2, pad)
        self.members += [None] * more

    def run(self) -> None:
        """Every member's ready tokens: calls of ``k`` tokens a row for the rows with ``k``
        ready, ``k`` the largest power of two up to the most ready (and the ring's block), so
        a backlog takes a few calls, not one a token. Members far behind the others (beyond
        their end, if their audio ended) leave first and catch up alone; a member whose audio
        ended computes its end alone or ``END_TOKENS_PER_RUN`` tokens a run (``ends_alone``)
        and leaves, finished, once all of it is computed."""
        self._shrink()  # members dropped since the last run (their streams went away)
        members = [p for p in self.members if p is not None]
        ready = [p.mel.quanta_ready() for p in members if not p.closed]
        typical = statistics.median_low(ready) if ready else 0
        for pipe in members:
            if self._backlog(pipe) > typical + self.max_backlog:
                self.leave(pipe)
                pipe.catch_up()  # a closed one: its end too (a client that sent all at once)
        if self.ends_alone:
            self._end_alone(typical)
        # Ends in the bank: each closed member computes END_TOKENS_PER_RUN tokens a run at most.
        end_budget = {id(p): END_TOKENS_PER_RUN for p in self.members
                      if p is not None and p.closed and not self.ends_alone}  # fmt: skip
        while True:
            ready = [self._ready(p, end_budget) for p in self.members]
            most = min(max(ready), self.largest)
            if most == 0:
                break
            k = 1 << (most.bit_length() - 1)
            active = [n >= k for n in ready]
            self._call(active, k)
            for pipe, on in zip(self.members, active, strict=True):
                if on and id(pipe) in end_budget:
                    end_budget[id(pipe)] -= k
        for pipe in self.members:
            if pipe is not None and pipe.closed and not pipe.mel.quanta_ready():
                pipe.finished = True
                self.drop(pipe)
        self._shrink()

    @staticmethod
    def _backlog(pipe: AudioPipeline) -> int:
        """Tokens ``pipe`` has ready beyond its end's (a closed member's right padding and
        the token its audio ends in)."""
        ready = pipe.mel.quanta_ready()
        return max(0, ready - pipe.mel.right_pad_tokens - 1) if pipe.closed else ready

    @staticmethod
    def _ready(pipe: AudioPipeline | None, end_budget: dict) -> int:
        """Tokens ``pipe``'s row may compute now (a closed member: within its budget)."""
        if pipe is None:
            return 0
        ready = pipe.mel.quanta_ready()
        return min(ready, end_budget[id(pipe)]) if id(pipe) in end_budget else ready

    def _end_alone(self, typical: int) -> None:
        """On the CPU (``ends_alone``): members whose audio ended with their right padding
        still to compute (18 tokens at a 480 ms delay) leave and compute it alone, when few
        end at once (up to one in eight of the rows made): in the bank their calls of 16
        tokens compute every row (on the 2-core CPU, 64 streams ending one after another:
        turns of ~250 ms, everyone's tokens waiting; docs/benchmarks.md). Many ending together
        stay: one call serves them all."""
        ending = [p for p in self.members if p is not None and p.closed
                  and p.mel.quanta_ready() > typical + self.max_backlog]  # fmt: skip
        if not ending or len(ending) > len(self.members) // 8:
            return
        for pipe in ending:
            self.leave(pipe)
            pipe.catch_up()

    def warm(self) -> None:
        """Compute a call of every shape the bank can make (each bank size that fits
        ``warm_sizes``, each number of tokens a row) once on scratch rows, before the first
        stream: MLX CUDA compiles a call's kernels at its first run (tens of seconds on a
        machine that never ran them) and builds an attention graph for each new shape
        (~0.1 s), which streams would otherwise wait for, all at once when many join. The
        bank's own rows are untouched."""
        args, enc = self.model.encoder.args, self.model.encoder
        ring = self.rings.ks[0]  # a row's keys in one layer: [1, heads, slots + 1, head_dim]
        row_bytes = 2 * len(self.rings.ks) * ring[:1].nbytes
        for rows in warm_sizes(self.capacity, row_bytes):
            rings = RowRings(len(enc.layers), rows, args.sliding_window, LIVE_BLOCK,
                             args.kv_heads, args.head_dim, self.dtype)  # fmt: skip
            state = enc.new_conv_state(rows, self.dtype)
            k = 1
            while k <= self.largest:
                segs = np.zeros((rows, HOP_LENGTH * (k * FRAMES_PER_TOKEN + 2)), np.float32)
                mx.eval(self._compute(segs, [True] * rows, k, rings, state.buf1, state.buf2))
                k *= 2
            del rings, state

    def _call(self, active: list[bool], k: int = 1) -> None:
        """``k`` tokens for each ``active`` row."""
        rows, frames = len(self.members), k * FRAMES_PER_TOKEN
        segs = np.zeros((rows, HOP_LENGTH * (frames + 2)), np.float32)
        for r, on in enumerate(active):
            if on:
                segs[r] = self.members[r].mel.take_quantum(k)
        emb, self.buf1, self.buf2 = self._compute(segs, active, k, self.rings, self.buf1,
                                                  self.buf2)  # fmt: skip
        # Queued, not awaited: the decoder steps on these embeddings are launched while the
        # device computes them (the host's dispatch of ops is what a turn waits for).
        mx.async_eval(emb, self.buf1, self.buf2, self.rings.ks, self.rings.vs)
        for r, on in enumerate(active):
            if on:
                self.members[r].append_embeddings(emb, r)

    def _compute(self, segs: np.ndarray, active: list[bool], k: int, rings: RowRings, buf1,
                 buf2) -> tuple[mx.array, mx.array, mx.array]:  # fmt: skip
        """The front end of one call: audio segments ``[rows, samples]`` through the mel, the
        conv stem (its buffers ``buf1``/``buf2``, kept for rows not ``active``) and the
        encoder over ``rings`` (updated) to the adapter. Returns (embeddings, buf1, buf2)."""
        mel = segments_to_log_mel(mx.array(segs), k * FRAMES_PER_TOKEN, self.n_mels)
        enc = self.model.encoder
        state = ConvStemState(buf1, buf2)
        conv = enc.conv_stem_step(mel.astype(self.dtype), state)
        keep = mx.array(active)[:, None, None]
        buf1, buf2 = mx.where(keep, state.buf1, buf1), mx.where(keep, state.buf2, buf2)
        return self.model.adapter(encode_rows(enc, rings, conv, active)), buf1, buf2


__all__ = ["FrontBank"]
