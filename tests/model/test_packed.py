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
