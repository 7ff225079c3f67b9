"""A lane: the KV ring buffers of rows that step together at one decoder position.

A single stream is one lane of one row; a batch of files is one lane of B rows (they are all at
the same position); live rows that started at different times, or prefilled prompts of other
lengths, are lanes of their own, stepped side by side by ``FastStepper.step_lanes``.

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

    def release(self) -> None:
        """Drop the KV buffers (a long-lived lane between batches)."""
        self.ks, self.vs = [], []
