import json
import re

import pytest

from voxtral_mlx.config import ModelConfig
from voxtral_mlx.errors import ConfigError

# The real params.json of mistralai/Voxtral-Mini-4B-Realtime-2602 (see shared/model-spec.md §1).
REAL_PARAMS = json.loads("""{
 "dim": 3072, "n_layers": 26, "head_dim": 128, "hidden_dim": 9216, "n_heads": 32, "n_kv_heads": 8,
 "use_biases": false, "causal": true, "rope_theta": 1000000.0, "norm_eps": 1e-05, "vocab_size": 131072,
 "model_parallel": 1, "tied_embeddings": true, "sliding_window": 8192, "model_max_length": 131072,
 "ada_rms_norm_t_cond": true, "ada_rms_norm_t_cond_dim": 32,
 "multimodal": {"whisper_model_args": {
   "encoder_args": {"audio_encoding_args": {"sampling_rate": 16000, "frame_rate": 12.5, "num_mel_bins": 128,
      "hop_length": 160, "window_size": 400, "chunk_length_s": null, "global_log_mel_max": 1.5,
      "transcription_format": "streaming"},
    "dim": 1280, "n_layers": 32, "head_dim": 64, "hidden_dim": 5120, "n_heads": 32, "vocab_size": 131072,
    "n_kv_heads": 32, "use_biases": true, "use_cache": false, "rope_theta": 1000000.0, "causal": true,
    "norm_eps": 1e-05, "pos_embed": "rope", "max_source_positions": null, "ffn_type": "swiglu",
    "norm_type": "rms_norm", "sliding_window": 750},
   "downsample_args": {"downsample_factor": 4}}}
}""")


def test_real_params_and_derived_numbers():
    cfg = ModelConfig.from_dict(REAL_PARAMS)
    assert cfg.dim == 3072 and cfg.n_layers == 26 and cfg.n_kv_heads == 8
    assert cfg.encoder.dim == 1280 and cfg.encoder.sliding_window == 750
    assert cfg.downsample_factor == 4
    assert cfg.samples_per_token == 1280
    assert cfg.audio.mel_frames_per_token == 8
    assert cfg.encoder_frame_rate == 50.0 and cfg.token_rate == 12.5
    assert cfg.delay_tokens(480) == 6 and cfg.delay_tokens(80) == 1 and cfg.delay_tokens(2400) == 30
    assert cfg.delay_ms(6) == 480


def test_round_trip_and_unknown_keys_ignored():
    cfg = ModelConfig.from_dict(REAL_PARAMS)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert "quantization" not in cfg.to_dict()


@pytest.mark.parametrize(
    "path",
    [("n_heads",), ("multimodal", "whisper_model_args", "encoder_args", "dim"), ("multimodal",)],
)
def test_missing_key_is_named(path):
    data = json.loads(json.dumps(REAL_PARAMS))
    d = data
    for k in path[:-1]:
        d = d[k]
    del d[path[-1]]
    with pytest.raises(ConfigError, match=path[-1]):
        ModelConfig.from_dict(data)


HF_CONFIG = {
    "model_type": "voxtral_realtime",
    "downsample_factor": 4,
    "tie_word_embeddings": True,
    "audio_config": {"hidden_size": 1280, "num_hidden_layers": 32, "head_dim": 64,
                     "intermediate_size": 5120, "num_attention_heads": 32, "num_key_value_heads": 32,
                     "rms_norm_eps": 1e-5, "sliding_window": 750, "num_mel_bins": 128,
                     "rope_parameters": {"rope_theta": 1e6, "rope_type": "default"}},
    "text_config": {"hidden_size": 3072, "num_hidden_layers": 26, "head_dim": 128, "intermediate_size": 9216,
                    "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 131072,
                    "rms_norm_eps": 1e-5, "sliding_window": 8192, "rope_theta": 1e6},
}  # fmt: skip


