"""The MLX internals that model/fused.py, model/packed.py and model/fast_step.py rely on.

Each check exercises exactly what a trick assumes of MLX and compares it with a plain numpy
computation (the affine quantized layout read bit by bit, a float matmul), so a new MLX that
changes one of them fails here, naming the trick, instead of silently changing numbers.
Checked on mlx 0.32.4 (CPU here, CUDA on the H200 of docs/benchmarks.md). The last test shows
each check failing against an MLX changed under it (monkeypatched).
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
from mlx.utils import tree_flatten

from voxtral_mlx.model import fused, packed

CHECKED_ON = "mlx 0.32.4"
K, GROUP = 128, 32  # input width and group size of the layers below (4 groups a row)


def _says(trick: str, what: str) -> str:
    """The failure message: which trick, which assumption, which MLX."""
    return f"{trick} relies on {what} (checked on {CHECKED_ON}; this is mlx {mx.__version__})"


def unpack_affine(weight, scales, biases, group_size: int, bits: int) -> np.ndarray:
    """MLX's affine layout read by hand: each output row's uint32 words are one little-endian
    stream of ``bits``-bit integers ``q`` along the input axis; a value is ``q * scale + bias``
    of its group of ``group_size`` inputs."""
    words = np.array(weight)
    rows = words.shape[0]
    stream = np.unpackbits(words.view(np.uint8).reshape(rows, -1), axis=1, bitorder="little")
    q = stream.reshape(rows, -1, bits) @ (1 << np.arange(bits))
    grouped = q.reshape(rows, -1, group_size).astype(np.float64)
    values = (
        grouped * np.array(scales, np.float64)[..., None] + np.array(biases, np.float64)[..., None]
    )
    return values.reshape(rows, -1)


def _quantized(rows: int, bits: int, bias: bool, seed: int) -> nn.QuantizedLinear:
    mx.random.seed(seed)
    lin = nn.Linear(K, rows, bias=bias)
    if bias:
        lin.bias = mx.random.normal((rows,))
    return nn.QuantizedLinear.from_linear(lin, group_size=GROUP, bits=bits)


def _dense(layer: nn.QuantizedLinear) -> np.ndarray:
    return unpack_affine(layer["weight"], layer["scales"], layer["biases"], GROUP, layer.bits)


# ---- fused.py: stacking quantized rows ---------------------------------------------------------
def check_affine_layout(bits: int) -> None:
    """Each output row is packed on its own, in the layout ``unpack_affine`` reads."""
    trick = "fused.concat_linears (stacking packed weights along axis 0)"
    rng = np.random.default_rng(bits)
    w = mx.array(rng.standard_normal((6, K)).astype(np.float32))
    q, scales, biases = mx.quantize(w, GROUP, bits)
    shapes = (q.dtype, q.shape, scales.shape, biases.shape)
    want = (mx.uint32, (6, K * bits // 32), (6, K // GROUP), (6, K // GROUP))
    assert shapes == want, _says(trick, f"the affine layout {want}, got {shapes}")
    ours = unpack_affine(q, scales, biases, GROUP, bits)
    mlx_reads = np.array(mx.dequantize(q, scales, biases, GROUP, bits))
    assert np.allclose(ours, mlx_reads, atol=1e-5), _says(
        trick, "row-wise little-endian packing: mx.dequantize reads the words otherwise"
    )
    # Row r of the packed arrays holds row r of the matrix: nearest to it of all rows.
    error = np.abs(ours[:, None, :] - np.array(w)[None, :, :]).mean(axis=2)
    assert (error.argmin(axis=1) == np.arange(6)).all(), _says(
        trick, "row r of the packed arrays holding row r of the matrix"
    )
    parts = [mx.quantize(w[a:b], GROUP, bits) for a, b in ((0, 2), (2, 5), (5, 6))]
    for i, name in enumerate(("weight", "scales", "biases")):
        stacked = np.concatenate([np.array(p[i]) for p in parts])
        assert np.array_equal(stacked, np.array((q, scales, biases)[i])), _says(
            trick, f"rows quantized alone: the stacked {name} differ from the whole matrix's"
        )


def check_fused_quantized_linear(bits: int) -> None:
    """A QuantizedLinear built by concat_linears (no __init__) is complete and exact."""
    trick = "fused.concat_linears (a QuantizedLinear built without its __init__)"
    parts = {
        "wq": _quantized(24, bits, True, 1),
        "wk": _quantized(8, bits, False, 2),
        "wv": _quantized(8, bits, True, 3),
    }  # fmt: skip  (the encoder's: no bias on wk)
    layer = fused.concat_linears(parts)
    made = nn.QuantizedLinear(K, 40, bias=True, group_size=GROUP, bits=bits)
    assert set(vars(layer)) == set(vars(made)), _says(
        trick, f"MLX's __init__ setting only {sorted(vars(layer))}; it sets {sorted(vars(made))}"
    )
    assert set(layer) - {"_parts"} == set(made), _says(
        trick, f"the items {sorted(made)}; the fused layer has {sorted(layer)}"
    )
    assert tree_flatten(layer.trainable_parameters()) == [], _says(trick, "freeze() on all")
    x = mx.random.normal((3, 1, K))
    bias = np.concatenate([np.array(m.bias) if "bias" in m else np.zeros(m.weight.shape[0])
                           for m in parts.values()])  # fmt: skip
    dense = np.concatenate([_dense(m) for m in parts.values()])
    want = np.array(x, np.float64) @ dense.T + bias
    got = np.array(layer(x))
    assert np.allclose(got, want, rtol=1e-4, atol=1e-4), _says(
        trick, "quantized_matmul over the stacked arrays computing the stacked float matmul"
    )


def check_parts_stay_out_of_the_parameters() -> None:
    """The bookkeeping tuple ``_parts`` is no parameter; checkpoint names come back."""
    trick = "fused (the _parts tuple kept on the fused module)"
    mx.random.seed(4)
    model = nn.Module()
    model.attention = nn.Module()
    for name, rows in (("wq", 16), ("wk", 8), ("wv", 8)):
        setattr(model.attention, name, nn.Linear(K, rows, bias=False))
    before = dict(tree_flatten(model.parameters()))
    fused.fuse_model(model)
    names = sorted(k for k, _ in tree_flatten(model.parameters()))
    assert names == ["attention.wqkv.weight"], _says(
        trick, f"Module.parameters() leaving out '_' items; it lists {names}"
    )
    back = dict(fused.checkpoint_parameters(model))
    assert sorted(back) == sorted(before), _says(trick, "the parts read back from _parts")
    for name, value in before.items():
        assert np.array_equal(np.array(back[name]), np.array(value)), _says(trick, name)


# ---- packed.py: rows as one matrix, classes swapped ----------------------------------------------
def check_packed_call(bits: int) -> None:
    """MLX's packed layers compute one quantized_matmul (+ bias), as PackedLinear repeats."""
    trick = "packed.PackedLinear/PackedEmbedding (repeating QuantizedLinear.__call__)"
    layer = _quantized(48, bits, True, 5)
    x = mx.random.normal((8, 1, K))  # the batched decoder's layout
    want = np.array(x, np.float64) @ _dense(layer).T + np.array(layer.bias)
    mlx_out = layer(x)
    for label, got in (
        ("MLX's QuantizedLinear", mlx_out),
        ("PackedLinear", packed.install(layer)(x)),
    ):
        assert np.allclose(np.array(got), want, rtol=1e-4, atol=1e-4), _says(
            trick, f"{label} computing x @ dequantized(weight).T + bias"
        )
    mx.random.seed(6)
    emb = nn.QuantizedEmbedding.from_embedding(nn.Embedding(40, K), group_size=GROUP, bits=bits)
    table = unpack_affine(emb["weight"], emb["scales"], emb["biases"], GROUP, bits)
    want = np.array(x, np.float64) @ table.T
    mlx_out = emb.as_linear(x)
    packed_out = packed.install(emb).as_linear(x)
    for label, got in (("MLX's QuantizedEmbedding", mlx_out), ("PackedEmbedding", packed_out)):
        assert np.allclose(np.array(got), want, rtol=1e-4, atol=1e-4), _says(
            trick, f"{label} computing x @ dequantized(table).T"
        )


