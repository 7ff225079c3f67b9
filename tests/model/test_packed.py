"""Packed layers multiply their rows as one matrix (model/packed.py): MLX's numbers, any layout."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest

from voxtral_mlx.model import packed


def _linear(bias: bool) -> nn.QuantizedLinear:
    mx.random.seed(1)
    lin = nn.Linear(128, 96, bias=bias)
    if bias:
        lin.bias = mx.random.normal((96,))
    return nn.QuantizedLinear.from_linear(lin, group_size=32, bits=4)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("shape", [(128,), (1, 1, 128), (5, 1, 128), (1, 7, 128), (2, 40, 128)])
def test_one_matrix_gives_mlx_numbers_in_every_layout(bias, shape):
    lin = _linear(bias)
    x = mx.random.normal(shape)
    want = np.array(lin(x))
    packed.install(lin)
    assert type(lin) is packed.PackedLinear
    got = np.array(lin(x))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    packed.install(lin, one_matrix=False)
    assert type(lin) is nn.QuantizedLinear


def test_tied_head_as_one_matrix_and_lookup_unchanged():
    mx.random.seed(2)
    emb = nn.QuantizedEmbedding.from_embedding(nn.Embedding(64, 128), group_size=32, bits=4)
    x = mx.random.normal((6, 1, 128))
    ids = mx.array([[3], [7]])
    want_head, want_rows = np.array(emb.as_linear(x)), np.array(emb(ids))
    packed.install(emb)
    assert type(emb) is packed.PackedEmbedding
    np.testing.assert_allclose(np.array(emb.as_linear(x)), want_head, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.array(emb(ids)), want_rows)


def test_install_reaches_nested_modules_and_leaves_dense_ones():
    model = nn.Sequential(nn.Linear(64, 64), nn.Sequential(nn.Linear(64, 32)), nn.Linear(48, 8))
    nn.quantize(
        model, group_size=32, bits=4, class_predicate=lambda _, m: m.weight.shape[1] % 32 == 0
    )
    packed.install(model)
    kinds = [
        type(m) for _, m in model.named_modules() if isinstance(m, nn.Linear | nn.QuantizedLinear)
    ]
    assert sorted(k.__name__ for k in kinds) == ["Linear", "PackedLinear", "PackedLinear"]


def test_rows_reach_mlx_as_one_matrix(monkeypatch):
    lin = packed.install(_linear(False))
    seen = []
    real = mx.quantized_matmul

    def spy(x, *args, **kwargs):
        seen.append(x.shape)
        return real(x, *args, **kwargs)

    monkeypatch.setattr(mx, "quantized_matmul", spy)
    lin(mx.random.normal((8, 1, 128)))  # the batched decoder's layout
    assert seen == [(1, 8, 128)]


def test_dense_from_expands_the_weight_for_many_rows_only(monkeypatch):
    """From ``rows`` rows on a layer multiplies its expanded weight (one product, no quantized
    kernel); below, MLX's quantized kernel as before. Both within the quantized kernel's own
    distance from the exact product of the expanded weight in float64."""
    lin = packed.install(_linear(True))
    w = np.array(
        mx.dequantize(lin.weight, lin.scales, lin.biases, group_size=32, bits=4), np.float64
    )
    calls = []
    real = mx.quantized_matmul

    def spy(x, *args, **kwargs):
        calls.append(x.shape)
        return real(x, *args, **kwargs)

    monkeypatch.setattr(mx, "quantized_matmul", spy)
    assert packed.dense_from(lin, 8) == 1
    for rows, kernel in ((2, True), (8, False), (16, False)):
        calls.clear()
        x = mx.random.normal((rows, 1, 128))
        got = np.array(lin(x), np.float64)
        assert bool(calls) is kernel
        exact = np.array(x, np.float64) @ w.T + np.array(lin.bias, np.float64)
        quantized = np.array(real(x.reshape(1, -1, 128), lin.weight, lin.scales, lin.biases,
                                  transpose=True, group_size=32, bits=4), np.float64)  # fmt: skip
        bound = 4 * np.abs(quantized.reshape(got.shape) + np.array(lin.bias) - exact).max() + 1e-6
        assert got.shape == (rows, 1, 96)
        assert np.abs(got - exact).max() <= bound
    packed.dense_from(lin, None)
    calls.clear()
    lin(mx.random.normal((16, 1, 128)))
    assert calls == [(1, 16, 128)]  # back to the quantized kernel


def test_dense_from_reaches_the_tied_head():
    mx.random.seed(2)
    emb = packed.install(
        nn.QuantizedEmbedding.from_embedding(nn.Embedding(64, 128), group_size=32, bits=4)
    )
    x = mx.random.normal((6, 1, 128))
    want = np.array(emb.as_linear(x))
    packed.dense_from(emb, 4)
    w = mx.dequantize(emb.weight, emb.scales, emb.biases, group_size=32, bits=4)
    np.testing.assert_array_equal(np.array(emb.as_linear(x)), np.array(x @ w.T))
    np.testing.assert_allclose(np.array(emb.as_linear(x)), want, rtol=1e-4, atol=1e-4)