def test_from_transformers_config():
    hf = json.loads(json.dumps(HF_CONFIG))
    cfg = ModelConfig.from_transformers(hf)
    real = ModelConfig.from_dict(REAL_PARAMS)
    for name in ("dim", "n_layers", "head_dim", "hidden_dim", "n_heads", "n_kv_heads", "vocab_size",
                 "sliding_window", "rope_theta", "ada_rms_norm_t_cond_dim"):  # fmt: skip
        assert getattr(cfg, name) == getattr(real, name), name
    for name in (
        "dim",
        "n_layers",
        "head_dim",
        "hidden_dim",
        "n_heads",
        "sliding_window",
        "rope_theta",
    ):
        assert getattr(cfg.encoder, name) == getattr(real.encoder, name), name
    with pytest.raises(ConfigError, match="model_type"):
        ModelConfig.from_transformers({"model_type": "llama"})
    del hf["audio_config"]["rope_parameters"]
    with pytest.raises(ConfigError, match="rope_theta"):
        ModelConfig.from_transformers(hf)


def test_packaged_full_size_params_match_the_real_file():
    from voxtral_mlx.testing import realtime_4b_params

    assert ModelConfig.from_dict(realtime_4b_params()) == ModelConfig.from_dict(REAL_PARAMS)


# ---- validation: each malformed value is one ConfigError naming the file and the key ---------
ENC = ("multimodal", "whisper_model_args", "encoder_args")
AUDIO = (*ENC, "audio_encoding_args")
DOWN = ("multimodal", "whisper_model_args", "downsample_args")

# (path to the key, bad value): the cases that gave tracebacks, hangs or silent loads before.
MALFORMED = [
    (("dim",), 0), (("dim",), -4), (("hidden_dim",), -1), (("n_heads",), 0), (("n_layers",), 0),
    (("head_dim",), "16"), (("dim",), 64.0), (("dim",), 64.5), (("dim",), True), (("dim",), None),
    (("n_kv_heads",), 0), (("vocab_size",), 0), (("sliding_window",), -1), (("sliding_window",), 0),
    (("norm_eps",), "x"), (("norm_eps",), float("nan")), (("rope_theta",), "1e6"),
    (("rope_theta",), float("inf")), (("rope_theta",), 10**400), (("tied_embeddings",), "no"),
    (("ada_rms_norm_t_cond_dim",), 0), (("n_layers",), 1_000_000), (("dim",), 10**12),
    (("multimodal",), []), (("quantization",), {"bits": 7, "group_size": 64}),
    (("quantization",), {"bits": 4, "group_size": 48}),
    ((*ENC, "dim"), 0), ((*ENC, "n_heads"), 0), ((*ENC, "head_dim"), 0),
    ((*ENC, "n_layers"), "2"), ((*ENC, "sliding_window"), -5), ((*ENC, "n_layers"), 1_000_000),
    ((*AUDIO, "hop_length"), 0), ((*AUDIO, "hop_length"), "160"), ((*AUDIO, "frame_rate"), 0),
    ((*AUDIO, "frame_rate"), "12.5"), ((*AUDIO, "sampling_rate"), 0),
    ((*AUDIO, "num_mel_bins"), 0), ((*AUDIO, "window_size"), 0), ((*DOWN, "downsample_factor"), 0),
]  # fmt: skip
MALFORMED_IDS = [f"{'.'.join(p[-2:])}={v!r}"[:48] for p, v in MALFORMED]


def _with(data: dict, path: tuple, value) -> dict:
    data = json.loads(json.dumps(data))
    d = data
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value
    return data


@pytest.mark.parametrize("path, value", MALFORMED, ids=MALFORMED_IDS)
def test_malformed_value_is_one_line_naming_file_and_key(path, value):
    with pytest.raises(ConfigError) as info:
        ModelConfig.from_dict(_with(REAL_PARAMS, path, value), source="/m/params.json")
    message = str(info.value)
    key = ".".join(path) if path[-1] != "quantization" else "quantization."
    assert message.startswith("/m/params.json: ") and key in message and "\n" not in message


def test_every_leaf_field_has_a_rule():
    import dataclasses

    from voxtral_mlx.config_reader import RULES, nested

    classes, todo = set(), [ModelConfig]
    while todo:  # every sub-config reachable from the top
        cls = todo.pop()
        classes.add(cls)
        todo += [sub for sub in nested(cls).values() if sub not in classes]
    assert len(classes) == 7
    for cls in classes:
        for f in dataclasses.fields(cls):
            assert f.name in nested(cls) or f.name in RULES, f.name