def check_class_swap() -> None:
    """``install`` swaps only the class: the same arrays, attributes and frozen state."""
    trick = "packed.install (swapping __class__ on MLX's layers)"
    layer = _quantized(16, 4, True, 7)
    arrays = {k: id(v) for k, v in tree_flatten(layer.parameters())}
    state = dict(vars(layer))
    trainable = [k for k, _ in tree_flatten(layer.trainable_parameters())]
    for cls in (packed.PackedLinear, nn.QuantizedLinear):
        packed.install(layer, one_matrix=cls is packed.PackedLinear)
        assert type(layer) is cls, _says(trick, f"__class__ assignment to {cls.__name__}")
        now = {k: id(v) for k, v in tree_flatten(layer.parameters())}
        assert now == arrays and vars(layer) == state, _says(trick, "state left as it was")
        now = [k for k, _ in tree_flatten(layer.trainable_parameters())]
        assert now == trainable, _says(trick, "the frozen state left as it was")


# ---- fast_step.py: in-place buffers, the compiled functions kept on the decoder ---------------
def check_slice_assignment_rebinds() -> None:
    """``keys[..., slot : slot + 1, :] = k`` updates the array that the stepper's list holds."""
    trick = "lanes.Lane.attend (the KV ring buffer written by slice assignment)"
    held = [mx.zeros((1, 2, 4, 3))]
    keys = held[0]
    keys[..., 1:2, :] = mx.ones((1, 2, 1, 3))
    want = np.zeros((1, 2, 4, 3))
    want[..., 1, :] = 1
    assert np.array_equal(np.array(held[0]), want), _says(
        trick, "__setitem__ updating the array object in place"
    )


