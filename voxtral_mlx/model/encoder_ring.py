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


__all__ = ["RingCache"]
