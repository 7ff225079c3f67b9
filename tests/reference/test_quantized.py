"""Quantize -> save -> load round trips on the tiny 'q64' config (every matmul width % 64 == 0).

Bounds held against the fp32 reference logits (max |diff| / max(1, max |logit|)): 8-bit <= 5e-2,
4-bit <= 5e-1 (measured 2.5e-2 and 3.5e-1: this random model at init 0.2 with 128-wide layers
is far more sensitive than a trained one). The exact check is structural: a loaded quantized
folder equals the float model with exactly the chosen layers fake-quantized (to 1e-4), and its
packed and expanded (CPU) forms agree to 1e-4.
"""

from __future__ import annotations

import json

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
from mlx.utils import tree_flatten

from voxtral_mlx.checkpoint import convert, weights
from voxtral_mlx.checkpoint.safetensors_io import read_header
from voxtral_mlx.cli import convert as convert_cli
from voxtral_mlx.errors import VoxtralError, WeightsError

from . import hf_reference as ref

N_DELAY = 6


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("q")
    torch_model = ref.build("q64", seed=0)
    native = ref.save_native(torch_model, root / "native")
    (native / "tekken.json").write_text("{}")  # copied verbatim by convert
    mel = ref.reference_mel(ref.padded(ref.test_audio(4.0, seed=1), N_DELAY))
    ids = ref.prompt_ids(39) + list(range(1000, 1000 + mel.shape[0] // 8 - 39))
    out = ref.reference_forward(torch_model, mel, ids, N_DELAY)
    return root, native, mel, ids, out["logits"]


def _logits(model, mel, ids) -> np.ndarray:
    return np.array(model(mx.array([ids]), mx.array(mel)[None], N_DELAY)[0].astype(mx.float32))


def _rel(a, b) -> float:
    return float(np.abs(a - b).max() / max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("bits,bound", [(8, 5e-2), (4, 5e-1)])
def test_quantized_round_trip(case, bits, bound):
    root, native, mel, ids, ref_logits = case
    out = convert.convert(native, root / f"q{bits}", bits=bits, dtype=mx.float32)
    params = json.loads((out / "params.json").read_text())
    assert params["quantization"] == {"group_size": 64, "bits": bits}
    assert (out / "tekken.json").read_text() == "{}"
    header = read_header(out / "model.safetensors")
    scales = {n.removesuffix(".scales") for n in header if n.endswith(".scales")}
    # Decoder linears and the tied embedding are quantized; ada MLPs, norms, encoder are not.
    assert "decoder.tok_embeddings" in scales and "decoder.layers.1.feed_forward.w2" in scales
    assert not any(".ada_norm." in s or s.startswith(("encoder.", "adapter.")) for s in scales)
    assert header["decoder.layers.0.attention.wq.weight"].dtype == "U32"

    packed, _ = weights.load(out, expand_quantized=False)  # q/k/v fused: one packed matmul
    assert isinstance(packed.decoder.layers[0].attention.wqkv, nn.QuantizedLinear)
    expanded, _ = weights.load(out, expand_quantized=True)
    assert type(expanded.decoder.layers[0].attention.wqkv) is nn.Linear
    lp, le = _logits(packed, mel, ids), _logits(expanded, mel, ids)
    drift = _rel(lp, ref_logits)
    agree = float((lp.argmax(-1) == ref_logits.argmax(-1)).mean())
    print(f"\n[{bits}-bit] logit drift {drift:.3e}, teacher-forced argmax agreement {agree:.1%}")
    assert drift <= bound
    assert _rel(le, lp) <= 1e-4
    assert _rel(lp, _logits(_fake_quantized(native, bits), mel, ids)) <= 1e-4


def test_packed_bfloat16_model_keeps_activations_in_bfloat16(case):
    """Packed weights on bfloat16: the delay gains, the decoder's activations and the KV cache
    stay bfloat16 (a float32 gain once promoted all of them: slower steps, twice the cache)."""
    from voxtral_mlx.model.fast_step import FastStepper

    root, native, mel, ids, _ = case
    out = convert.convert(native, root / "bf16q4", bits=4, dtype=mx.bfloat16)
    model, _ = weights.load(out, dtype=mx.bfloat16, expand_quantized=False)
    dec = model.decoder
    assert isinstance(dec.tok_embeddings, nn.QuantizedEmbedding)
    gains = dec.ffn_gains(N_DELAY)
    assert all(g.dtype == mx.bfloat16 for g in gains)
    audio = model.encode(mx.array(mel)[None].astype(mx.bfloat16))
    cache = dec.make_cache()
    x = dec.embed(mx.array([ids[:39]])) + audio[:, :39]
    assert x.dtype == mx.bfloat16
    assert dec(x, gains, cache).dtype == mx.bfloat16
    stepper = FastStepper(dec, gains)
    stepper.start(cache, 39)
    stepper.step(dec.embed(mx.array([[ids[39]]])) + audio[:, 39:40])
    assert {k.dtype for k in stepper.ks + stepper.vs} == {mx.bfloat16}


def _fake_quantized(native, bits, group_size=64, encoder=False):
    """The float model with exactly the predicate's layers quantized and dequantized."""
    model, _ = weights.load(native)
    for path, m in model.named_modules():
        if weights.quantize_predicate(path, m, group_size, encoder):
            q = mx.quantize(m.weight, group_size, bits)
            m.weight = mx.dequantize(*q, group_size, bits)
    return model


def test_group_sizes_and_encoder_option(case):
    root, native, mel, ids, ref_logits = case
    for gs in (32, 128):
        out = convert.convert(native, root / f"g{gs}", bits=8, group_size=gs, dtype=mx.float32)
        model, cfg = weights.load(out, expand_quantized=False)
        assert cfg.quantization.group_size == gs
        expected = _logits(_fake_quantized(native, 8, gs), mel, ids)
        assert _rel(_logits(model, mel, ids), expected) <= 1e-4
    out = convert.convert(native, root / "enc", bits=8, quantize_encoder=True, dtype=mx.float32)
    header = read_header(out / "model.safetensors")
    assert "encoder.layers.0.attention.wq.scales" in header and "adapter.w_in.scales" in header
    model, _ = weights.load(out, expand_quantized=False)
    expected = _logits(_fake_quantized(native, 8, encoder=True), mel, ids)
    assert _rel(_logits(model, mel, ids), expected) <= 1e-4


def test_sixteen_bit_conversion_is_a_plain_cast(case):
    root, native, mel, ids, _ = case
    out = convert.convert(native, root / "bf16", bits=16, dtype=mx.bfloat16)
    assert "quantization" not in json.loads((out / "params.json").read_text())
    a, _ = weights.load(out, dtype=mx.bfloat16)
    b, _ = weights.load(native, dtype=mx.bfloat16)
    for (n1, w1), (n2, w2) in zip(
        tree_flatten(a.parameters()), tree_flatten(b.parameters()), strict=True
    ):
        assert n1 == n2 and mx.array_equal(w1, w2)


def test_bad_conversions(case, tmp_path):
    root, native, *_ = case
    q = convert.convert(native, tmp_path / "q4", bits=4)
    with pytest.raises(WeightsError, match="already quantized"):
        convert.convert(q, tmp_path / "again", bits=4)
    with pytest.raises(VoxtralError, match="--bits"):
        convert.convert(native, tmp_path / "x", bits=3)
    assert convert_cli.main([str(tmp_path / "missing"), str(tmp_path / "y")]) == 1


def test_convert_cli(case, tmp_path, capsys):
    root, native, *_ = case
    assert convert_cli.main([str(native), str(tmp_path / "cli4"), "--bits", "4"]) == 0
    model, cfg = weights.load(tmp_path / "cli4")
    assert cfg.quantization.bits == 4
