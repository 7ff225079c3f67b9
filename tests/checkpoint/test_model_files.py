"""Damaged or hostile model folders: each is one WeightsError line naming the file and the key
or tensor, never a traceback, a hang or a silent load (issue 16 §4). Tiny models only."""

import json
import os
import subprocess
import sys

import mlx.core as mx
import pytest

from tests.test_config import MALFORMED, MALFORMED_IDS, _with
from voxtral_mlx.checkpoint import weights
from voxtral_mlx.cli.main import main
from voxtral_mlx.errors import WeightsError

DEEP = "[" * 100_000 + "]" * 100_000  # json's recursion limit is ~1000 levels


@pytest.fixture
def saved(tmp_path, tiny_model):
    return weights.save(tiny_model, tmp_path / "m")


def _edit_params(folder, path, value):
    params = json.loads((folder / "params.json").read_text())
    (folder / "params.json").write_text(json.dumps(_with(params, path, value)))


@pytest.mark.parametrize("path, value", MALFORMED, ids=MALFORMED_IDS)
def test_malformed_params_value_loads_as_one_line(saved, path, value):
    _edit_params(saved, path, value)
    with pytest.raises(WeightsError) as info:
        weights.load(saved)
    message = str(info.value)
    assert message.startswith(f"{saved / 'params.json'}: ") and "\n" not in message
    assert path[-1] in message


@pytest.mark.parametrize("path, value", MALFORMED[::3], ids=MALFORMED_IDS[::3])
def test_info_on_a_malformed_folder_exits_1_with_one_line(saved, path, value, capsys):
    _edit_params(saved, path, value)
    assert main(["--info", "--model", str(saved)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "params.json" in err and path[-1] in err


def test_cli_process_prints_no_traceback(saved):
    """The real entry point, as a user runs it: exit 1, one line on stderr."""
    _edit_params(saved, ("multimodal", "whisper_model_args", "encoder_args", "head_dim"), "16")
    r = subprocess.run(
        [sys.executable, "-m", "voxtral_mlx", "--info", "--model", str(saved)],
        capture_output=True,
        text=True,
    )
    lines = [line for line in r.stderr.splitlines() if line.startswith("error")]
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert lines == [
        f"error: {saved / 'params.json'}: "
        "multimodal.whisper_model_args.encoder_args.head_dim must be a positive integer, got '16'"
    ]


@pytest.mark.parametrize(
    "content, problem",
    [
        (DEEP, "nested too deeply"),
        (b'{"dim": 1\xff}', "not UTF-8"),
        ('{"dim": ' + "9" * 5000 + "}", "not JSON"),  # past Python's int-parsing digit limit
        ("[1, 2]", "JSON object"),
    ],
    ids=["deep", "bytes", "long int", "list"],
)
def test_unparsable_json_is_one_line(saved, content, problem):
    for name in ("params.json", "model.safetensors.index.json"):
        path = saved / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(WeightsError, match=problem) as info:
            if name == "params.json":
                weights.load(saved)
            else:
                from voxtral_mlx.checkpoint.safetensors_io import shard_files

                shard_files(saved, "absent.safetensors", name)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_transformers_config_errors_name_its_keys(tmp_path):
    from tests.test_config import HF_CONFIG

    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({**HF_CONFIG, "audio_config": {**HF_CONFIG["audio_config"], "head_dim": -1}})
    )
    with pytest.raises(WeightsError, match=r"config\.json: audio_config\.head_dim must be"):
        weights.load(folder)
    (folder / "config.json").write_text(DEEP)
    with pytest.raises(WeightsError, match="nested too deeply"):
        weights.load(folder)


# ---- tensors -------------------------------------------------------------------------------
def _rewrite(path, fn):
    tensors = dict(mx.load(str(path)))
    fn(tensors)
    os.remove(path)
    mx.save_safetensors(str(path), tensors)


@pytest.mark.parametrize("dtype", [mx.int32, mx.uint8, mx.bool_, mx.uint32])
def test_integer_tensor_where_a_float_goes(saved, dtype):
    name = "decoder.layers.0.attention.wq.weight"
    _rewrite(saved / "model.safetensors", lambda t: t.__setitem__(name, t[name].astype(dtype)))
    with pytest.raises(WeightsError, match=rf"'{name}' is [A-Z0-9]+, expected a float tensor"):
        weights.load(saved)


@pytest.fixture
def quantized(saved, tmp_path):
    from voxtral_mlx.checkpoint.convert import convert

    return convert(saved, tmp_path / "q4", bits=4, dtype=mx.float32)


def test_quantized_layout_loads_and_is_checked(quantized):
    """uint32 ``.weight`` beside ``.scales`` is the legitimate packed form; floats there or an
    integer ``.scales`` are not."""
    model, cfg = weights.load(quantized, expand_quantized=False)
    assert cfg.quantization.bits == 4
    name = "decoder.layers.0.attention.wq"
    path = quantized / "model.safetensors"
    original = dict(mx.load(str(path)))
    assert original[f"{name}.weight"].dtype == mx.uint32

    def as_float(t):
        t[f"{name}.weight"] = t[f"{name}.weight"].astype(mx.float32)

    _rewrite(path, as_float)
    with pytest.raises(WeightsError, match=rf"'{name}\.weight' is F32; a quantized weight"):
        weights.load(quantized)
    mx.save_safetensors(str(path), {**original, f"{name}.scales": mx.zeros((64, 1), mx.int32)})
    with pytest.raises(WeightsError, match=rf"'{name}\.scales' is I32, expected a float"):
        weights.load(quantized)


def test_shape_mismatch_names_the_tensor(quantized):
    path = quantized / "model.safetensors"
    name = "decoder.layers.1.feed_forward.w2.weight"
    _rewrite(path, lambda t: t.__setitem__(name, t[name][:, :4]))
    with pytest.raises(WeightsError, match=rf"tensor '{name}' has shape \[64, 4\]"):
        weights.load(quantized)


def _header_file(path, header: dict, data: bytes = b""):
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data)


