"""The encoder transformer over a stream of conv frames, with few host ops per chunk.

Live audio reaches the encoder 4 frames (80 ms) at a time, through 32 layers. With mlx-lm's
rotating cache the host spent ~200 us per layer just building each chunk's graph (the cache
trims and concatenates in Python), 5x a decoder layer; on MLX CUDA, where a step waits on the
host (benchmarks/step_lab.py), that was most of a live chunk's encoder time. Here:

- Keys/values live in one linear buffer per layer holding the positions ``[start, end)``;
  a chunk is written in place after them (``slice_update``) and attended as a view. When a
  chunk would not fit, the last ``window - 1`` positions are copied to the buffer's front:
  one copy per layer every ``SLACK // n`` chunks, not every chunk.
- Each layer runs as two compiled functions around the cache write and the attention (as
  in the decoder's FastStepper), so the host replays recorded ops instead of building them.
- One boolean mask per chunk, shared by all layers: query ``q`` sees key ``k`` iff
  ``q - window < k <= q`` (transformers' sliding window), computed in numpy.

Any chunk size works (file blocks of hundreds of frames too), with the same numbers as the
batch encoder (tests/test_model.py).
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from .encoder import AudioEncoder

SLACK = 64  # free slots kept after the window; live chunks (4 frames) copy every 16 chunks


class EncoderStream:
    """Streaming state of one audio stream's encoder transformer: ``step(x)`` per chunk."""

    def __init__(self, encoder: AudioEncoder):
        self.enc = encoder
        args = encoder.args
        self.window = args.sliding_window
        self.eps = args.norm_eps
        self.start = 0  # absolute position of buffer slot 0
        self.end = 0  # absolute position after the last key written
        self.ks: list[mx.array] = []
        self.vs: list[mx.array] = []
        self._halves = [_layer_halves(layer, args.norm_eps) for layer in encoder.layers]

    def step(self, x: mx.array, eval_every: int | None = None) -> mx.array:
        """Conv frames ``[1, n, dim]`` (the next ``n`` positions) -> encoder output ``[1, n, dim]``.

        ``eval_every``: evaluate after every that many layers. For blocks of hundreds of
        frames: a GPU backend may keep a graph's scratch (attention scores of every layer)
        until the whole graph has run; one graph over all 32 layers peaked ~2.5 GB above the
        weights in file mode on MLX CUDA (bench_stream's stage peaks).
        """
        n = x.shape[1]
        if n == 0:
            return x
        self._make_room(n, x)
        a, b = self.end - self.start, self.end - self.start + n
        lo = 0 if self.window is None else max(0, b - n - self.window + 1)  # oldest key needed
        q = np.arange(self.end, self.end + n)[:, None]
        k = np.arange(self.start + lo, self.start + b)[None]
        visible = k <= q
        if self.window is not None:
            visible &= k > q - self.window
        mask = None if visible.all() else mx.array(visible)
        offset = mx.array(self.end, mx.int32)
        for i, layer in enumerate(self.enc.layers):
            pre, post = self._halves[i]
            qh, kh, vh = pre(x, offset)
            keys, values = self.ks[i], self.vs[i]
            keys[..., a:b, :] = kh  # in place: the buffer is reused
            values[..., a:b, :] = vh
            scale = layer.attention.scale
            attn = mx.fast.scaled_dot_product_attention(
                qh, keys[:, :, lo:b], values[:, :, lo:b], scale=scale, mask=mask
            )
            x = post(x, attn)
            if eval_every and (i + 1) % eval_every == 0:
                mx.eval(x)
        self.end += n
        return self.enc.norm(x)

    def _make_room(self, n: int, x: mx.array) -> None:
        """Ensure slots for ``n`` more positions, keeping the last ``window - 1`` before them."""
        used = self.end - self.start
        cap = self.ks[0].shape[2] if self.ks else 0
        if used + n <= cap:
            return
        keep = used if self.window is None else min(used, self.window - 1)
        att = self.enc.layers[0].attention
        shape = (1, att.n_kv_heads, keep + n + SLACK, att.head_dim)

        def moved(buf: mx.array | None) -> mx.array:
            out = mx.zeros(shape, x.dtype)
            if buf is not None and keep:
                out[:, :, :keep] = buf[:, :, used - keep : used]
            return out

        layers = range(len(self.enc.layers))
        self.ks = [moved(self.ks[i] if self.ks else None) for i in layers]
        self.vs = [moved(self.vs[i] if self.vs else None) for i in layers]
        mx.eval(self.ks, self.vs)
        self.start = self.end - keep


def _layer_halves(layer, eps: float):
    """The layer as compiled functions before and after its cache write and attention."""
    att = layer.attention

    def pre(x, offset):
        return att.project(mx.fast.rms_norm(x, layer.attention_norm.weight, eps), offset)

    def post(x, attn):
        b, _, t, _ = attn.shape
        h = x + att.wo(attn.transpose(0, 2, 1, 3).reshape(b, t, -1))
        return h + layer.feed_forward(mx.fast.rms_norm(h, layer.ffn_norm.weight, eps))

    return mx.compile(pre), mx.compile(post)
