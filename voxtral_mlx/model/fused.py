"""Fusing a layer's parallel projections into one matmul: q/k/v into ``wqkv``, gate/up into ``w13``.

Why: per token the model is bound by how many kernels it launches, not by arithmetic (on MLX's
CUDA backend every op costs microseconds of host time and a decoder step waits on the host,
never on the GPU: docs/benchmarks.md, measured with benchmarks/lab/step_lab.py). Three
matmuls over the same input cost three launches, one matmul over their stacked weights one.
Stacking along the output axis is exact for dense and for mlx-lm's affine quantized weights
alike (each output row keeps its own packed values, scales and biases), so a fused layer
computes the same numbers.

Checkpoints always hold the separate matrices: :func:`checkpoint_parameters` gives a model's
parameters under those names (``weights.save`` writes them), so fusion is an in-memory layout
only.

MLX internals this relies on, checked on mlx 0.32.4 (CPU, and CUDA on the H200 of
docs/benchmarks.md); tests/model/test_mlx_tricks.py fails, naming the trick, if one changes:
- the affine quantized layout packs each output row alone (weight ``[out, in * bits / 32]``
  uint32, scales and biases ``[out, in / group_size]``), so concatenating along axis 0 stacks
  rows;
- a ``QuantizedLinear`` made with ``__new__`` + ``Module.__init__`` + ``group_size``, ``bits``
  and ``mode`` is complete: MLX's ``__init__`` sets nothing else its ``__call__`` reads;
- ``Module.__setattr__`` files the ``_parts`` tuple as an item, and ``parameters()`` leaves it
  out (a ``_`` key, not an array): it never reaches a checkpoint or ``update``.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

# fused module name -> the modules it stacks, in output order
FUSED = {"wqkv": ("wq", "wk", "wv"), "w13": ("w1", "w3")}


def concat_linears(mods: dict[str, nn.Module]) -> nn.Module | None:
    """One linear whose output is the concatenation of ``mods``' outputs (in order); None if
    they differ in kind (dense vs quantized, bits, group size), where stacking is impossible.

    The result remembers its parts (``_parts``: name, rows, had a bias) so it can be split
    back; a part without a bias gets zeros in the stacked bias.
    """
    first = next(iter(mods.values()))
    if all(type(m) is nn.Linear for m in mods.values()):
        out = nn.Linear(first.weight.shape[1], 1, bias=False)
        keys = ("weight",)
    elif all(
        type(m) is nn.QuantizedLinear
        and (m.bits, m.group_size, m.mode) == (first.bits, first.group_size, first.mode)
        for m in mods.values()
    ):
        out = nn.QuantizedLinear.__new__(nn.QuantizedLinear)
        nn.Module.__init__(out)
        out.group_size, out.bits, out.mode = first.group_size, first.bits, first.mode
        keys = tuple(k for k in ("weight", "scales", "biases") if k in first)
    else:
        return None
    for key in keys:
        out[key] = mx.concatenate([m[key] for m in mods.values()])
    if any("bias" in m for m in mods.values()):
        out.bias = mx.concatenate(
            [
                m.bias if "bias" in m else mx.zeros((m.weight.shape[0],), out.weight.dtype)
                for m in mods.values()
            ]
        )
    out._parts = tuple((n, m.weight.shape[0], "bias" in m) for n, m in mods.items())
    if isinstance(out, nn.QuantizedLinear):
        out.freeze()
    return out


def fuse_module(parent: nn.Module) -> bool:
    """Fuse the projections of one attention or SwiGLU module in place; True if it did."""
    found = _fusion(parent)
    if found is None:
        return False
    fused, parts = found
    new = concat_linears({p: parent[p] for p in parts})
    if new is None:
        return False
    for p in parts:
        delattr(parent, p)
    setattr(parent, fused, new)
    return True


def fuse_model(model: nn.Module, evaluate: bool = True) -> nn.Module:
    """Fuse every attention's q/k/v and every SwiGLU's gate/up (encoder and decoder).

    With ``evaluate``, layer by layer, so each separate copy is freed as its stacked one
    appears (peak memory: the model plus one layer); otherwise the stacks stay lazy.
    """
    # Only the parents are held here: a list of every module would keep the separate linears,
    # and so their loaded weights, alive until the end (load's peak: docs/benchmarks.md).
    parents = [m for _, m in model.named_modules() if _fusion(m) is not None]
    for module in parents:
        if fuse_module(module) and evaluate:
            mx.eval(module.parameters())
    return model


def _fusion(module: nn.Module) -> tuple[str, tuple[str, ...]] | None:
    """(fused name, parts) when ``module`` holds all the parts of one fusion."""
    return next(((f, parts) for f, parts in FUSED.items() if all(p in module for p in parts)), None)


def checkpoint_parameters(model: nn.Module) -> list[tuple[str, mx.array]]:
    """The model's parameters under checkpoint names: fused stacks split into their parts."""
    out = []
    for name, value in tree_flatten(model.parameters()):
        path, _, key = name.rpartition(".")
        parent, _, fused = path.rpartition(".")
        if fused not in FUSED:
            out.append((name, value))
            continue
        module = model
        for p in path.split("."):
            module = module[int(p)] if isinstance(module, list) else module[p]
        parts = module._parts
        rows = [r for _, r, _ in parts]
        bounds = [sum(rows[: i + 1]) for i in range(len(rows) - 1)]
        for (part, _, has_bias), piece in zip(parts, mx.split(value, bounds), strict=True):
            if key != "bias" or has_bias:
                out.append((f"{parent}.{part}.{key}" if parent else f"{part}.{key}", piece))
    return out
