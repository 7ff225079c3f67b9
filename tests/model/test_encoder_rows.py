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


def test_call_sizes_share_compiled_kernels(tiny_model):
    """A call of another size reuses the compiled kernels: the number of frames must not
    appear as a number in the graph, or MLX writes it into the fused kernels' source and
    compiles them again (seconds each on MLX CUDA, mid-stream). Seen here through MLX's CPU
    kernel cache, a shared library per compiled kernel source."""
    import glob
    import os
    import tempfile

    folder = os.path.join(tempfile.gettempdir(), "mlx", mx.__version__, "cpu")

    def libraries() -> set[str]:
        return set(glob.glob(os.path.join(folder, "*.so")))

    enc = tiny_model.encoder
    with mx.stream(mx.cpu):
        rings = _rings(tiny_model, 3)
        for i, n in enumerate((4, 20, 28, 36)):  # sizes no other test runs
            before = libraries()
            x = mx.ones((3, n, enc.args.dim))
            mx.eval(encode_rows(enc, rings, x, [True, i % 2 == 0, True]))
            if i == 0:
                assert libraries(), "MLX's CPU kernel cache was not where this test looks"
            else:
                assert libraries() == before, f"a call of {n} frames compiled new kernels"
