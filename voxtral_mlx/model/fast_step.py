"""Single-token decoding as one compiled MLX graph per step.

A decoder step is ~26 x 15 small ops; dispatched one by one from Python, their overhead, not
the GPU, sets the pace once weights are 4-bit. Here the whole step (26 layers, head, argmax)
is one ``mx.compile``d function of (embedding, position, KV buffers), with the KV cache held in
preallocated ring buffers updated by ``slice_update`` so the graph has fixed shapes.

Ring buffer: position ``p`` writes slot ``p % window``. Keys carry RoPE of their absolute
position before they are stored, and attention is order-free over keys, so slots need no
reordering; until the ring is full, unwritten slots are masked. That is exactly the sliding
window (the last ``window`` positions, the current one included). Capacity grows in chunks up
to the window, so a short stream does not attend over 8192 empty slots.
"""

from __future__ import annotations

import mlx.core as mx

from .decoder import Decoder

GROW = 1024  # slots added at a time until the window is reached


class FastStepper:
    """Compiled single-token steps after a prefill done with mlx-lm caches.

    ``start(cache, n)`` takes the prefilled caches (positions ``0..n-1``); ``step(x)`` feeds
    the embedding ``x [1, 1, dim]`` at the next position and returns the greedy token (lazy,
    shape ``[1]``). One stepper serves a whole session (restarts included): the compiled
    graph depends only on the decoder, the delay gains and the buffer capacity.
    """

    def __init__(self, decoder: Decoder, gains: list):
        self.dec, self.gains = decoder, gains
        cfg = decoder.cfg
        self.window = cfg.sliding_window or cfg.model_max_length or 131072
        self.kv_shape = (1, cfg.n_kv_heads, 0, cfg.head_dim)
        self._compiled = mx.compile(self._step)
        self.ks: list[mx.array] = []
        self.vs: list[mx.array] = []
        self.pos = 0

    def start(self, cache: list, n: int) -> None:
        """Take over mlx-lm caches right after one prefill of positions ``0..n-1``.

        After a single multi-token update both cache types hold the keys in temporal order
        (a rotating one keeps all ``n`` when ``n`` exceeds its window).
        """
        self.pos = n
        kept = min(n, self.window)
        cap = self.window if n >= self.window else min(self.window, -(-(n + 1) // GROW) * GROW)
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

    def step(self, x: mx.array) -> mx.array:
        cap = self.ks[0].shape[2]
        if self.pos >= cap and cap < self.window:
            grow = min(GROW, self.window - cap)
            pad = [(0, 0), (0, 0), (0, grow), (0, 0)]
            self.ks = [mx.pad(k, pad) for k in self.ks]
            self.vs = [mx.pad(v, pad) for v in self.vs]
        token, self.ks, self.vs = self._compiled(x, mx.array(self.pos, mx.int32), self.ks, self.vs)
        self.pos += 1
        return token

    def _step(self, x: mx.array, pos: mx.array, ks: list, vs: list):
        cap = ks[0].shape[2]
        slot = (pos % self.window).reshape(1)
        # Before the ring wraps, slots beyond the current position hold nothing yet.
        mask = (mx.arange(cap) <= mx.minimum(pos, self.window - 1))[None, None, None, :]
        ks, vs = list(ks), list(vs)
        for i, layer in enumerate(self.dec.layers):
            att = layer.attention
            q, k, v = att.project(layer.attention_norm(x), pos)
            ks[i] = mx.slice_update(ks[i], k, slot, axes=(2,))
            vs[i] = mx.slice_update(vs[i], v, slot, axes=(2,))
            h = x + att.attend(q, ks[i], vs[i], mask)
            u = layer.ffn_norm(h)
            if self.gains[i] is not None:
                u = u * self.gains[i]
            x = h + layer.feed_forward(u)
        logits = self.dec.tok_embeddings.as_linear(self.dec.norm(x))
        return mx.argmax(logits[:, -1], axis=-1), ks, vs
