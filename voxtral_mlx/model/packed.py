"""Packed (quantized) layers that multiply all their input rows as one matrix.

A batched decoder step (decode/batch.py) holds ``B`` rows of one token each, ``[B, 1, dim]``.
Given that layout, MLX's CUDA backend runs ``B`` separate one-row problems through its tiled
matrix kernel (its vector kernel takes only a single row); the same rows as one
``[1, B, dim]`` matrix are one problem, which that kernel handles several times faster at 8-16
rows, and a whole 8-row decoder step gains accordingly (docs/benchmarks.md, measured with
benchmarks/lab/bench_qmatmul.py and benchmarks/bench_batch.py). A linear acts on each row
alone, so the two layouts give the same numbers; flattening is a free reshape, and one row or
a long block (the file-mode encoder) is unchanged.

MLX internals this relies on, checked on mlx 0.32.4 (CPU, and CUDA on the H200 of
docs/benchmarks.md); tests/model/test_mlx_tricks.py fails, naming the trick, if one changes:
- ``QuantizedLinear.__call__`` and ``QuantizedEmbedding.as_linear`` are one
  ``mx.quantized_matmul(x, weight, scales, biases, transpose=True, group_size, bits, mode)``
  (plus ``bias``), and those are all of the layer's quantization state: ``_matmul`` repeats
  that call on the rows reshaped;
- an instance's class can be swapped between MLX's class and the subclass here
  (``install``), its parameters and frozen state untouched.
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
    """MLX's packed linear, its rows multiplied as one matrix."""

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
