"""The text decoder: a Ministral-style GQA transformer whose FFN norm is conditioned on the delay."""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn

from ..config import ModelConfig
from .blocks import PreNormLayer, attention_mask, make_cache


def time_embedding(t: float, dim: int, theta: float = 10000.0) -> mx.array:
    """Sinusoidal embedding of the delay (in tokens): ``[cos(t f), sin(t f)]``, cos first.

    ``f_i = theta^(-i / (dim/2))``. Computed in float32; callers cast.
    """
    half = dim // 2
    inv_freq = mx.exp(-math.log(theta) * mx.arange(half, dtype=mx.float32) / half)
    emb = float(t) * inv_freq
    return mx.concatenate([mx.cos(emb), mx.sin(emb)])


class AdaNorm(nn.Module):
    """Per-layer delay conditioning: ``scale = w_out(gelu(w_in(t_cond)))``, applied as ``1 + scale``."""

    def __init__(self, dim: int, cond_dim: int):
        super().__init__()
        self.w_in = nn.Linear(dim, cond_dim, bias=False)
        self.w_out = nn.Linear(cond_dim, dim, bias=False)

    def __call__(self, t_cond: mx.array) -> mx.array:
        return self.w_out(nn.gelu(self.w_in(t_cond)))


class DecoderLayer(PreNormLayer):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg.dim, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim, cfg.hidden_dim,
                         cfg.rope_theta, cfg.norm_eps, biases=cfg.use_biases)  # fmt: skip
        if cfg.ada_rms_norm_t_cond:
            self.ada_norm = AdaNorm(cfg.dim, cfg.ada_rms_norm_t_cond_dim)

    def __call__(self, x: mx.array, ffn_gain: mx.array | None, mask, cache=None) -> mx.array:
        return super().__call__(x, mask, cache, ffn_gain)


class Decoder(nn.Module):
    """Token embeddings (tied with the output head), ``n_layers`` layers, final RMSNorm."""

    @property
    def kv_window(self) -> int:
        """Positions a step attends (its own included): the sliding window, else the longest
        context."""
        return self.cfg.sliding_window or self.cfg.model_max_length or 131072

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = [DecoderLayer(cfg) for _ in range(cfg.n_layers)]
        self.norm = nn.RMSNorm(cfg.dim, eps=cfg.norm_eps)

    def ffn_gains(self, n_delay_tokens: float) -> list[mx.array | None]:
        """``1 + ada_scale`` per layer for a delay; constant for a session, so computed once."""
        if not self.cfg.ada_rms_norm_t_cond:
            return [None] * len(self.layers)
        # The model's float dtype (a quantized embedding's weight is packed uint32): a float32
        # gain in a bfloat16 model would promote every activation and the KV cache to float32.
        dtype = self.norm.weight.dtype
        t_cond = time_embedding(n_delay_tokens, self.cfg.dim).astype(dtype)
        return [1 + layer.ada_norm(t_cond) for layer in self.layers]

    def make_cache(self) -> list:
        return [make_cache(self.cfg.sliding_window) for _ in self.layers]

    def embed(self, ids: mx.array) -> mx.array:
        return self.tok_embeddings(ids)

    def hidden(
        self, x: mx.array, ffn_gains: list, cache: list | None = None, eval_each_layer: bool = False
    ) -> mx.array:
        """Embeddings ``[B, T, dim]`` -> last layer's output; with ``cache``, incremental.

        ``eval_each_layer``: evaluate after each layer. A batch's prefill (8 rows x 39 positions)
        as one graph held every layer's activations until the end on MLX CUDA; evaluated layer
        by layer its scratch is a fraction of that (docs/benchmarks.md, H200 notes).
        """
        mask = attention_mask(x.shape[1], cache[0] if cache else None, self.cfg.sliding_window)
        for i, layer in enumerate(self.layers):
            x = layer(x, ffn_gains[i], mask, cache[i] if cache else None)
            if eval_each_layer:
                mx.eval(x)
        return x

    def __call__(self, x: mx.array, ffn_gains: list, cache: list | None = None) -> mx.array:
        """Embeddings ``[B, T, dim]`` -> logits ``[B, T, vocab]``; with ``cache``, incremental."""
        return self.tok_embeddings.as_linear(self.norm(self.hidden(x, ffn_gains, cache)))