def test_error_message_shape():
    bad = _with(REAL_PARAMS, (*ENC, "dim"), -4)
    with pytest.raises(ConfigError) as info:
        ModelConfig.from_dict(bad)
    assert str(info.value) == (
        "params.json: multimodal.whisper_model_args.encoder_args.dim must be a positive "
        "integer, got -4"
    )


@pytest.mark.parametrize(
    "changes, key",
    [
        ({"n_kv_heads": 3}, "n_heads (32) must be a multiple of n_kv_heads (3)"),
        ({"head_dim": 127}, "head_dim must be even"),
        ({"dim": 60000, "hidden_dim": 200000, "n_layers": 1000}, "B parameters"),
    ],
)
def test_keys_that_disagree_are_refused(changes, key):
    with pytest.raises(ConfigError, match=re.escape(key)):
        ModelConfig.from_dict({**REAL_PARAMS, **changes})


@pytest.mark.parametrize(
    "key, value",
    [("sampling_rate", 8000), ("hop_length", 320), ("window_size", 512), ("frame_rate", 25.0),
     ("global_log_mel_max", 2.0)],
)  # fmt: skip
def test_front_end_other_than_the_implemented_one_is_refused(key, value):
    """Valid-looking values the mel front end does not compute would transcribe garbage."""
    with pytest.raises(ConfigError, match=rf"{key} is {value:g}; .* fixed at"):
        ModelConfig.from_dict(_with(REAL_PARAMS, (*AUDIO, key), value))


def test_downsample_factor_must_give_the_token_rate():
    bad = _with(REAL_PARAMS, (*DOWN, "downsample_factor"), 2)
    with pytest.raises(ConfigError, match=r"downsample_factor \(2\) gives 640 samples .* 1280"):
        ModelConfig.from_dict(bad)


def test_front_end_is_the_one_mel_computes():
    from voxtral_mlx import config_reader
    from voxtral_mlx.audio import mel

    assert config_reader.FRONT_END == {
        "sampling_rate": mel.SAMPLE_RATE, "hop_length": mel.HOP_LENGTH, "window_size": mel.N_FFT,
        "frame_rate": mel.SAMPLE_RATE / mel.SAMPLES_PER_TOKEN,
        "global_log_mel_max": mel.GLOBAL_LOG_MEL_MAX,
    }  # fmt: skip


def test_parameter_estimate_is_close_to_the_model():
    from mlx.utils import tree_flatten

    from voxtral_mlx.model import VoxtralRealtime
    from voxtral_mlx.testing import realtime_4b_params, tiny_params

    for params in (tiny_params(), realtime_4b_params()):
        cfg = ModelConfig.from_dict(params)
        n = sum(v.size for _, v in tree_flatten(VoxtralRealtime(cfg).parameters()))  # lazy
        assert abs(cfg.parameter_estimate / n - 1) < 0.01


def test_numbers_accepted_as_json_writes_them():
    cfg = ModelConfig.from_dict({**REAL_PARAMS, "rope_theta": 1000000, "norm_eps": 1e-6})
    assert cfg.rope_theta == 1e6 and isinstance(cfg.rope_theta, float)
    assert ModelConfig.from_dict({**REAL_PARAMS, "quantization": {"bits": 8, "group_size": 32}})


@pytest.mark.parametrize(
    "tower, key, value, named",
    [
        ("text_config", "hidden_size", 0, "text_config.hidden_size"),
        ("audio_config", "num_attention_heads", "32", "audio_config.num_attention_heads"),
        ("audio_config", "sliding_window", -750, "audio_config.sliding_window"),
        ("audio_config", "num_mel_bins", 0, "audio_config.num_mel_bins"),
        ("text_config", "rope_theta", "big", "text_config.rope_theta"),
        (None, "downsample_factor", 0, "downsample_factor"),
        (None, "tie_word_embeddings", "yes", "tie_word_embeddings"),
    ],
)
def test_transformers_errors_name_config_json_keys(tower, key, value, named):
    hf = json.loads(json.dumps(HF_CONFIG))
    (hf[tower] if tower else hf)[key] = value
    with pytest.raises(ConfigError) as info:
        ModelConfig.from_transformers(hf, source="/m/config.json")
    assert str(info.value).startswith(f"/m/config.json: {named} ")