def check_plain_attribute_is_no_parameter() -> None:
    """A Python object set on a module (the stepper's compiled functions) is no parameter."""
    trick = "fast_step (_fast_step_compiled kept on the decoder)"
    from voxtral_mlx.config import ModelConfig
    from voxtral_mlx.model import VoxtralRealtime
    from voxtral_mlx.model.fast_step import FastStepper
    from voxtral_mlx.testing import tiny_params

    model = VoxtralRealtime(ModelConfig.from_dict(tiny_params()))
    before = [k for k, _ in tree_flatten(model.parameters())]
    FastStepper.for_delay(model.decoder, 6)
    assert model.decoder._fast_step_compiled is not None
    after = [k for k, _ in tree_flatten(model.parameters())]
    assert after == before and "_fast_step_compiled" not in model.decoder, _says(
        trick, "Module.__setattr__ keeping a plain object out of the parameter tree"
    )


# ---- the tests ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6, 8])  # every width params.json allows
def test_the_affine_layout_is_rows_packed_alone(bits):
    check_affine_layout(bits)


@pytest.mark.parametrize("bits", [4, 8])
def test_a_fused_quantized_linear_is_complete_and_exact(bits):
    check_fused_quantized_linear(bits)


def test_fusion_bookkeeping_stays_out_of_the_parameters():
    check_parts_stay_out_of_the_parameters()


@pytest.mark.parametrize("bits", [4, 8])
def test_packed_layers_compute_what_mlx_layers_do(bits):
    check_packed_call(bits)


def test_packed_install_swaps_only_the_class():
    check_class_swap()


def test_a_slice_assignment_updates_the_held_buffer():
    check_slice_assignment_rebinds()


def test_the_stepper_cache_is_no_parameter():
    check_plain_attribute_is_no_parameter()


def _rows_packed_together(monkeypatch):
    """An MLX that stores the packed rows in another order than the matrix's."""
    real_q, real_dq = mx.quantize, mx.dequantize

    def swap(a):
        return a[mx.array([1, 0, *range(2, a.shape[0])])] if a.shape[0] > 1 else a

    def quantize(w, *args, **kwargs):
        return tuple(map(swap, real_q(w, *args, **kwargs)))

    def dequantize(q, scales, biases, *args, **kwargs):
        return swap(real_dq(swap(q), swap(scales), swap(biases), *args, **kwargs))

    monkeypatch.setattr(mx, "quantize", quantize)
    monkeypatch.setattr(mx, "dequantize", dequantize)


def _init_sets_more(monkeypatch):
    """An MLX whose QuantizedLinear.__init__ sets one more attribute."""
    real = nn.QuantizedLinear.__init__

    def init(self, *args, **kwargs):
        real(self, *args, **kwargs)
        self.global_scale = 1.0

    monkeypatch.setattr(nn.QuantizedLinear, "__init__", init)


def _tuples_are_parameters(monkeypatch):
    """An MLX whose parameters() lists every item, ``_`` keys and tuples included."""

    def every_item(module, key, value):
        return isinstance(value, (dict, list, tuple, mx.array))

    monkeypatch.setattr(nn.Module, "valid_parameter_filter", staticmethod(every_item))


def _layer_call_changed(monkeypatch):
    """An MLX whose QuantizedLinear computes something more than the one quantized_matmul."""
    real = nn.QuantizedLinear.__call__
    monkeypatch.setattr(nn.QuantizedLinear, "__call__", lambda self, x: real(self, x) * 0.5)


@pytest.mark.parametrize(
    ("change", "check", "names"),
    [
        (_rows_packed_together, lambda: check_affine_layout(4), "fused.concat_linears"),
        (_init_sets_more, lambda: check_fused_quantized_linear(4), "without its __init__"),
        (_tuples_are_parameters, check_parts_stay_out_of_the_parameters, "_parts tuple"),
        (_layer_call_changed, lambda: check_packed_call(4), "packed.PackedLinear"),
    ],
)
def test_each_check_fails_when_mlx_changes_under_it(change, check, names, monkeypatch):
    change(monkeypatch)
    with pytest.raises(AssertionError, match=names.replace(".", r"\.")) as failed:
        check()
    assert CHECKED_ON in str(failed.value)