@pytest.mark.parametrize(
    "entry, problem",
    [
        ({"dtype": "F99", "shape": [2], "data_offsets": [0, 8]}, "unsupported dtype"),
        ({"dtype": ["F32"], "shape": [2], "data_offsets": [0, 8]}, "unsupported dtype"),
        ({"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}, "corrupt header entry"),
        ({"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}, "corrupt header entry"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}, "corrupt header entry|size"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}, "inconsistent size"),
    ],
)
def test_corrupt_header_entries(tmp_path, entry, problem):
    from voxtral_mlx.checkpoint.safetensors_io import read_header

    path = tmp_path / "x.safetensors"
    _header_file(path, {"t": entry}, b"\0" * 8)
    with pytest.raises(WeightsError, match=problem):
        read_header(path)


def test_deeply_nested_safetensors_header(tmp_path):
    from voxtral_mlx.checkpoint.safetensors_io import read_header

    path = tmp_path / "x.safetensors"
    raw = DEEP.encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw)
    with pytest.raises(WeightsError, match="nested too deeply"):
        read_header(path)


# ---- the shard index -----------------------------------------------------------------------
@pytest.fixture
def sharded(tmp_path, tiny_model):
    return weights.save(tiny_model, tmp_path / "s", max_shard_bytes=100_000)


def _point(folder, shard: str):
    index_path = folder / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    first = next(iter(index["weight_map"]))
    index["weight_map"][first] = shard
    index_path.write_text(json.dumps(index))


@pytest.mark.parametrize(
    "where", ["../outside.safetensors", "ABS", "sub/../../outside.safetensors"]
)
def test_index_entry_outside_the_folder_is_refused(sharded, where):
    outside = sharded.parent / "outside.safetensors"
    outside.write_bytes(sorted(sharded.glob("model-*.safetensors"))[0].read_bytes())
    _point(sharded, str(outside) if where == "ABS" else where)
    with pytest.raises(WeightsError, match="outside the model folder"):
        weights.load(sharded)


def test_index_entry_linked_outside_is_refused(sharded):
    outside = sharded.parent / "elsewhere.safetensors"
    first = sorted(sharded.glob("model-*.safetensors"))[0]
    os.replace(first, outside)
    first.symlink_to(outside)
    with pytest.raises(WeightsError, match="outside the model folder"):
        weights.load(sharded)


def test_hugging_face_snapshot_links_into_blobs_are_followed(sharded, tmp_path):
    """The HF cache layout: snapshots/<rev>/<file> -> ../../blobs/<hash>."""
    repo = tmp_path / "models--x--y"
    snapshot, blobs = repo / "snapshots" / "abc123", repo / "blobs"
    snapshot.mkdir(parents=True)
    blobs.mkdir()
    for i, f in enumerate(sorted(sharded.iterdir())):
        os.replace(f, blobs / f"hash{i}")
        (snapshot / f.name).symlink_to(os.path.relpath(blobs / f"hash{i}", snapshot))
    model, _ = weights.load(snapshot)
    assert model is not None


def test_index_entries_must_be_file_names(sharded):
    index_path = sharded / "model.safetensors.index.json"
    for weight_map in ([], {"a": 3}, "x"):
        index_path.write_text(json.dumps({"weight_map": weight_map}))
        with pytest.raises(WeightsError, match="weight_map"):
            weights.load(sharded)


def test_bad_delay_in_tekken_is_blamed_on_tekken_not_the_option(saved, tmp_path, capsys):
    import wave

    from tests.text.test_tokenizer import make_tekken

    tekken = make_tekken()
    tekken["audio"]["transcription_delay_ms"] = 500
    (saved / "tekken.json").write_text(json.dumps(tekken))
    audio = tmp_path / "a.wav"
    with wave.open(str(audio), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(b"\0\0" * 1600)
    assert main([str(audio), "--model", str(saved)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--delay-ms" not in err
    assert f"{saved / 'tekken.json'}: 'audio.transcription_delay_ms' must be" in err


@pytest.mark.parametrize(
    "quant, problem",
    [
        ({"bits": 4, "group_size": 128}, r"group_size 128 does not divide the width 64 of"),
        ({"bits": 8, "group_size": 64}, r"has shape \[32, 8\], the config implies \[32, 16\]"),
        ({"bits": 4, "group_size": 32}, r"'decoder\.layers\.0\.attention\.wk\.biases' has shape"),
    ],
)
def test_quantization_record_that_disagrees_with_the_tensors(quantized, quant, problem):
    params = json.loads((quantized / "params.json").read_text())
    (quantized / "params.json").write_text(json.dumps({**params, "quantization": quant}))
    with pytest.raises(WeightsError, match=problem):
        weights.load(quantized)


def test_scales_for_a_layer_that_cannot_be_quantized(saved):
    _rewrite(saved / "model.safetensors", lambda t: t.__setitem__("decoder.scales", mx.ones((2,))))
    params = json.loads((saved / "params.json").read_text())
    (saved / "params.json").write_text(json.dumps({**params, "quantization": {"bits": 4}}))
    with pytest.raises(WeightsError, match=r"unexpected tensor 'decoder\.scales'"):
        weights.load(saved)
