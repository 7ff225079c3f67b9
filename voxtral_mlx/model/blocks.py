"""Building blocks shared by the audio encoder and the text decoder."""

from __future__ import annotations

from functools import partial
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from .encoder_ring import RingCache, RowsLayer
from .lm_caches import KVCache, RotatingKVCache, create_causal_mask


def make_cache(window: int | None):
    """A KV cache for one attention layer: rotating (bounded) when the layer has a sliding window."""
    return RotatingKVCache(max_size=window) if window else KVCache()


def attention_mask(n: int, cache: Any, window: int | None) -> mx.array | str | None:
    """Mask for ``n`` new queries, matching what ``cache`` will hold after this update.

    A key ``k`` is visible to query ``q`` iff ``q - window < k <= q`` (transformers' sliding-window
    semantics: ``window`` keys including the query itself). Without a cache the queries are
    positions ``0..n-1``.
    """
    if cache is None:
        if window is None or n <= window:
            return "causal" if n > 1 else None
        return create_causal_mask(n, 0, window_size=window)
    if isinstance(cache, (RingCache, RowsLayer)):
        return cache.make_mask(n)
    if isinstance(cache, RotatingKVCache):
        return cache.make_mask(n, window_size=window, return_array=False)
    return cache.make_mask(N=n, return_array=False, window_size=None)


def _heads_first(y: mx.array, head_dim: int) -> mx.array:
    """``[B, T, heads * hd]`` -> ``[B, heads, T, hd]``."""
    b, t, _ = y.shape
    return y.reshape(b, t, -1, head_dim).transpose(0, 2, 1, 3)


class Attention(nn.Module):
    """Multi-head (or grouped-query) attention with interleaved RoPE.

    RoPE is the interleaved/GPT-J pairing (``traditional=True``) that the native Mistral q/k
    weights were trained with; transformers-layout checkpoints are un-permuted at load time.
    """

    def __init__(
        self,
        dim: int,
        n_heads: int,
        n_kv_heads: int,
        head_dim: int,
        rope_theta: float,
        qv_bias: bool,
        o_bias: bool,
    ):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = n_heads, n_kv_heads, head_dim
        self.rope_theta = rope_theta
        self.scale = head_dim**-0.5
        # The encoder checkpoint has biases on wq, wv, wo but not on wk.
        self.wq = nn.Linear(dim, n_heads * head_dim, bias=qv_bias)
        self.wk = nn.Linear(dim, n_kv_heads * head_dim, bias=False)
        self.wv = nn.Linear(dim, n_kv_heads * head_dim, bias=qv_bias)
        self.wo = nn.Linear(n_heads * head_dim, dim, bias=o_bias)

    def project(self, x: mx.array, offset) -> tuple[mx.array, mx.array, mx.array]:
        """q, k, v as ``[B, heads, T, head_dim]`` with RoPE at positions ``offset..`` (int or array)."""
        b, t, _ = x.shape
        rope = dict(traditional=True, base=self.rope_theta, scale=1.0, offset=offset)
        if "wqkv" in self:  # fused (model/fused.py): one matmul and one RoPE for q and k
            nq, nqk = self.n_heads, self.n_heads + self.n_kv_heads
            y = self.wqkv(x)
            # One token: [B, 1, heads * hd] is already [B, heads, 1, hd] in memory (no transpose).
            y = y.reshape(b, -1, 1, self.head_dim) if t == 1 else _heads_first(y, self.head_dim)
            qk, v = mx.split(y, [nqk], axis=1)  # one op for both views
            q, k = mx.split(mx.fast.rope(qk, self.head_dim, **rope), [nq], axis=1)
            return q, k, v
        q, k, v = (_heads_first(w(x), self.head_dim) for w in (self.wq, self.wk, self.wv))
        return mx.fast.rope(q, self.head_dim, **rope), mx.fast.rope(k, self.head_dim, **rope), v

    def attend(self, q: mx.array, k: mx.array, v: mx.array, mask: Any) -> mx.array:
        """Attention of q over the given keys/values, then the output projection ``[B, T, dim]``."""
        return self.output(
            mx.fast.scaled_dot_product_attention(q, k, v, scale=self.scale, mask=mask)
        )

    def output(self, out: mx.array) -> mx.array:
        """Attention output ``[B, heads, T, hd]`` -> the output projection ``[B, T, dim]``."""
        b, _, t, _ = out.shape
        # One query: [B, heads, 1, hd] already has the memory order of [B, 1, heads * hd].
        out = out.reshape(b, 1, -1) if t == 1 else out.transpose(0, 2, 1, 3).reshape(b, t, -1)
        return self.wo(out)

    def __call__(self, x: mx.array, mask: Any, cache: Any = None) -> mx.array:
        q, k, v = self.project(x, cache.offset if cache is not None else 0)
        if cache is not None:
            k, v = cache.update_and_fetch(k, v)
        return self.attend(q, k, v, mask)


@partial(mx.compile, shapeless=True)
def swiglu(gate: mx.array, up: mx.array) -> mx.array:
    """``silu(gate) * up`` as one fused kernel (two otherwise: silu, then the product)."""
    return nn.silu(gate) * up


class SwiGLU(nn.Module):
    """``w2(silu(w1 x) * w3 x)``; the encoder's down projection (w2) carries a bias."""

    def __init__(self, dim: int, hidden_dim: int, down_bias: bool):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden_dim, bias=False)
        self.w2 = nn.Linear(hidden_dim, dim, bias=down_bias)
        self.w3 = nn.Linear(dim, hidden_dim, bias=False)

    def __call__(self, x: mx.array) -> mx.array:
        if "w13" in self:  # fused (model/fused.py)
            gate, up = mx.split(self.w13(x), 2, axis=-1)
            return self.w2(swiglu(gate, up))
        return self.w2(swiglu(self.w1(x), self.w3(x)))


class PreNormLayer(nn.Module):
    """``x + attn(norm(x))`` then ``h + swiglu(norm(h) * gain)``: the layer both towers share.

    The encoder has biases (wq, wv, wo, w2) and no gain; the decoder has no biases and passes
    its delay gain ``1 + ada(t_cond)``.
    """

    def __init__(self, dim: int, n_heads: int, n_kv_heads: int, head_dim: int, hidden_dim: int,
                 rope_theta: float, norm_eps: float, biases: bool):  # fmt: skip
        super().__init__()
        self.attention_norm = nn.RMSNorm(dim, eps=norm_eps)
        self.attention = Attention(
            dim, n_heads, n_kv_heads, head_dim, rope_theta, qv_bias=biases, o_bias=biases
        )
        self.ffn_norm = nn.RMSNorm(dim, eps=norm_eps)
        self.feed_forward = SwiGLU(dim, hidden_dim, down_bias=biases)

    def __call__(self, x: mx.array, mask, cache=None, ffn_gain: mx.array | None = None) -> mx.array:
        h = x + self.attention(self.attention_norm(x), mask, cache)
        u = self.ffn_norm(h)
        if ffn_gain is not None:
            u = u * ffn_gain
        return h + self.feed_forward(u)
