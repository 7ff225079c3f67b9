"""The checkpoint name tables and tensor layouts, checked without a reference implementation.

Whole native and transformers checkpoints written by the reference are loaded in
tests/reference/test_model_parity.py; here each table and transform is checked on its own.
"""

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten

from voxtral_mlx.checkpoint import layouts


def test_native_export_names_invert_the_load_table(tiny_model):
    for name, _ in tree_flatten(tiny_model.parameters()):
        assert layouts.rename("native", layouts.native_name(name)) == name


@pytest.mark.parametrize(
    "layout, dropped", [("native", "output.weight"), ("transformers", "lm_head.weight")]
)
def test_tied_heads_are_dropped_and_unknown_names_refused(layout, dropped):
    assert layouts.rename(layout, dropped) is None
    with pytest.raises(KeyError):
        layouts.rename(layout, "decoder.layers.0.attention.wq.weight")  # our name, not theirs
    assert layouts.rename("mlx", "decoder.norm.weight") == "decoder.norm.weight"


def _permute_for_rope(w: np.ndarray, n_heads: int) -> np.ndarray:
    """transformers' convert script: interleaved pairs -> rotate-half rows, per head."""
    rows = w.shape[0]
    rest = w.shape[1:]
    return w.reshape(n_heads, rows // n_heads // 2, 2, *rest).swapaxes(1, 2).reshape(rows, *rest)


@pytest.mark.parametrize(
    "name, heads",
    [
        ("decoder.layers.1.attention.wq.weight", "n_heads"),
        ("decoder.layers.0.attention.wk.weight", "n_kv_heads"),
        ("encoder.layers.0.attention.wq.bias", "encoder n_heads"),
    ],
)
def test_transformers_rope_rows_are_unpermuted(tiny_model, name, heads):
    cfg = tiny_model.config
    ours = np.array(dict(tree_flatten(tiny_model.parameters()))[name])
    n = {"n_heads": cfg.n_heads, "n_kv_heads": cfg.n_kv_heads}.get(heads, cfg.encoder.n_heads)
    stored = mx.array(_permute_for_rope(ours, n))
    assert not np.array_equal(np.array(stored), ours)  # the permutation moved rows
    assert np.array_equal(np.array(layouts.to_mlx("transformers", name, stored, cfg)), ours)
    # native q/k are already interleaved: untouched
    assert layouts.to_mlx("native", name, stored, cfg) is stored


@pytest.mark.parametrize("layout", ["native", "transformers"])
def test_conv_stem_is_transposed_from_torch_order(tiny_model, layout):
    w = tiny_model.encoder.conv1.weight  # MLX [out, k, in]
    torch_order = w.swapaxes(1, 2)
    assert layouts.mlx_shape(layout, "encoder.conv1.weight", torch_order.shape) == w.shape
    converted = layouts.to_mlx(layout, "encoder.conv1.weight", torch_order, tiny_model.config)
    assert mx.array_equal(converted, w)
    assert layouts.mlx_shape("mlx", "encoder.conv1.weight", w.shape) == w.shape
