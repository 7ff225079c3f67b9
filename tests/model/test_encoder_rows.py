"""The compiled encoder stack of a front bank call equals the encoder op by op."""

import mlx.core as mx
import numpy as np

from voxtral_mlx.decode.audio_pipeline import LIVE_BLOCK
from voxtral_mlx.model.encoder_ring import RowRings
from voxtral_mlx.model.encoder_rows import encode_rows

from .test_model import _rel


def _rings(model, rows: int) -> RowRings:
    args = model.encoder.args
    rings = RowRings(len(model.encoder.layers), 1, args.sliding_window, LIVE_BLOCK,
                     args.kv_heads, args.head_dim, mx.float32)  # fmt: skip
    rings.grow(rows)
    return rings


def test_compiled_rows_equal_the_layers_op_by_op(tiny_model):
    enc = tiny_model.encoder
    rng = np.random.default_rng(3)
    compiled, plain = _rings(tiny_model, 3), _rings(tiny_model, 3)
    # Calls of several sizes with rows sitting some out: positions, ring writes and the spare
    # slot of rows without a token must agree call after call.
    for n, active in [(4, [True] * 3), (8, [True, False, True]), (4, [False, True, True]),
                      (16, [True, True, False]), (4, [True] * 3)]:  # fmt: skip
        x = mx.array(rng.standard_normal((3, n, enc.args.dim)).astype(np.float32))
        got = encode_rows(enc, compiled, x, active)
        want = enc.transformer(x, plain.layers(active, n))
        assert compiled.offsets == plain.offsets
        for r, on in enumerate(active):
            if on:
                assert _rel(got[r], want[r]) < 1e-5
    for a, b in zip(compiled.ks + compiled.vs, plain.ks + plain.vs, strict=True):
        assert _rel(a[:, :, :-1], b[:, :, :-1]) < 1e-5  # every slot but the spare


def test_each_encoder_has_its_own_compiled_stack(tiny_model):
    from voxtral_mlx.model import VoxtralRealtime

    other = VoxtralRealtime(tiny_model.config)  # other random weights
    x = mx.ones((1, 4, tiny_model.encoder.args.dim))
    a = encode_rows(tiny_model.encoder, _rings(tiny_model, 1), x, [True])
    b = encode_rows(other.encoder, _rings(other, 1), x, [True])
    assert (
        _rel(a, tiny_model.encoder.transformer(x, _rings(tiny_model, 1).layers([True], 4))) < 1e-5
    )
    assert _rel(b, other.encoder.transformer(x, _rings(other, 1).layers([True], 4))) < 1e-5
    assert _rel(a, b) > 1e-2
