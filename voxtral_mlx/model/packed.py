"""Packed (4/8-bit) layers that multiply all their input rows as one matrix.

A batched decoder step (batch_decode.py) holds ``B`` rows of one token each, ``[B, 1, dim]``.
Given that layout, MLX's CUDA backend runs ``B`` separate one-row problems through its tiled
matrix kernel (its vector kernel takes only a single row); the same rows as one
``[1, B, dim]`` matrix are one problem, which that kernel handles far faster.
Measured on an H200, MLX 0.32.4 (benchmarks/bench_qmatmul.py, 4-bit 3072 -> 18432, ms per
call for 1 / 8 / 16 rows): one matrix 0.081 / 0.120 / 0.111, the batch layout 0.084 / 0.327
/ 0.464. A whole 8-row decoder step (bench_batch.py, kernels compiled beforehand): 22.7 ms
in the batch layout, 13.3-14.0 ms as one matrix, i.e. 8 rows give 3.5-4.2x the tokens per
second of one row instead of 3.0x. A linear acts on each row alone, so the two layouts
give the same numbers; flattening is a free reshape, and one row or a long block (the
file-mode encoder) is unchanged.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn


def _matmul(mod: nn.Module, x: mx.array) -> mx.array:
    k = x.shape[-1]
    y = mx.quantized_matmul(
        x.reshape(1, -1, k),
        mod["weight"],
        scales=mod["scales"],
        biases=mod.get("biases"),
        transpose=True,
        group_size=mod.group_size,
        bits=mod.bits,
        mode=mod.mode,
    )
    return y.reshape(*x.shape[:-1], y.shape[-1])


class PackedLinear(nn.QuantizedLinear):
    def __call__(self, x: mx.array) -> mx.array:
        y = _matmul(self, x)
        return y + self["bias"] if "bias" in self else y


class PackedEmbedding(nn.QuantizedEmbedding):
    """The tied embedding: lookups as before, the output head (``as_linear``) as one matrix."""

    def as_linear(self, x: mx.array) -> mx.array:
        return _matmul(self, x)


def install(model: nn.Module, one_matrix: bool = True) -> nn.Module:
    """Switch every packed layer of ``model`` to one-matrix rows (or back to MLX's classes).

    Only the class changes, never the parameters: a loaded model keeps its arrays.
    """
    swaps = (
        ((nn.QuantizedLinear, PackedLinear), (nn.QuantizedEmbedding, PackedEmbedding))
        if one_matrix
        else ((PackedLinear, nn.QuantizedLinear), (PackedEmbedding, nn.QuantizedEmbedding))
    )
    for _, m in model.named_modules():
        for old, new in swaps:
            if isinstance(m, old):
                m.__class__ = new
    return model
