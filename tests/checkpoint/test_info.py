"""``--info``'s description of a model folder: parameters and quantization, any size (issue 16 §5)."""

import json

import mlx.core as mx
import mlx.nn as nn
import pytest
from mlx.utils import tree_flatten

from voxtral_mlx.checkpoint import layouts, weights
from voxtral_mlx.checkpoint.convert import convert
from voxtral_mlx.checkpoint.info import describe
from voxtral_mlx.checkpoint.safetensors_io import _MX_TAGS
from voxtral_mlx.config import ModelConfig, QuantizationArgs
from voxtral_mlx.model import VoxtralRealtime
from voxtral_mlx.testing import realtime_4b_params


def _line(lines, label):
    (line,) = [x for x in lines if x.startswith(label)]
    return line


def _float_count(cfg) -> int:
    return sum(v.size for _, v in tree_flatten(VoxtralRealtime(cfg).parameters()))  # lazy


@pytest.fixture
def saved(tmp_path, tiny_model):
    return weights.save(tiny_model, tmp_path / "m")


def test_float_folder(saved, tiny_model):
    lines = describe(saved)
    assert "(mlx layout, 1 weight file(s)," in _line(lines, "model ")
    assert _line(lines, "quantized ") == "quantized  no (weights F32)"
    assert "2 layers, dim 64" in _line(lines, "decoder ")
    assert "1280 samples/token" in _line(lines, "audio ")
    n = _float_count(tiny_model.config)
    assert _line(lines, "params ").startswith(f"params     {n / 1e3:.3g} K (encoder ")


@pytest.mark.parametrize("bits, group, encoder", [(4, 64, False), (8, 32, True)])
def test_quantized_folder(saved, tmp_path, tiny_model, bits, group, encoder):
    out = convert(saved, tmp_path / "q", bits=bits, group_size=group, quantize_encoder=encoder)
    lines = describe(out)
    # Unpacked parameters: the same count as the float model, not uint32 words.
    assert _line(lines, "params ") == _line(describe(saved), "params ")
    q = _line(lines, "quantized ")
    assert q.startswith(f"quantized  {bits}-bit, group size {group}: ")
    assert ("encoder 14/14 matrices" if encoder else "encoder 0/14 matrices") in q
    assert "decoder 15/19 matrices (embedding included)" in q and q.endswith("the rest BF16")


def _sparse_checkpoint(folder, model, cfg):
    """An MLX folder whose header is real and whose data is a hole (no disk, no memory)."""
    header, offset = {}, 0
    for name, w in tree_flatten(model.parameters()):
        n = w.size * w.dtype.size
        tag = _MX_TAGS[str(w.dtype).removeprefix("mlx.core.")]
        header[name] = {"dtype": tag, "shape": list(w.shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    folder.mkdir()
    with open(folder / "model.safetensors", "wb") as f:
        f.write(len(raw).to_bytes(8, "little") + raw)
        f.truncate(8 + len(raw) + offset)
    params = {**cfg.to_dict(), layouts.MLX_FORMAT_KEY: {"format_version": 1}}
    (folder / "params.json").write_text(json.dumps(params))


def test_full_size_four_bit_folder_is_described_from_headers(tmp_path):
    """The 4.4 B model, 4-bit, without 2.5 GB of data: counts match the model's own."""
    cfg = ModelConfig.from_dict(realtime_4b_params())
    cfg.quantization = QuantizationArgs(group_size=64, bits=4)
    model = weights.build_model(cfg, lambda p, m: weights.quantize_predicate(p, m, 64))
    _sparse_checkpoint(tmp_path / "full", model, cfg)
    lines = describe(tmp_path / "full")
    assert _line(lines, "params ").startswith(f"params     {_float_count(cfg) / 1e9:.3f} B (")
    quantized = (nn.QuantizedLinear, nn.QuantizedEmbedding)
    modules = model.named_modules()
    packed = [p for p, m in modules if p.startswith("decoder.") and isinstance(m, quantized)]
    matrices = cfg.encoder.n_layers * 7  # q, k, v, o and the three SwiGLU matrices
    q = _line(lines, "quantized ")
    assert f"decoder {len(packed)}/" in q and f"encoder 0/{matrices} matrices" in q
    assert "26 layers, dim 3072, 32/8 heads" in _line(lines, "decoder ")


def test_info_prints_the_description(saved, tmp_path, capsys):
    """``python -m voxtral_mlx --info`` prints describe()'s lines (cli.App.info)."""
    from voxtral_mlx.cli.main import main

    out = convert(saved, tmp_path / "q", bits=4, dtype=mx.float32)
    assert main(["--info", "--model", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert all(line in printed for line in describe(out))
