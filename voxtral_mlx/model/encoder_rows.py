"""The encoder's layers over many streams' rings as one compiled function (a front bank call).

A front bank call (``decode/front_bank.py``) runs every encoder layer over its rows: ~20 ops a
layer, each built in Python and launched from the host, while the device's work is small
(4 frames a row). Compiled, the host replays one recorded graph and elementwise ops fuse.
``benchmarks/lab/compile_lab.py`` on the H200, 64 rows: 7.2 ms of host time and 15.8 ms in
all op by op, 5.5 and 13.3 with the layers compiled whole (the lab's first version of this,
its mask boolean and made outside the graph; docs/benchmarks.md). The ring writes stay in
place inside the compiled graph (its peak memory was lower, not a copy of the rings higher).

The mask is additive (0 / -inf): MLX CUDA's attention over these shapes ran faster with an
additive mask than with booleans (``benchmarks/lab/bank_lab.py``). The same sums as
``RowRings.layers`` op by op, with a boolean mask: tests bound the two as any two ways of
rounding the encoder.
"""

from __future__ import annotations

import mlx.core as mx

from .encoder_ring import RowRings, ring_plan


class _Compiled:
    """The compiled stacks of one encoder by ring layout (slots, window), kept on it as a
    plain attribute (out of its parameter tree; a global table would keep every model
    alive)."""

    def __init__(self):
        self.by_layout: dict = {}


def encode_rows(encoder, rings: RowRings, x: mx.array, active: list[bool]) -> mx.array:
    """``encoder``'s layers and final norm over conv frames ``x [rows, n, dim]``, row ``r``
    continuing ``rings``' row ``r``; rows not ``active`` compute on whatever they are given
    and keep their state. The rings are updated; returns ``[rows, n, dim]``."""
    held = getattr(encoder, "_rows_compiled", None)
    if held is None:
        held = encoder._rows_compiled = _Compiled()
    layout = (rings.slots, rings.window)
    if layout not in held.by_layout:
        held.by_layout[layout] = mx.compile(_stack(encoder, *layout))
    offset, on = rings.starts(active)
    out = held.by_layout[layout](x, offset, on, *rings.ks, *rings.vs)
    rings.advance(active, x.shape[1])
    n = len(rings.ks)
    rings.ks, rings.vs = list(out[1 : 1 + n]), list(out[1 + n :])
    return out[0]


def _stack(encoder, slots: int, window: int):
    layers, eps = encoder.layers, encoder.args.norm_eps

    def run(x, offset, on, *buffers):
        ks, vs = list(buffers[: len(layers)]), list(buffers[len(layers) :])
        # The call's slots and mask inside the graph too: a dozen small ops fused.
        index, mask = ring_plan(offset, on, x.shape[1], slots, window, ks[0].shape[1],
                                True, ks[0].dtype)  # fmt: skip
        for i, layer in enumerate(layers):
            att = layer.attention
            q, k, v = att.project(mx.fast.rms_norm(x, layer.attention_norm.weight, eps), offset)
            ks[i] = mx.put_along_axis(ks[i], mx.broadcast_to(index, k.shape), k, axis=2)
            vs[i] = mx.put_along_axis(vs[i], mx.broadcast_to(index, v.shape), v, axis=2)
            out = mx.fast.scaled_dot_product_attention(q, ks[i], vs[i], scale=att.scale,
                                                       mask=mask)  # fmt: skip
            h = x + att.output(out)
            x = h + layer.feed_forward(mx.fast.rms_norm(h, layer.ffn_norm.weight, eps))
        return (encoder.norm(x), *ks, *vs)

    return run


__all__ = ["encode_rows"]
