"""LaneBank: the decoder KV of many rows at different positions in one buffer (opt-in).

Rows at different positions are lanes of their own (``lanes.py``): every layer of a step then
runs one KV write and one attention per lane, ~4 ops per row and layer launched from the host.
At 64 server streams that is ~6,600 ops a step, some 60 ms of host time on the H200
(docs/benchmarks.md), most of the 80 ms a token has. In the bank each row keeps its own
position, and a step writes every row's key with one scatter and attends with one masked
attention per layer, whatever the rows' positions.

Layout, per layer: keys and values ``[rows, kv_heads, slots, head_dim]``; position ``p`` of a
row lives in slot ``p % window``, and a row at position ``p`` attends slots ``0..p`` (all of
them once it has wrapped): its sliding window, as in a lane. A row without a position this
step computes on whatever it is given and writes its next slot, which it overwrites when it
steps again (its output is not read), so every step has the same shapes. Slots grow in
chunks up to the window, for the longest row.

A masked attention over a longer buffer sums in another order than a lane's, so a row's bits
may differ from its lane's (within float rounding): the bank goes with the server's opt-in
``--batch-rows``, never by default.

MLX behaviour this relies on, checked on mlx 0.32.4 (tests/model/test_lane_bank.py):
``put_along_axis`` on a buffer nothing else holds writes in place, and ``fast.rope`` takes one
offset per row.
"""

from __future__ import annotations

import mlx.core as mx

from .lanes import GROW, Lane


class LaneBank:
    """Rows (each at its own position) of one decoder's KV. ``put`` a prefilled lane's row in,
    ``plan`` a step for the rows that take one, ``attend`` per layer, ``advance`` after it."""

    @classmethod
    def of(cls, decoder) -> LaneBank:
        """An empty bank for ``decoder``'s layers, window and dtype."""
        cfg = decoder.cfg
        return cls(len(decoder.layers), cfg.n_kv_heads, cfg.head_dim, decoder.kv_window,
                   decoder.norm.weight.dtype)  # fmt: skip

    def __init__(self, n_layers: int, kv_heads: int, head_dim: int, window: int, dtype):
        self.n_layers, self.kv_heads, self.head_dim = n_layers, kv_heads, head_dim
        self.window, self.dtype = window, dtype
        self.ks: list[mx.array] = []
        self.vs: list[mx.array] = []
        self.pos: list[int] = []  # each row's next position

    @property
    def rows(self) -> int:
        return len(self.pos)

    @property
    def slots(self) -> int:
        return self.ks[0].shape[2] if self.ks else 0

    def grow(self, rows: int, slots: int = 0) -> None:
        """Room for ``rows`` rows and ``slots`` positions a row (rows keep their place)."""
        slots = min(self.window, max(slots, self.slots))
        if slots > self.slots:  # in chunks: the shapes (and compiled graphs) change rarely
            slots = min(self.window, -(-slots // GROW) * GROW)
        changed = not self.ks
        if changed:
            shape = (max(rows, 1), self.kv_heads, slots, self.head_dim)
            self.ks = [mx.zeros(shape, self.dtype) for _ in range(self.n_layers)]
            self.vs = [mx.zeros(shape, self.dtype) for _ in range(self.n_layers)]
            self.pos = [0] * shape[0]
        more_rows, more_slots = rows - self.rows, slots - self.slots
        if more_rows > 0 or more_slots > 0:
            pad = [(0, max(more_rows, 0)), (0, 0), (0, max(more_slots, 0)), (0, 0)]
            self.ks = [mx.pad(k, pad) for k in self.ks]
            self.vs = [mx.pad(v, pad) for v in self.vs]
            self.pos += [0] * max(more_rows, 0)
            changed = True
        if changed:  # not every step: that would wait for the step queued before it
            mx.eval(self.ks, self.vs)

    def put(self, row: int, lane: Lane, lane_row: int = 0) -> None:
        """Row ``row`` takes a copy of a lane's row ``lane_row`` (same window) and its position."""
        self.put_rows([row], lane, [lane_row])

    def put_rows(self, rows: list[int], lane: Lane, lane_rows: list[int]) -> None:
        """Rows ``rows`` take copies of the lane's rows ``lane_rows`` (same window) and its
        position: one copy per layer for all of them, and one wait for the device (64
        streams prefilled together join at once: 64 waits, each for all queued work, took
        12 ms of a turn on the H200, ``benchmarks/lab/start_lab.py``)."""
        held = lane.ks[0].shape[2]
        self.grow(self.rows, held)
        if len(rows) == 1:
            dst, src = slice(rows[0], rows[0] + 1), slice(lane_rows[0], lane_rows[0] + 1)
        else:
            dst, src = mx.array(rows), mx.array(lane_rows)
        for i in range(self.n_layers):
            self.ks[i][dst, :, :held] = lane.ks[i][src]
            self.vs[i][dst, :, :held] = lane.vs[i][src]
        for row in rows:
            self.pos[row] = lane.pos
        mx.eval(self.ks, self.vs)

    def keep(self, rows: list[int]) -> None:
        """Keep only these rows, in this order (the others are given back)."""
        index = mx.array(rows)
        self.ks = [k[index] for k in self.ks]
        self.vs = [v[index] for v in self.vs]
        self.pos = [self.pos[r] for r in rows]
        mx.eval(self.ks, self.vs)  # the old buffers go now

    def plan(self) -> tuple[mx.array, mx.array, mx.array]:
        """One step of every row: (RoPE offsets ``[rows]``, the slot each row writes,
        broadcast for ``put_along_axis``, the additive attention mask ``[rows, 1, 1, slots]``)."""
        self.grow(self.rows, max(self.pos) + 1)
        pos = mx.array(self.pos, mx.int32)
        slot = mx.remainder(pos, self.window)
        index = mx.broadcast_to(slot[:, None, None, None], (self.rows, self.kv_heads, 1, 1))
        seen = mx.arange(self.slots, dtype=mx.int32)[None, :] <= pos[:, None]
        # Additive, not boolean: MLX CUDA's attention ran slower with a boolean mask
        # (benchmarks/lab/bank_lab.py). A row always sees its own slot: no row is all -inf.
        mask = mx.where(seen, 0.0, -mx.inf).astype(self.dtype)
        return pos, index, mask[:, None, None, :]

    def attend(self, i: int, q, k, v, scale: float, index, mask) -> mx.array:
        """Write layer ``i``'s new keys and values (one per row) and attend over the bank."""
        kidx = mx.broadcast_to(index, k.shape)
        self.ks[i] = mx.put_along_axis(self.ks[i], kidx, k, axis=2)
        self.vs[i] = mx.put_along_axis(self.vs[i], kidx, v, axis=2)
        # A row's one query per head, grouped by kv head as that head's queries [rows, kv,
        # heads/kv, dim]: the same sums. MLX CUDA runs a masked attention of several queries
        # in a fused kernel, of one query as separate ops: all layers at 64 rows 2.9 ms
        # against 15.2 on the H200 (benchmarks/lab/bank_lab.py).
        rows, heads, _, dim = q.shape
        grouped = q.reshape(rows, self.kv_heads, heads // self.kv_heads, dim)
        out = mx.fast.scaled_dot_product_attention(grouped, self.ks[i], self.vs[i], scale=scale,
                                                   mask=mask)  # fmt: skip
        return out.reshape(q.shape)

    def advance(self, active: list[bool]) -> None:
        for r, on in enumerate(active):
            if on:
                self.pos[r] += 1

    def release(self) -> None:
        """Drop the buffers (no rows left)."""
        self.ks, self.vs, self.pos = [], [], []


__all__ = ["LaneBank"]
