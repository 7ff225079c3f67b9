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

Opt-in (``dense_from``, the server's decoder bank): from some number of rows on, a layer
expands its weight to the activations' dtype and multiplies it densely. On MLX CUDA the tiled
quantized kernel is slow with dozens of rows (a 64-row decoder step 45 ms at 4-bit against
7 ms with bfloat16 weights, docs/benchmarks.md); expanding costs one read of the packed weight
and one write of a dense one per call, whatever the rows. The expanded weight rounds to the
activations' dtype before the product, so results may differ from the quantized kernel's in
the last bits (the words may change: opt-in, as the banks are).
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn


def _matmul(mod: nn.Module, x: mx.array) -> mx.array:
    k = x.shape[-1]
    dense = getattr(mod, "dense_rows", None)
    if dense is not None and x.size // k >= dense:
        return x @ _expanded(mod).T
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


def _expanded(mod: nn.Module) -> mx.array:
    """The layer's weight as a dense matrix (lazy: built inside the call that uses it)."""
    return mx.dequantize(mod["weight"], mod["scales"], mod.get("biases"),
                         group_size=mod.group_size, bits=mod.bits, mode=mod.mode)  # fmt: skip


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


def dense_from(model: nn.Module, rows: int | None) -> int:
    """Packed layers of ``model`` multiply calls of at least ``rows`` input rows densely (see
    the module docstring); None: never (the default). Set it before any compiled function
    traces the layers (a trace keeps the choice of its shapes). Returns the layers changed."""
    n = 0
    for _, m in model.named_modules():
        if isinstance(m, PackedLinear | PackedEmbedding):
            m.dense_rows = rows
            n += 1
    return n
