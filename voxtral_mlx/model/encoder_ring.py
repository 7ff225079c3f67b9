"""A KV cache of fixed shape for the encoder's live blocks: the same attention, one shape.

On MLX's CUDA backend, attention over more than one query runs through cuDNN, which builds a
graph for every distinct shape and keeps the last 256 per thread (``MLX_CUDA_SDPA_CACHE_SIZE``).
A live stream's rotating cache grows by 4 keys per 80 ms for the first 15 s (the window), and a
server's streams push blocks of several sizes, so nearly every call was a new graph: 25-45 ms
each on an H200, a live stream's encoder ~880 ms per second of audio (docs/benchmarks.md,
``benchmarks/lab/encoder_lab.py``). This cache always gives attention the same keys, a ring of
``window + block - 1`` slots, and masks the slots a query may not see: one graph per block size
(blocks are whole tokens, 4 frames, up to ``block`` frames).

Position ``p`` lives in slot ``p % slots``. Keys carry RoPE of their absolute position before
they are stored and attention does not depend on the order of its keys, so slots are never
moved. The ring holds every key a block's queries see: after a block of ``n <= block`` frames
ends at position ``e``, it holds ``e - slots + 1 .. e``, and the block's first query needs
``e - n + 1 - window + 1`` on. Numbers: the same maths as the rotating cache, rounded
differently (masked slots add exact zeros, sums run over more terms); tests bound it as they
bound any two chunkings of the encoder.
"""

from __future__ import annotations

import mlx.core as mx


