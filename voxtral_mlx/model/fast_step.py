"""Single-token decoder steps with as few kernels per layer as the maths allows.

On MLX's CUDA backend a full-size step is bound by the host: every op costs microseconds to
build and launch and the GPU then waits, whatever the bit width (docs/benchmarks.md, measured
with benchmarks/lab/step_lab.py). So the step is written to launch few ops: fused q/k/v and
gate/up matmuls with one RoPE for q and k (``fused.py``), the delay gain folded into the FFN
norm's weight (``rms(h) * w * g`` is one norm with weight ``w * g``), the attention output
reshaped without a transpose copy, and the KV cache in preallocated ring buffers written in
place by ``slice_update`` and attended without a mask. Each layer runs as two compiled
functions around its KV write and attention, so the host replays recorded ops instead of
building them in Python (see ``_layer_halves``; a whole-step ``mx.compile`` was no faster when
measured: it would copy the cache and needs a mask for fixed shapes).

Ring buffer: position ``p`` writes slot ``p % window``. Keys carry RoPE of their absolute
position before they are stored, and attention is order-free over keys, so slots need no
reordering: before the ring wraps the step attends over slots ``0..p`` (a view), afterwards
over all of them, which is exactly the sliding window (the last ``window`` positions, the
current one included). Capacity grows in chunks up to the window, so a short stream does not
hold 8192 empty slots per layer.

MLX behaviour this relies on, checked on mlx 0.32.4 (tests/model/test_mlx_tricks.py): a
slice assignment (``keys[..., slot : slot + 1, :] = k``) rebinds the array object itself, so
the list holding the buffer sees the write; and a plain Python object set on a module
(``_fast_step_compiled``) stays out of its parameter tree.
"""

from __future__ import annotations

import mlx.core as mx

from .decoder import Decoder

GROW = 1024  # slots added at a time until the window is reached


class _Compiled:
    """key -> (FFN weights with gains folded in, layer halves, head, inputs) of one decoder.

    Kept on the decoder as a plain attribute (not in its parameter tree), so it goes with the
    model: a global table would keep every model ever loaded alive through its closures.
    """

    def __init__(self):
        self.by_key: dict = {}


def _shared(decoder: Decoder) -> dict:
    store = getattr(decoder, "_fast_step_compiled", None)
    if store is None:
        store = decoder._fast_step_compiled = _Compiled()
    return store.by_key


class _Keys:
    """A cache's keys and values in temporal order, as ``start`` reads them."""

    def __init__(self, keys: mx.array, values: mx.array):
        self.keys, self.values = keys, values


