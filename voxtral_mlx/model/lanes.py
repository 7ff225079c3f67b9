"""A lane: the KV ring buffers of rows that step together at one decoder position.

A single stream is one lane of one row; a batch of files is one lane of B rows (they are all at
the same position); live rows at other positions are lanes of their own, stepped side by side
by ``FastStepper.step_lanes``. Rows that come to stand at the same position (a draft and a
final row on one audio stream, once the final row has caught up) can be merged into one lane
(``merge``): one attention op for them instead of one each; ``take`` splits a row out again.

Ring buffer: position ``p`` writes slot ``p % window``. Keys carry RoPE of their absolute
position before they are stored, and attention is order-free over keys, so slots need no
reordering: before the ring wraps the step attends over slots ``0..p`` (a view), afterwards
over all of them, which is exactly the sliding window (the last ``window`` positions, the
current one included). Capacity grows in chunks up to the window, so a short stream does not
hold 8192 empty slots per layer.

MLX behaviour this relies on, checked on mlx 0.32.4 (tests/model/test_mlx_tricks.py): a slice
assignment (``keys[..., slot : slot + 1, :] = k``) rebinds the array object itself, so the list
holding the buffer sees the write.
"""

from __future__ import annotations

import mlx.core as mx

GROW = 1024  # slots added at a time until the window is reached


class Lane:
    """KV buffers ``[rows, kv_heads, slots, head_dim]`` per layer and the next position."""

    def __init__(self, window: int):
        self.window = window
        self.ks: list[mx.array] = []
        self.vs: list[mx.array] = []
        self.pos = 0

    @property
    def rows(self) -> int:
        return self.ks[0].shape[0] if self.ks else 0

    def start(self, cache: list, n: int, reserve: int | None = None) -> None:
        """Take over mlx-lm caches right after one prefill of positions ``0..n-1``.

        After a single multi-token update both cache types hold the keys in temporal order
        (a rotating one keeps all ``n`` when ``n`` exceeds its window). ``reserve``: the
        number of positions the caller will reach, when known (a file piece): the buffers
        get exactly that many slots instead of growing by ``GROW`` (a batch of rows would
        otherwise hold up to ``GROW - 1`` empty slots per row and layer).
        """
        self.pos = n
        kept = min(n, self.window)
        want = n + 1 if reserve is None else max(n + 1, reserve)
        step = GROW if reserve is None else 1
        cap = self.window if n >= self.window else min(self.window, -(-want // step) * step)
        self.ks, self.vs = [], []
        for c in cache:
            k, v = c.keys[..., n - kept : n, :], c.values[..., n - kept : n, :]
            if n > self.window:  # the ring wrapped: position p lives in slot p % window
                shift = (n - kept) % self.window
                k, v = mx.roll(k, shift, axis=2), mx.roll(v, shift, axis=2)
            pad = [(0, 0), (0, 0), (0, cap - kept), (0, 0)]
            self.ks.append(mx.pad(k, pad))
            self.vs.append(mx.pad(v, pad))
        mx.eval(self.ks, self.vs)

    def prepare(self) -> tuple[int, int]:
        """Make room for the next position; returns its slot and how many slots it attends."""
        cap = self.ks[0].shape[2]
        if self.pos >= cap and cap < self.window:
            grow = min(GROW, self.window - cap)
            pad = [(0, 0), (0, 0), (0, grow), (0, 0)]
            self.ks = [mx.pad(k, pad) for k in self.ks]
            self.vs = [mx.pad(v, pad) for v in self.vs]
        return self.pos % self.window, min(self.pos + 1, self.window)

    def attend(self, i: int, q, k, v, scale: float, slot: int, used: int) -> mx.array:
        """Write layer ``i``'s new key and value into the ring and attend over the window."""
        keys, values = self.ks[i], self.vs[i]
        keys[..., slot : slot + 1, :] = k  # slice_update; the buffer is reused in place
        values[..., slot : slot + 1, :] = v
        if used < keys.shape[2]:
            keys, values = keys[:, :, :used], values[:, :, :used]
        return mx.fast.scaled_dot_product_attention(q, keys, values, scale=scale)

    @classmethod
    def merge(cls, lanes: list[Lane]) -> Lane:
        """One lane holding the rows of ``lanes`` in order (same position and capacity)."""
        first = lanes[0]
        assert all(
            lane.pos == first.pos and lane.ks[0].shape == first.ks[0].shape for lane in lanes
        )
        merged = cls(first.window)
        merged.pos = first.pos
        merged.ks = [mx.concatenate([lane.ks[i] for lane in lanes]) for i in range(len(first.ks))]
        merged.vs = [mx.concatenate([lane.vs[i] for lane in lanes]) for i in range(len(first.vs))]
        mx.eval(merged.ks, merged.vs)
        return merged

    def take(self, row: int) -> Lane:
        """A lane of its own for row ``row`` (a copy: the buffers are written in place)."""
        alone = Lane(self.window)
        alone.pos = self.pos
        alone.ks = [mx.contiguous(k[row : row + 1]) for k in self.ks]
        alone.vs = [mx.contiguous(v[row : row + 1]) for v in self.vs]
        mx.eval(alone.ks, alone.vs)
        return alone

    def release(self) -> None:
        """Drop the KV buffers (a long-lived lane between batches)."""
        self.ks, self.vs = [], []