class RingCache:
    """One encoder layer's keys and values in a ring; duck-types mlx-lm's cache for
    ``Attention`` (``offset``, ``update_and_fetch``) and gives its mask (``make_mask``)."""

    def __init__(self, window: int, block: int):
        self.window, self.block = window, block
        self.slots = window + block - 1
        self.offset = 0  # the next position
        self.keys: mx.array | None = None
        self.values: mx.array | None = None

    def make_mask(self, n: int) -> mx.array:
        """``[n, slots]`` booleans for the next ``n`` queries (before their update): query
        ``q`` sees the slot holding position ``k`` iff ``q - window < k <= q``."""
        if n > self.block:
            raise ValueError(f"a block of {n} frames is larger than the ring's {self.block}")
        last = self.offset + n - 1
        held = last - mx.remainder(last - mx.arange(self.slots), self.slots)  # each slot's position
        q = self.offset + mx.arange(n)[:, None]
        return (held >= 0) & (held <= q) & (held > q - self.window)

    def update_and_fetch(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
        """Write the block's keys and values ``[B, heads, n, head_dim]``; return the ring."""
        n = keys.shape[2]
        if self.keys is None:
            b, h, _, d = keys.shape
            self.keys = mx.zeros((b, h, self.slots, d), keys.dtype)
            self.values = mx.zeros((b, h, self.slots, values.shape[3]), values.dtype)
        start = self.offset % self.slots
        first = min(n, self.slots - start)
        self.keys[:, :, start : start + first] = keys[:, :, :first]
        self.values[:, :, start : start + first] = values[:, :, :first]
        if first < n:  # the block wraps round the ring
            self.keys[:, :, : n - first] = keys[:, :, first:]
            self.values[:, :, : n - first] = values[:, :, first:]
        self.offset += n
        return self.keys, self.values


class RowRings:
    """The rings of many streams, one row each, for one encoder call over all of them.

    Per layer, keys and values ``[rows, heads, slots + 1, head_dim]``: a row's first ``slots``
    are laid out as a :class:`RingCache` of the same window and block (``put``/``get`` copy a
    stream's ring in and out); the last slot is a spare that rows without a token this call
    write to and no query sees, so every call has the same shapes. ``layers(active, n)`` gives
    the per-layer caches of one call of ``n`` frames per row.
    """

    def __init__(self, n_layers: int, rows: int, window: int, block: int, heads: int,
                 head_dim: int, dtype):  # fmt: skip
        self.window, self.block = window, block
        self.slots = window + block - 1
        shape = (rows, heads, self.slots + 1, head_dim)
        self.ks = [mx.zeros(shape, dtype) for _ in range(n_layers)]
        self.vs = [mx.zeros(shape, dtype) for _ in range(n_layers)]
        self.offsets = [0] * rows  # each row's next position

    @property
    def rows(self) -> int:
        return len(self.offsets)

    def grow(self, rows: int) -> None:
        """Room for ``rows`` rows (new rows empty; existing rows keep their place)."""
        more = rows - self.rows
        if more > 0:
            pad = [(0, more), (0, 0), (0, 0), (0, 0)]
            self.ks = [mx.pad(k, pad) for k in self.ks]
            self.vs = [mx.pad(v, pad) for v in self.vs]
            self.offsets += [0] * more
            mx.eval(self.ks, self.vs)

    def keep(self, rows: list[int]) -> None:
        """Keep only these rows, in this order (the bank gives the others back)."""
        index = mx.array(rows)
        self.ks = [k[index] for k in self.ks]
        self.vs = [v[index] for v in self.vs]
        self.offsets = [self.offsets[r] for r in rows]
        mx.eval(self.ks, self.vs)  # the old buffers go now

    def put(self, row: int, rings: list[RingCache]) -> None:
        """Row ``row`` takes over a stream's rings (built with the same window and block; their
        buffers go once the copies are computed)."""
        for i, ring in enumerate(rings):
            if ring.keys is not None:
                self.ks[i][row : row + 1, :, : self.slots] = ring.keys
                self.vs[i][row : row + 1, :, : self.slots] = ring.values
        self.offsets[row] = rings[0].offset
        # Not waited for: the copies are computed with the bank's next call (64 joins at
        # once had waited for the device 64 times, 84 ms on the H200, each wait also for the
        # other streams' queued work). On the 2-core CPU (benchmarks/lab/start_lab.py --size
        # tiny, the banks made room first) the same either way: 64 joins and the next call
        # 341-370 ms lazy, 350-365 ms waiting. Before rooms were made, growths between joins
        # made the lazy copies slower (0.67 against 0.47 s); with ``mx.async_eval`` each
        # join's write found the buffer busy and copied every row (5.8 s).
        for ring in rings:  # the row holds them now (``get`` gives them back)
            ring.keys = ring.values = None

    def get(self, row: int, rings: list[RingCache]) -> None:
        """Copy row ``row`` back into a stream's rings (it goes on alone)."""
        for i, ring in enumerate(rings):
            ring.keys = mx.contiguous(self.ks[i][row : row + 1, :, : self.slots])
            ring.values = mx.contiguous(self.vs[i][row : row + 1, :, : self.slots])
            ring.offset = self.offsets[row]
        mx.eval([r.keys for r in rings], [r.values for r in rings])

    def layers(self, active: list[bool], n: int) -> list[RowsLayer]:
        """The caches of one call of ``n`` frames per row; rows not ``active`` keep their state
        (their keys go to the spare slot). Their offsets move on once the call is made."""
        off, index, mask = self.plan(active, n)
        return [RowsLayer(self, i, off, index, mask) for i in range(len(self.ks))]

    def plan(self, active: list[bool], n: int, additive: bool = False) -> tuple:
        """One call of ``n`` frames per row: (each row's first position ``[rows]``, the slot
        each new key goes to, broadcast for ``put_along_axis``, the attention mask ``[rows, 1,
        n, slots + 1]``: booleans, or 0 / -inf with ``additive``). The active rows' offsets
        move on."""
        off, on = self.starts(active)
        heads, dtype = self.ks[0].shape[1], self.ks[0].dtype
        index, mask = ring_plan(off, on, n, self.slots, self.window, heads, additive, dtype)
        self.advance(active, n)
        return off, index, mask

    def starts(self, active: list[bool]) -> tuple[mx.array, mx.array]:
        """The rows' next positions ``[rows]`` and which rows take part, as arrays
        (:func:`ring_plan`'s inputs)."""
        return mx.array(self.offsets, mx.int32), mx.array(active)

    def advance(self, active: list[bool], n: int) -> None:
        """The active rows' offsets move on by ``n`` (the call is made)."""
        for r, on in enumerate(active):
            if on:
                self.offsets[r] += n


def ring_plan(off, on, n: int, slots: int, window: int, heads: int, additive: bool, dtype):
    """Rows at first positions ``off`` (``on``: taking part) in rings of ``slots`` (+ a spare),
    a call of ``n`` frames each: the slot each new key goes to ``[rows, heads, n, 1]`` (the
    spare for rows not on) and the mask ``[rows, 1, n, slots + 1]``: query ``q`` sees the slot
    holding position ``k`` iff ``q - window < k <= q``. Pure ops (``encoder_rows`` compiles
    them with the layers)."""
    rows = off.shape[0]
    j = mx.arange(n, dtype=mx.int32)
    slot = mx.remainder(off[:, None] + j, slots)
    slot = mx.where(on[:, None], slot, slots)
    index = mx.broadcast_to(slot[:, None, :, None], (rows, heads, n, 1))
    # ``n`` only as a shape, never a number in the sums: compiled (encoder_rows.py), a number
    # is written into the fused kernels' source, so each call size compiled kernels of its
    # own (MLX CUDA: 3-4 s in the middle of a server's streams; docs/benchmarks.md).
    last = off + j[-1]
    held = last[:, None] - mx.remainder(last[:, None] - mx.arange(slots), slots)
    q = off[:, None] + j  # [rows, n]
    held, q = held[:, None, :], q[:, :, None]  # [rows, 1, slots], [rows, n, 1]
    seen = (held >= 0) & (held <= q) & (held > q - window)
    mask = mx.concatenate([seen, mx.zeros((rows, n, 1), mx.bool_)], axis=-1)[:, None]
    if additive:  # every query sees its own key: no row of the mask is all -inf
        mask = mx.where(mask, 0.0, -mx.inf).astype(dtype)
    return index, mask


class RowsLayer:
    """One layer's view of :class:`RowRings` for one call (duck-types a cache for
    ``Attention``; ``make_mask`` for ``attention_mask``)."""

    def __init__(self, rings: RowRings, i: int, offset, index, mask):
        self._rings, self._i, self.offset, self._index, self._mask = rings, i, offset, index, mask

    def make_mask(self, n: int) -> mx.array:
        return self._mask

    def update_and_fetch(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
        rings, i = self._rings, self._i
        shape = keys.shape[:3] + (1,)
        kidx = mx.broadcast_to(self._index, shape[:3] + (keys.shape[3],))
        vidx = mx.broadcast_to(self._index, shape[:3] + (values.shape[3],))
        rings.ks[i] = mx.put_along_axis(rings.ks[i], kidx, keys, axis=2)
        rings.vs[i] = mx.put_along_axis(rings.vs[i], vidx, values, axis=2)
        return rings.ks[i], rings.vs[i]


__all__ = ["RingCache", "RowRings", "RowsLayer", "ring_plan"]
