"""How many rows can share a decoder step and each still get exactly its single-stream bits?

A batch of files is each file alone only if every op of a step gives a row the same bits
whatever the other rows are. That is a property of the device's kernels, not of the maths
(benchmarks/lab/check_row_invariance.py; docs/benchmarks.md: on MLX CUDA the 4-bit matmul
switches kernels past a few rows and dense matmuls round one row differently from two). So
the answer is measured on the model's own layers when a batch is planned: rows are halved
until every op gives each row what it gives alone.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from voxtral_mlx.model import VoxtralRealtime


def exact_rows(model: VoxtralRealtime, want: int) -> int:
    """The largest of ``want, want // 2, ..., 1`` rows that every step op handles exactly."""
    rows = max(1, want)
    while rows > 1 and not _invariant(model, rows):
        rows //= 2
    return rows


def _invariant(model: VoxtralRealtime, rows: int) -> bool:
    dec = model.decoder
    layer = dec.layers[0]
    dtype = layer.attention_norm.weight.dtype
    ops = _linears(layer) + [
        (dec.cfg.dim, dec.tok_embeddings.as_linear),
        (dec.cfg.dim, lambda x: mx.fast.rms_norm(x, layer.attention_norm.weight, dec.cfg.norm_eps)),
    ]
    key = mx.random.key(0)
    for dim, op in ops:
        x = mx.random.normal((rows, 1, dim), key=key).astype(dtype)
        if not _same_rows(op, x):
            return False
    return _attention_invariant(dec.cfg, rows, dtype, key)


def _linears(layer: nn.Module) -> list[tuple[int, object]]:
    """(input width, module) for every linear a step runs (attention and feed-forward, however
    they are fused; the delay MLP runs once per session, not per step)."""
    out = []
    mods = layer.attention.named_modules() + layer.feed_forward.named_modules()
    for _, mod in mods:
        if isinstance(mod, nn.QuantizedLinear):
            out.append((mod["weight"].shape[-1] * 32 // mod.bits, mod))
        elif isinstance(mod, nn.Linear):
            out.append((mod["weight"].shape[-1], mod))
    return out


def _same_rows(op, x: mx.array) -> bool:
    together = op(x)
    alone = mx.concatenate([op(x[i : i + 1]) for i in range(x.shape[0])])
    return bool(mx.array_equal(together, alone).item())


def _attention_invariant(cfg, rows: int, dtype, key) -> bool:
    hd, scale = cfg.head_dim, cfg.head_dim**-0.5
    for keys in (40, 700):  # a prefill-sized cache and a longer one
        q = mx.random.normal((rows, cfg.n_heads, 1, hd), key=key).astype(dtype)
        k = mx.random.normal((rows, cfg.n_kv_heads, keys, hd), key=key).astype(dtype)
        v = mx.random.normal((rows, cfg.n_kv_heads, keys, hd), key=key).astype(dtype)

        def op(i, q=q, k=k, v=v):
            return mx.fast.scaled_dot_product_attention(q[i], k[i], v[i], scale=scale)

        together = mx.fast.scaled_dot_product_attention(q, k, v, scale=scale)
        alone = mx.concatenate([op(slice(i, i + 1)) for i in range(rows)])
        if not mx.array_equal(together, alone).item():
            return False
    return True


__all__ = ["exact_rows"]
