import json

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


def test_from_transformers_config():
    hf = {
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
    from voxtral_mlx.config import realtime_4b_params

    assert ModelConfig.from_dict(realtime_4b_params()) == ModelConfig.from_dict(REAL_PARAMS)
