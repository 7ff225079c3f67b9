"""Loader behaviour on MLX-layout folders and on broken folders (no torch needed).

Loading the native and transformers layouts written by the reference implementation is tested
in tests/reference/test_model_parity.py; the name tables alone in test_layouts.py.
"""

import json
import os

import mlx.core as mx
import numpy as np
import pytest

from voxtral_mlx.checkpoint import layouts, weights
from voxtral_mlx.errors import WeightsError


@pytest.fixture
def saved(tmp_path, tiny_model):
    return weights.save(tiny_model, tmp_path / "m")


def _logits(model):
    mel = mx.array(np.random.default_rng(0).standard_normal((1, 8 * 45, 128)).astype(np.float32))
    return model(mx.array([[1] + [32] * 44]), mel, 6)


def test_save_load_round_trip(saved, tiny_model):
    model, cfg = weights.load(saved, fuse=False)
    assert cfg == tiny_model.config
    assert float(mx.abs(_logits(model) - _logits(tiny_model)).max()) == 0.0
    assert layouts.detect_layout(saved)[0] == "mlx"


def test_fused_load_computes_the_same_and_saves_separate_matrices(saved, tiny_model, tmp_path):
    """load() stacks q/k/v and gate/up (one matmul each); the logits match the separate
    layers to float32 rounding, and save() writes the checkpoint's separate names back,
    bit for bit, biases only where the checkpoint has them (the encoder's wq/wv, not wk)."""
    model, _ = weights.load(saved)
    enc_att, dec_ffn = model.encoder.layers[0].attention, model.decoder.layers[0].feed_forward
    assert "wqkv" in enc_att and "wq" not in enc_att and "w13" in dec_ffn and "w1" not in dec_ffn
    a, b = _logits(model), _logits(tiny_model)
    assert float(mx.abs(a - b).max() / mx.abs(b).max()) < 1e-4  # measured 2e-5
    again = dict(mx.load(str(weights.save(model, tmp_path / "again") / "model.safetensors")))
    original = dict(mx.load(str(saved / "model.safetensors")))
    assert sorted(again) == sorted(original)
    assert all(mx.array_equal(again[k], original[k]) for k in original)


def test_sharded_save_round_trip(tmp_path, tiny_model):
    folder = weights.save(tiny_model, tmp_path / "s", max_shard_bytes=100_000)
    shards = sorted(p.name for p in folder.glob("model-*.safetensors"))
    assert len(shards) > 2 and (folder / "model.safetensors.index.json").is_file()
    model, _ = weights.load(folder, fuse=False)
    assert float(mx.abs(_logits(model) - _logits(tiny_model)).max()) == 0.0


def test_load_casts_dtype(saved):
    model, _ = weights.load(saved, dtype=mx.bfloat16)
    assert model.decoder.tok_embeddings.weight.dtype == mx.bfloat16


def _rewrite(folder, fn):
    path = folder / "model.safetensors"
    tensors = dict(mx.load(str(path)))
    fn(tensors)
    os.remove(path)
    mx.save_safetensors(str(path), tensors)


def test_missing_tensor_is_named(saved):
    _rewrite(saved, lambda t: t.pop("decoder.norm.weight"))
    with pytest.raises(WeightsError, match=r"missing tensor for 'decoder\.norm\.weight'"):
        weights.load(saved)


def test_unexpected_tensor_is_named(saved):
    _rewrite(saved, lambda t: t.__setitem__("decoder.extra.weight", mx.zeros((2,))))
    with pytest.raises(WeightsError, match=r"unexpected tensor 'decoder\.extra\.weight'"):
        weights.load(saved)


def test_wrong_shape_is_named(saved):
    _rewrite(saved, lambda t: t.__setitem__("adapter.w_out.weight", mx.zeros((64, 32))))
    with pytest.raises(WeightsError, match=r"'adapter\.w_out\.weight' has shape \[64, 32\]"):
        weights.load(saved)


def test_truncated_file(saved):
    path = saved / "model.safetensors"
    os.truncate(path, path.stat().st_size - 100)
    with pytest.raises(WeightsError, match="truncated"):
        weights.load(saved)


@pytest.mark.parametrize("content", [b"", b"\x01\x02", b"not a safetensors file at all" * 10])
def test_corrupt_file(saved, content):
    (saved / "model.safetensors").write_bytes(content)
    with pytest.raises(WeightsError, match="model.safetensors"):
        weights.load(saved)


def test_corrupt_header_json(saved):
    header = b"{not json" + b" " * 7
    (saved / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(WeightsError, match="not JSON"):
        weights.load(saved)


def test_folder_problems(tmp_path, saved):
    with pytest.raises(WeightsError, match="not found"):
        weights.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsError, match="not a Voxtral model folder"):
        weights.load(tmp_path / "empty")
    os.remove(saved / "model.safetensors")
    with pytest.raises(WeightsError, match="no weights"):
        weights.load(saved)


def test_bad_params_json(saved):
    (saved / "params.json").write_text("{")
    with pytest.raises(WeightsError, match="not JSON"):
        weights.load(saved)
    (saved / "params.json").write_text(json.dumps({"dim": 3}))
    with pytest.raises(WeightsError, match="missing required key 'n_layers'"):
        weights.load(saved)


def test_config_mismatch_reports_shape(saved):
    params = json.loads((saved / "params.json").read_text())
    params["hidden_dim"] = 256
    (saved / "params.json").write_text(json.dumps(params))
    with pytest.raises(WeightsError, match="shape"):
        weights.load(saved)


def test_missing_shard(tmp_path, tiny_model):
    folder = weights.save(tiny_model, tmp_path / "s", max_shard_bytes=100_000)
    os.remove(next(folder.glob("model-00002-*.safetensors")))
    with pytest.raises(WeightsError, match="model-00002.*missing"):
        weights.load(folder)


def test_streamed_native_checkpoint_loads(tmp_path, tiny_model):
    """write_streaming (one tensor at a time) + native names -> the native loader reads it back."""
    from voxtral_mlx.checkpoint.safetensors_io import read_header, write_streaming

    folder = tmp_path / "native"
    folder.mkdir()
    write_streaming(
        folder / "consolidated.safetensors", layouts.native_tensors(tiny_model, mx.float32)
    )
    (folder / "params.json").write_text(json.dumps(tiny_model.config.to_dict()))
    header = read_header(folder / "consolidated.safetensors")
    conv = header[
        "mm_streams_embeddings.embedding_module.whisper_encoder.conv_layers.0.conv.weight"
    ]
    assert conv.shape == (64, 128, 3)  # torch layout on disk
    model, _ = weights.load(folder, fuse=False)
    assert layouts.detect_layout(folder)[0] == "native"
    assert float(mx.abs(_logits(model) - _logits(tiny_model)).max()) == 0.0
