"""Self-checks of the reference module: the fixtures the parity tests trust must be right.

- the native export, converted back the way transformers' converter does (its name table +
  ``permute_for_rope``), reloads into a model with identical weights and logits;
- ``params.json`` has exactly the real file's key structure;
- ``save_pretrained`` writes one file or shards + index, both loadable;
- greedy decoding on 5 s of test audio is long and varied, and the windowed config's clip
  really crosses both sliding windows (and the windows change the output);
- streaming (chunked mel through ``generate``) equals offline, tokens and mel.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import safetensors.torch
import torch
from transformers import VoxtralRealtimeForConditionalGeneration

from . import hf_reference as ref

SECONDS = 5.0
N_DELAY = 6
PROMPT_LEN = ref.N_LEFT_PAD_TOKENS + N_DELAY + 1


@pytest.fixture(scope="module")
def clip():
    samples = ref.test_audio(SECONDS)
    audio = ref.padded(samples, N_DELAY)
    return samples, audio, ref.reference_mel(audio)


@pytest.fixture(scope="module")
def models():
    return {name: ref.build(name) for name in ref.CONFIGS}


@pytest.fixture(scope="module")
def greedy(models, clip):
    return {name: ref.reference_greedy(models[name], clip[2], N_DELAY) for name in models}


def _logits(model, mel, ids) -> np.ndarray:
    return ref.reference_forward(model, mel, ids, N_DELAY)["logits"]


def _assert_same_logits(a, b, mel) -> None:
    """Identical weights still differ by ~4e-6 in torch: tensors loaded from a safetensors file
    are not 64-byte aligned, so BLAS takes another kernel path (cloning them gives exact 0)."""
    ids = _ids(mel)
    np.testing.assert_allclose(_logits(a, mel, ids), _logits(b, mel, ids), rtol=0, atol=2e-5)


def _ids(mel) -> list[int]:
    """A deterministic varied prompt of length T/8 (BOS, pads, then text-range ids)."""
    n = mel.shape[0] // 8
    rng = np.random.default_rng(1)
    return ref.prompt_ids(PROMPT_LEN) + rng.integers(1000, 1152, n - PROMPT_LEN).tolist()


# ---- native -> transformers, written independently of save_native ---------------------------

_E = r"mm_streams_embeddings\.embedding_module\.whisper_encoder\."
_A = r"mm_streams_embeddings\.embedding_module\."
_TO_HF = [  # native regex -> on-disk transformers name (oracle.md section 4 / HF converter)
    (_E + r"conv_layers\.0\.conv\.(\w+)", r"audio_tower.embedder.conv1.\1"),
    (_E + r"conv_layers\.1\.conv\.(\w+)", r"audio_tower.embedder.conv2.\1"),
    (_E + r"transformer\.norm\.(\w+)", r"audio_tower.norm.\1"),
    (
        _E + r"transformer\.layers\.(\d+)\.attention\.w([qkvo])\.(\w+)",
        r"audio_tower.layers.\1.self_attn.\2_proj.\3",
    ),
    (
        _E + r"transformer\.layers\.(\d+)\.attention_norm\.(\w+)",
        r"audio_tower.layers.\1.self_attn_layer_norm.\2",
    ),
    (
        _E + r"transformer\.layers\.(\d+)\.ffn_norm\.(\w+)",
        r"audio_tower.layers.\1.final_layer_norm.\2",
    ),
    (
        _E + r"transformer\.layers\.(\d+)\.feed_forward\.w1\.(\w+)",
        r"audio_tower.layers.\1.mlp.gate_proj.\2",
    ),
    (
        _E + r"transformer\.layers\.(\d+)\.feed_forward\.w2\.(\w+)",
        r"audio_tower.layers.\1.mlp.down_proj.\2",
    ),
    (
        _E + r"transformer\.layers\.(\d+)\.feed_forward\.w3\.(\w+)",
        r"audio_tower.layers.\1.mlp.up_proj.\2",
    ),
    (_A + r"audio_language_projection\.0\.weight", r"multi_modal_projector.linear_1.weight"),
    (_A + r"audio_language_projection\.2\.weight", r"multi_modal_projector.linear_2.weight"),
    (_A + r"tok_embeddings\.weight", r"language_model.model.embed_tokens.weight"),
    (r"norm\.weight", r"language_model.model.norm.weight"),
    (
        r"layers\.(\d+)\.attention\.w([qkvo])\.weight",
        r"language_model.model.layers.\1.self_attn.\2_proj.weight",
    ),
    (
        r"layers\.(\d+)\.attention_norm\.weight",
        r"language_model.model.layers.\1.input_layernorm.weight",
    ),
    (
        r"layers\.(\d+)\.ffn_norm\.weight",
        r"language_model.model.layers.\1.post_attention_layernorm.weight",
    ),
    (
        r"layers\.(\d+)\.feed_forward\.w1\.weight",
        r"language_model.model.layers.\1.mlp.gate_proj.weight",
    ),
    (
        r"layers\.(\d+)\.feed_forward\.w2\.weight",
        r"language_model.model.layers.\1.mlp.down_proj.weight",
    ),
    (
        r"layers\.(\d+)\.feed_forward\.w3\.weight",
        r"language_model.model.layers.\1.mlp.up_proj.weight",
    ),
    (
        r"layers\.(\d+)\.ada_rms_norm_t_cond\.0\.weight",
        r"language_model.model.layers.\1.ada_rms_norm.linear1.weight",
    ),
    (
        r"layers\.(\d+)\.ada_rms_norm_t_cond\.2\.weight",
        r"language_model.model.layers.\1.ada_rms_norm.linear2.weight",
    ),
]


def permute_for_rope(t: torch.Tensor, n_heads: int) -> torch.Tensor:
    """transformers' converter: interleaved (native) rows -> rotate-half rows."""
    rows, rest = t.shape[0], t.shape[1:]
    return t.reshape(n_heads, rows // n_heads // 2, 2, *rest).transpose(1, 2).reshape(rows, *rest)


def native_to_hf(tensors: dict[str, torch.Tensor], params: dict) -> dict[str, torch.Tensor]:
    enc = params["multimodal"]["whisper_model_args"]["encoder_args"]
    out = {}
    for key, t in tensors.items():
        hits = [re.sub(p, r, key) for p, r in _TO_HF if re.fullmatch(p, key)]
        assert len(hits) == 1, f"{key}: {len(hits)} mappings"
        new = hits[0]
        if ".q_proj." in new or ".k_proj." in new:
            audio = new.startswith("audio_tower.")
            if ".q_proj." in new:
                heads = enc["n_heads"] if audio else params["n_heads"]
            else:
                heads = enc["n_kv_heads"] if audio else params["n_kv_heads"]
            t = permute_for_rope(t, heads)
        out[new] = t
    return out


# ---- tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ref.CONFIGS))
def test_build_is_seeded_and_nontrivial(name, models):
    a, b = models[name].state_dict(), ref.build(name, seed=0).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = ref.build(name, seed=1).state_dict()
    assert not torch.equal(
        a["model.audio_tower.layers.0.self_attn.q_proj.weight"],
        c["model.audio_tower.layers.0.self_attn.q_proj.weight"],
    )
    cfg = models[name].config
    assert cfg.audio_config.rope_parameters["rope_theta"] == 1e6
    assert cfg.text_config.rope_parameters["rope_theta"] == 1e6
    assert cfg.text_config.vocab_size >= 1100
    # Biases and norms are randomised so that a dropped bias or swapped norm shows in parity.
    assert a["model.audio_tower.layers.0.self_attn.q_proj.bias"].abs().min() > 0
    norm1 = a["model.language_model.layers.0.input_layernorm.weight"]
    norm2 = a["model.language_model.layers.0.post_attention_layernorm.weight"]
    assert (norm1 - 1).abs().max() > 0.1 and not torch.equal(norm1, norm2)


EXPECTED_PARAMS_KEYS = {
    "dim", "n_layers", "head_dim", "hidden_dim", "n_heads", "n_kv_heads", "use_biases", "causal",
    "rope_theta", "norm_eps", "vocab_size", "model_parallel", "tied_embeddings", "sliding_window",
    "model_max_length", "multimodal", "ada_rms_norm_t_cond", "ada_rms_norm_t_cond_dim",
}  # fmt: skip
EXPECTED_ENCODER_KEYS = {
    "audio_encoding_args", "dim", "n_layers", "head_dim", "hidden_dim", "n_heads", "vocab_size",
    "n_kv_heads", "use_biases", "use_cache", "rope_theta", "causal", "norm_eps", "pos_embed",
    "max_source_positions", "ffn_type", "norm_type", "sliding_window",
}  # fmt: skip
EXPECTED_AUDIO_ENCODING_KEYS = {
    "sampling_rate", "frame_rate", "num_mel_bins", "hop_length", "window_size", "chunk_length_s",
    "global_log_mel_max", "transcription_format",
}  # fmt: skip


@pytest.mark.parametrize("name", list(ref.CONFIGS))
def test_params_json_structure(name, models, tmp_path):
    folder = ref.save_native(models[name], tmp_path)
    params = json.loads((folder / "params.json").read_text())
    assert set(params) == EXPECTED_PARAMS_KEYS
    assert set(params["multimodal"]) == {"whisper_model_args"}
    wma = params["multimodal"]["whisper_model_args"]
    assert set(wma) == {"encoder_args", "downsample_args"}
    assert wma["downsample_args"] == {"downsample_factor": 4}
    enc = wma["encoder_args"]
    assert set(enc) == EXPECTED_ENCODER_KEYS
    assert set(enc["audio_encoding_args"]) == EXPECTED_AUDIO_ENCODING_KEYS
    text, audio = ref.CONFIGS[name]["text_config"], ref.CONFIGS[name]["audio_config"]
    assert (params["dim"], params["n_layers"], params["head_dim"], params["hidden_dim"]) == (
        text["hidden_size"], text["num_hidden_layers"], text["head_dim"], text["intermediate_size"]
    )  # fmt: skip
    assert (params["n_heads"], params["n_kv_heads"], params["vocab_size"]) == (
        text["num_attention_heads"], text["num_key_value_heads"], text["vocab_size"]
    )  # fmt: skip
    assert params["sliding_window"] == text["sliding_window"]
    assert enc["sliding_window"] == audio["sliding_window"]
    assert (enc["dim"], enc["n_heads"], enc["n_kv_heads"], enc["head_dim"]) == (
        audio["hidden_size"], audio["num_attention_heads"], audio["num_attention_heads"], audio["head_dim"]
    )  # fmt: skip
    assert params["rope_theta"] == enc["rope_theta"] == 1e6
    assert params["tied_embeddings"] is True and params["use_biases"] is False
    assert enc["use_biases"] is True and enc["audio_encoding_args"]["num_mel_bins"] == 128


@pytest.mark.parametrize("name", list(ref.CONFIGS))
def test_native_export_roundtrips(name, models, clip, tmp_path):
    model = models[name]
    native = ref.save_native(model, tmp_path / "native")
    tensors = safetensors.torch.load_file(native / "consolidated.safetensors")
    params = json.loads((native / "params.json").read_text())
    assert "output.weight" not in tensors
    assert len(tensors) == len(model.state_dict()) - 1  # everything but the tied lm_head
    assert all(t.dtype == torch.float32 for t in tensors.values())
    e = "mm_streams_embeddings.embedding_module.whisper_encoder."
    assert tensors[e + "conv_layers.0.conv.weight"].shape == (
        model.config.audio_config.hidden_size, 128, 3,
    )  # fmt: skip
    assert e + "transformer.layers.0.attention.wk.bias" not in tensors  # wk has no bias
    sd = model.state_dict()
    # q/k really are un-permuted (rows differ), v is not touched.
    assert not torch.equal(
        tensors["layers.0.attention.wq.weight"],
        sd["model.language_model.layers.0.self_attn.q_proj.weight"],
    )
    assert torch.equal(
        tensors["layers.0.attention.wv.weight"],
        sd["model.language_model.layers.0.self_attn.v_proj.weight"],
    )

    hf = native_to_hf(tensors, params)
    folder = ref.save_transformers(model, tmp_path / "hf")
    on_disk = safetensors.torch.load_file(folder / "model.safetensors")
    assert set(hf) == set(on_disk)
    for k in on_disk:
        assert torch.equal(hf[k], on_disk[k]), k
    # Rewrite the transformers folder with the re-converted weights and let from_pretrained load it.
    safetensors.torch.save_file(hf, str(folder / "model.safetensors"), {"format": "pt"})
    reloaded = VoxtralRealtimeForConditionalGeneration.from_pretrained(folder).eval()
    for k, v in reloaded.state_dict().items():
        assert torch.equal(v, sd[k]), k
    _assert_same_logits(reloaded, model, clip[2])


def test_native_bf16_dtype(models, tmp_path):
    folder = ref.save_native(models["tiny"], tmp_path, dtype=torch.bfloat16)
    tensors = safetensors.torch.load_file(folder / "consolidated.safetensors")
    assert {t.dtype for t in tensors.values()} == {torch.bfloat16}


def _rope_interleaved(x: torch.Tensor, pos: int, theta: float) -> torch.Tensor:
    d = x.shape[-1]
    ang = pos * theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = a * ang.cos() - b * ang.sin()
    out[..., 1::2] = a * ang.sin() + b * ang.cos()
    return out


def _rope_half(x: torch.Tensor, pos: int, theta: float) -> torch.Tensor:
    d = x.shape[-1]
    ang = pos * theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    a, b = x[..., : d // 2], x[..., d // 2 :]
    return torch.cat([a * ang.cos() - b * ang.sin(), a * ang.sin() + b * ang.cos()], -1)


def test_unpermuted_q_with_interleaved_rope_gives_same_scores(models):
    """Maths check of the permutation direction: q.k after interleaved RoPE on native weights
    equals q.k after rotate-half RoPE on transformers' weights (encoder, with the q bias)."""
    model = models["windowed"]
    attn = model.model.audio_tower.layers[0].self_attn
    n, hd = model.config.audio_config.num_attention_heads, model.config.audio_config.head_dim
    x = torch.randn(2, model.config.audio_config.hidden_size, dtype=torch.float64)
    wq, bq, wk = (
        t.detach().double() for t in (attn.q_proj.weight, attn.q_proj.bias, attn.k_proj.weight)
    )

    def scores(q_w, q_b, k_w, rope):
        q = (x[0] @ q_w.T + q_b).reshape(n, hd)
        k = (x[1] @ k_w.T).reshape(n, hd)
        return (rope(q, 17, 1e6) * rope(k, 5, 1e6)).sum(-1)

    hf = scores(wq, bq, wk, _rope_half)
    native = scores(
        ref.unpermute_rope(wq, n),
        ref.unpermute_rope(bq, n),
        ref.unpermute_rope(wk, n),
        _rope_interleaved,
    )
    torch.testing.assert_close(native, hf, rtol=1e-12, atol=1e-12)
    wrong = scores(wq, bq, wk, _rope_interleaved)  # forgetting the permutation must show
    assert (wrong - hf).abs().max() > 1e-3


def test_save_transformers_single_and_sharded(models, clip, tmp_path):
    model = models["tiny"]
    single = ref.save_transformers(model, tmp_path / "single")
    assert {"config.json", "model.safetensors"} <= {p.name for p in single.iterdir()}
    keys = set(safetensors.torch.load_file(single / "model.safetensors"))
    assert "lm_head.weight" not in keys
    assert {k.split(".")[0] for k in keys} == {
        "audio_tower",
        "language_model",
        "multi_modal_projector",
    }
    assert all(
        k.startswith("language_model.model.") for k in keys if k.startswith("language_model")
    )

    sharded = ref.save_transformers(model, tmp_path / "sharded", max_shard_size="200KB")
    shards = sorted(p.name for p in sharded.glob("model-*.safetensors"))
    assert len(shards) >= 2 and not (sharded / "model.safetensors").exists()
    assert all(re.fullmatch(rf"model-\d{{5}}-of-{len(shards):05d}\.safetensors", s) for s in shards)
    index = json.loads((sharded / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == keys
    assert set(index["weight_map"].values()) == set(shards)

    reloaded = VoxtralRealtimeForConditionalGeneration.from_pretrained(sharded).eval()
    _assert_same_logits(reloaded, model, clip[2])


def test_mel_and_padding(clip):
    samples, audio, mel = clip
    assert samples.dtype == audio.dtype == mel.dtype == np.float32
    assert len(audio) % 1280 == 0
    assert np.all(audio[: 32 * 1280] == 0) and np.all(audio[-17 * 1280 :] == 0)
    assert mel.shape == (len(audio) // 160, 128)
    assert mel.min() >= -0.625 - 1e-6  # floor of the fixed global_log_mel_max=1.5 clamp
    np.testing.assert_array_equal(ref.test_audio(SECONDS), samples)


@pytest.mark.parametrize("name", ["tiny", "windowed", "q64"])
def test_forward_shapes_and_teacher_forcing(name, models, clip, greedy):
    """Logits of one full forward on prompt + greedy ids reproduce the greedy ids."""
    model, (_, _, mel), gen = models[name], clip, greedy[name]
    out = ref.reference_forward(model, mel, ref.prompt_ids(PROMPT_LEN) + gen, N_DELAY)
    t, d, h = (
        mel.shape[0],
        model.config.audio_config.hidden_size,
        model.config.text_config.hidden_size,
    )
    assert out["conv"].shape == out["encoder"].shape == (t // 2, d)
    assert out["adapter"].shape == (t // 8, h)
    assert out["logits"].shape == (t // 8, model.config.text_config.vocab_size)
    assert all(v.dtype == np.float32 for v in out.values())
    assert out["logits"][PROMPT_LEN - 1 : -1].argmax(-1).tolist() == gen


@pytest.mark.parametrize("name", ["tiny", "windowed"])
def test_greedy_is_long_and_varied(name, clip, greedy):
    _, audio, mel = clip
    gen = greedy[name]
    assert (
        len(gen)
        == ref.n_decoder_positions(len(audio)) - PROMPT_LEN
        == mel.shape[0] // 8 - PROMPT_LEN
    )
    assert len(gen) >= 50 and len(set(gen)) > 3


def test_windowed_clip_crosses_both_windows(models, clip):
    _, _, mel = clip
    cfg = models["windowed"].config
    encoder_frames, decoder_positions = mel.shape[0] // 2, mel.shape[0] // 8
    assert encoder_frames == 448 and cfg.audio_config.sliding_window == 40
    assert decoder_positions == 112 and cfg.text_config.sliding_window == 24
    assert encoder_frames > 10 * cfg.audio_config.sliding_window
    assert decoder_positions - PROMPT_LEN > 2 * cfg.text_config.sliding_window
    # The windows matter: the same weights with the windows opened up give other outputs.
    wide_cfg = ref.make_config("windowed")
    wide_cfg.audio_config.sliding_window, wide_cfg.text_config.sliding_window = 750, 8192
    wide = VoxtralRealtimeForConditionalGeneration(wide_cfg).eval()
    wide.load_state_dict(models["windowed"].state_dict())
    ids = _ids(mel)
    a = ref.reference_forward(models["windowed"], mel, ids, N_DELAY)
    b = ref.reference_forward(wide, mel, ids, N_DELAY)
    w = cfg.audio_config.sliding_window
    np.testing.assert_array_equal(a["conv"], b["conv"])
    np.testing.assert_allclose(a["encoder"][:w], b["encoder"][:w], atol=1e-5)
    assert np.abs(a["encoder"][w:] - b["encoder"][w:]).max() > 1e-2
    assert np.abs(a["logits"] - b["logits"]).max() > 1e-2


@pytest.mark.parametrize("name", ["tiny", "windowed"])
def test_streaming_equals_offline(name, models, clip, greedy):
    samples, _, mel = clip
    chunks = ref.streaming_mel_chunks(samples, N_DELAY)
    assert chunks[0].shape == (8 * PROMPT_LEN, 128)
    assert all(c.shape == (8, 128) for c in chunks[1:])
    streamed = np.concatenate(chunks)
    np.testing.assert_allclose(
        streamed, mel[: len(streamed)], rtol=0, atol=1e-6
    )  # not bitwise: 1.2e-7
    tokens = ref.reference_streaming_greedy(models[name], samples, N_DELAY)
    assert len(tokens) == len(chunks) == len(greedy[name])
    assert tokens == greedy[name]


def test_n_decoder_positions():
    assert ref.n_decoder_positions(len(ref.padded(np.zeros(32000, np.float32)))) == 74
    assert math.ceil(592 / 8) == 74  # oracle.md: 2 s clip -> 592 mel frames -> max_length 74