class FastStepper:
    """Single-token steps after a prefill done with mlx-lm caches.

    ``start(cache, n)`` takes the prefilled caches (positions ``0..n-1``); ``step(x)`` feeds
    the embeddings ``x [B, 1, dim]`` at the next position and returns the greedy tokens
    (lazy, shape ``[B]``; B rows at the same position, decode/batch.py). One stepper serves a
    whole session (restarts included).
    """

    def __init__(self, decoder: Decoder, gains: list, key=None):
        """``key``: names ``gains`` (e.g. the delay in tokens) so that steppers of the same
        decoder and key share their compiled functions: a new session then replays traced
        graphs instead of tracing ~2 functions per layer again."""
        self.dec, self.gains = decoder, gains
        cfg = decoder.cfg
        self.eps = cfg.norm_eps
        self.window = cfg.sliding_window or cfg.model_max_length or 131072
        shared = _shared(decoder) if key is not None else {}
        if key not in shared:
            shared[key] = self._compile(decoder, gains)
        self.ffn_w, self._halves, self._head, self.inputs = shared[key]
        self.ks: list[mx.array] = []
        self.vs: list[mx.array] = []
        self.pos = 0

    @classmethod
    def for_delay(cls, decoder: Decoder, n_delay: int) -> FastStepper:
        """The stepper for a delay of ``n_delay`` tokens (its compiled functions shared with
        every other stepper of this decoder and delay)."""
        gains = decoder.ffn_gains(n_delay)
        mx.eval(gains)
        return cls(decoder, gains, key=n_delay)

    def prefill(self, x: mx.array, reserve: int | None = None) -> mx.array:
        """Run the prompt embeddings ``x [B, n, dim]`` (positions ``0..n-1``) through the
        decoder, take over its caches, and return the greedy tokens at position ``n - 1``."""
        cache, token = self._prompt(x)
        self.start(cache, x.shape[1], reserve)
        return token

    def _prompt(self, x: mx.array) -> tuple[list, mx.array]:
        """A prompt through the decoder: its mlx-lm caches and the greedy tokens at its end."""
        cache = self.dec.make_cache()
        # The head on the last position only: [B, n, vocab] logits would be 10-20 MB per row.
        token = self._head(self.dec.hidden(x, self.gains, cache, eval_each_layer=True)[:, -1:])
        return cache, token

    def _compile(self, decoder: Decoder, gains: list) -> tuple:
        ffn_w = [
            layer.ffn_norm.weight * g if g is not None else layer.ffn_norm.weight
            for layer, g in zip(decoder.layers, gains, strict=True)
        ]
        mx.eval(ffn_w)
        halves = [self._layer_halves(i, w) for i, w in enumerate(ffn_w)]

        def head(x):
            logits = decoder.tok_embeddings.as_linear(decoder.norm(x))
            return mx.argmax(logits[:, -1], axis=-1)

        # Inputs of positions: token embeddings plus audio, for the prefill and every step
        # (the packed embedding's lookup is several ops).
        inputs = mx.compile(lambda ids, audio: decoder.embed(ids) + audio)
        return ffn_w, halves, mx.compile(head), inputs

    def prefill_rows(self, xs: list[mx.array], reserve: int | None = None) -> mx.array:
        """Each row's prompt ``[1, n, dim]`` through the decoder alone, then one batch of them.

        A row's prefill is then exactly the computation a single stream does (a batch of
        prompts would give the matmuls other shapes, which some kernels round differently);
        steps after it are shared. Returns the rows' greedy tokens ``[B]``.
        """
        caches, tokens = zip(*(self._prompt(x) for x in xs), strict=True)
        n = xs[0].shape[1]
        merged = [
            _Keys(
                mx.concatenate([c[i].keys[..., :n, :] for c in caches]),
                mx.concatenate([c[i].values[..., :n, :] for c in caches]),
            )
            for i in range(len(self.dec.layers))
        ]
        self.start(merged, n, reserve)
        return mx.concatenate(list(tokens))

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

    def _layer_halves(self, i: int, ffn_w: mx.array):
        """One layer as two compiled functions around its KV write and attention.

        The host builds each step's graph op by op, a large share of a step's host time
        (docs/benchmarks.md: compiled step against op by op); a compiled function replays its
        recorded ops from C++. The KV write stays outside (a compiled function returns new
        arrays: the cache would be copied each step), and so does the attention (its key count
        changes every step, which would retrace).
        """
        layer = self.dec.layers[i]
        att, eps = layer.attention, self.eps

        def pre(x, offset):
            return att.project(mx.fast.rms_norm(x, layer.attention_norm.weight, eps), offset)

        def post(x, attn):
            h = x + att.output(attn)
            return h + layer.feed_forward(mx.fast.rms_norm(h, ffn_w, eps))

        return mx.compile(pre), mx.compile(post)

    def release(self) -> None:
        """Drop the KV buffers (a long-lived stepper between batches)."""
        self.ks, self.vs = [], []

    def step(self, x: mx.array) -> mx.array:
        cap = self.ks[0].shape[2]
        if self.pos >= cap and cap < self.window:
            grow = min(GROW, self.window - cap)
            pad = [(0, 0), (0, 0), (0, grow), (0, 0)]
            self.ks = [mx.pad(k, pad) for k in self.ks]
            self.vs = [mx.pad(v, pad) for v in self.vs]
            cap += grow
        slot = self.pos % self.window
        used = min(self.pos + 1, self.window)
        offset = mx.array(self.pos, mx.int32)
        for i, layer in enumerate(self.dec.layers):
            pre, post = self._halves[i]
            q, k, v = pre(x, offset)
            keys, values = self.ks[i], self.vs[i]
            keys[..., slot : slot + 1, :] = k  # slice_update; the buffer is reused in place
            values[..., slot : slot + 1, :] = v
            if used < cap:
                keys, values = keys[:, :, :used], values[:, :, :used]
            scale = layer.attention.scale
            x = post(x, mx.fast.scaled_dot_product_attention(q, keys, values, scale=scale))
        self.pos += 1
        return self._head(x)
