"""The numeric reference: transformers' PyTorch Voxtral Realtime at tiny seeded random configs.

This is the only module in the project that imports torch/transformers. It builds the tiny
reference models, writes their checkpoints in both on-disk layouts (transformers'
``save_pretrained`` and the Mistral native ``params.json`` + ``consolidated.safetensors``), and
computes reference outputs (mel, conv stem, encoder, adapter, logits, greedy tokens) as float32
numpy arrays with the batch dimension removed. Everything is CPU, fp32, deterministic per seed.

Facts it relies on (see ``/work/shared/reference/oracle.md``):
- transformers stores q/k projections (weights and the encoder q bias) permuted for
  rotate-half RoPE; native Mistral checkpoints are interleaved. ``save_native`` undoes it.
- ``generate`` picks its own length: ``max_length = ceil(mel_frames / 8)`` positions (prompt
  included), and stops early on EOS (id 2).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
from transformers import (
    VoxtralRealtimeConfig,
    VoxtralRealtimeFeatureExtractor,
    VoxtralRealtimeForConditionalGeneration,
)
from transformers.utils import logging as hf_logging

hf_logging.set_verbosity_error()

SAMPLE_RATE = 16000
SAMPLES_PER_TOKEN = 1280  # 80 ms
MEL_FRAMES_PER_TOKEN = 8
HOP, WIN = 160, 400
N_LEFT_PAD_TOKENS = 32
BOS, EOS, STREAMING_PAD, STREAMING_WORD = 1, 2, 32, 33
INIT_RANGE = 0.2  # 0.02 greedy-decodes one constant token; 0.2 gives varied ids

# Both towers get rope_theta=1e6 explicitly: the encoder config's class default is 1e4.
_TEXT_COMMON = dict(
    vocab_size=1152, rope_theta=1e6, rms_norm_eps=1e-5, max_position_embeddings=4096
)
_AUDIO_COMMON = dict(num_mel_bins=128, rope_theta=1e6, rms_norm_eps=1e-5)

CONFIGS: dict[str, dict] = {
    # Ordinary tiny model: square attention, GQA 2:1, windows as in the real model.
    "tiny": dict(
        audio_config=dict(
            _AUDIO_COMMON,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            head_dim=16,
            sliding_window=750,
        ),
        text_config=dict(
            _TEXT_COMMON,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            sliding_window=8192,
        ),
    ),
    # Windows a 5 s clip crosses (452 encoder frames > 40, 113 decoder positions > 24).
    # heads*head_dim != hidden in both towers, as in the real model (2048 vs 1280, 4096 vs 3072),
    # and GQA 3:1, so non-square projections and head grouping are exercised too.
    "windowed": dict(
        audio_config=dict(
            _AUDIO_COMMON,
            hidden_size=64,
            intermediate_size=96,
            num_hidden_layers=2,
            num_attention_heads=4,
            head_dim=32,
            sliding_window=40,
        ),
        text_config=dict(
            _TEXT_COMMON,
            hidden_size=96,
            intermediate_size=160,
            num_hidden_layers=2,
            num_attention_heads=6,
            num_key_value_heads=2,
            head_dim=32,
            sliding_window=24,
        ),
    ),
    # Every matmul input dim a multiple of 64 (group size for 4-bit tests): hidden sizes, ffn,
    # heads*head_dim, 4*audio hidden, vocab. (The ada 32->H linear's input is 32, as in the real model.)
    "q64": dict(
        audio_config=dict(
            _AUDIO_COMMON,
            hidden_size=64,
            intermediate_size=256,
            num_hidden_layers=2,
            num_attention_heads=2,
            head_dim=32,
            sliding_window=750,
        ),
        text_config=dict(
            _TEXT_COMMON,
            hidden_size=128,
            intermediate_size=256,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=64,
            sliding_window=8192,
        ),
    ),
}


# ---- models ---------------------------------------------------------------------------------


def make_config(name: str) -> VoxtralRealtimeConfig:
    spec = CONFIGS[name]
    return VoxtralRealtimeConfig(
        audio_config=dict(spec["audio_config"], initializer_range=INIT_RANGE),
        text_config=dict(spec["text_config"], initializer_range=INIT_RANGE),
        initializer_range=INIT_RANGE,
    )


def build(name: str, seed: int = 0) -> VoxtralRealtimeForConditionalGeneration:
    """Tiny fp32 reference model in eval mode; the same ``(name, seed)`` gives the same weights.

    transformers initialises biases to 0 and norm weights to 1, which would hide a loader that
    drops a bias or swaps two norms; so every bias gets N(0, INIT_RANGE) and every RMSNorm
    weight 1 + N(0, 0.2), drawn from a generator seeded with ``seed``.
    """
    torch.manual_seed(seed)
    model = VoxtralRealtimeForConditionalGeneration(make_config(name)).eval()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for key, param in model.named_parameters():
            if key.endswith(".bias"):
                param.copy_(torch.randn(param.shape, generator=gen) * INIT_RANGE)
            elif "norm" in key and param.ndim == 1:
                param.copy_(1.0 + torch.randn(param.shape, generator=gen) * 0.2)
    return model


# ---- checkpoints ----------------------------------------------------------------------------


def save_transformers(model, folder, max_shard_size: int | str | None = None) -> Path:
    """``save_pretrained`` (safetensors). A small ``max_shard_size`` gives sharded files + index."""
    folder = Path(folder)
    kwargs = {} if max_shard_size is None else {"max_shard_size": max_shard_size}
    model.save_pretrained(folder, safe_serialization=True, **kwargs)
    return folder


_E = "mm_streams_embeddings.embedding_module.whisper_encoder."
_A = "mm_streams_embeddings.embedding_module."
_LAYER_PARTS = {  # in-memory layer suffix -> native layer suffix (both towers)
    "self_attn.q_proj": "attention.wq",
    "self_attn.k_proj": "attention.wk",
    "self_attn.v_proj": "attention.wv",
    "self_attn.o_proj": "attention.wo",
    "self_attn_layer_norm": "attention_norm",
    "final_layer_norm": "ffn_norm",
    "input_layernorm": "attention_norm",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "feed_forward.w1",
    "mlp.down_proj": "feed_forward.w2",
    "mlp.up_proj": "feed_forward.w3",
    "ada_rms_norm.linear1": "ada_rms_norm_t_cond.0",
    "ada_rms_norm.linear2": "ada_rms_norm_t_cond.2",
}
_FIXED = {  # in-memory name (without .weight/.bias) -> native name
    "model.audio_tower.embedder.conv1": _E + "conv_layers.0.conv",
    "model.audio_tower.embedder.conv2": _E + "conv_layers.1.conv",
    "model.audio_tower.norm": _E + "transformer.norm",
    "model.multi_modal_projector.linear_1": _A + "audio_language_projection.0",
    "model.multi_modal_projector.linear_2": _A + "audio_language_projection.2",
    "model.language_model.embed_tokens": _A + "tok_embeddings",
    "model.language_model.norm": "norm",
}
_LAYER_RE = re.compile(r"model\.(audio_tower|language_model)\.layers\.(\d+)\.(.+)")


def native_name(hf_key: str) -> str | None:
    """In-memory transformers name -> native Mistral name; None for the tied ``lm_head``."""
    if hf_key == "lm_head.weight":
        return None
    stem, _, leaf = hf_key.rpartition(".")
    if stem in _FIXED:
        return f"{_FIXED[stem]}.{leaf}"
    m = _LAYER_RE.fullmatch(stem)
    if m and m.group(3) in _LAYER_PARTS:
        prefix = _E + "transformer.layers." if m.group(1) == "audio_tower" else "layers."
        return f"{prefix}{m.group(2)}.{_LAYER_PARTS[m.group(3)]}.{leaf}"
    raise KeyError(f"no native name for {hf_key}")


def unpermute_rope(t: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Inverse of transformers' ``permute_for_rope``: rotate-half rows -> interleaved rows."""
    rows = t.shape[0]
    head_dim = rows // n_heads
    rest = t.shape[1:]
    return t.reshape(n_heads, 2, head_dim // 2, *rest).transpose(1, 2).reshape(rows, *rest)


def native_state_dict(model, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The model's weights under native names, q/k un-permuted, no ``output.weight`` (tied)."""
    cfg = model.config
    heads = {
        ("audio_tower", "q_proj"): cfg.audio_config.num_attention_heads,
        ("audio_tower", "k_proj"): cfg.audio_config.num_attention_heads,
        ("language_model", "q_proj"): cfg.text_config.num_attention_heads,
        ("language_model", "k_proj"): cfg.text_config.num_key_value_heads,
    }
    out = {}
    for key, tensor in model.state_dict().items():
        name = native_name(key)
        if name is None:
            continue
        m = _LAYER_RE.fullmatch(key.rpartition(".")[0])
        proj = m and m.group(3).rpartition(".")[2]
        if m and proj in ("q_proj", "k_proj"):
            tensor = unpermute_rope(tensor, heads[(m.group(1), proj)])
        out[name] = tensor.detach().to(dtype).contiguous().clone()
    return out


def native_params(config: VoxtralRealtimeConfig) -> dict:
    """``params.json`` with the real file's key structure, values from ``config``."""
    text, audio = config.text_config, config.audio_config
    return {
        "dim": text.hidden_size,
        "n_layers": text.num_hidden_layers,
        "head_dim": text.head_dim,
        "hidden_dim": text.intermediate_size,
        "n_heads": text.num_attention_heads,
        "n_kv_heads": text.num_key_value_heads,
        "use_biases": False,
        "causal": True,
        "rope_theta": float(text.rope_parameters["rope_theta"]),
        "norm_eps": text.rms_norm_eps,
        "vocab_size": text.vocab_size,
        "model_parallel": 1,
        "tied_embeddings": True,
        "sliding_window": text.sliding_window,
        "model_max_length": text.max_position_embeddings,
        "multimodal": {
            "whisper_model_args": {
                "encoder_args": {
                    "audio_encoding_args": {
                        "sampling_rate": SAMPLE_RATE,
                        "frame_rate": 12.5,
                        "num_mel_bins": audio.num_mel_bins,
                        "hop_length": HOP,
                        "window_size": WIN,
                        "chunk_length_s": None,
                        "global_log_mel_max": 1.5,
                        "transcription_format": "streaming",
                    },
                    "dim": audio.hidden_size,
                    "n_layers": audio.num_hidden_layers,
                    "head_dim": audio.head_dim,
                    "hidden_dim": audio.intermediate_size,
                    "n_heads": audio.num_attention_heads,
                    "vocab_size": audio.vocab_size,
                    "n_kv_heads": audio.num_attention_heads,
                    "use_biases": True,
                    "use_cache": False,
                    "rope_theta": float(audio.rope_parameters["rope_theta"]),
                    "causal": True,
                    "norm_eps": audio.rms_norm_eps,
                    "pos_embed": "rope",
                    "max_source_positions": None,
                    "ffn_type": "swiglu",
                    "norm_type": "rms_norm",
                    "sliding_window": audio.sliding_window,
                },
                "downsample_args": {"downsample_factor": config.downsample_factor},
            }
        },
        "ada_rms_norm_t_cond": True,
        "ada_rms_norm_t_cond_dim": 32,
    }


def save_native(model, folder, dtype: torch.dtype = torch.float32) -> Path:
    """Write ``params.json`` + ``consolidated.safetensors`` in the Mistral native layout."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.json").write_text(json.dumps(native_params(model.config), indent=2))
    safetensors.torch.save_file(
        native_state_dict(model, dtype), str(folder / "consolidated.safetensors"), {"format": "pt"}
    )
    return folder


# ---- audio ----------------------------------------------------------------------------------


def test_audio(seconds: float, seed: int = 0) -> np.ndarray:
    """Deterministic 16 kHz float32 signal: gliding tones, amplitude-modulated, bursts + noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    x = np.zeros_like(t)
    for f0, sweep, am in ((220.0, 60.0, 1.3), (470.0, -90.0, 2.1), (1230.0, 300.0, 3.7)):
        phase = 2 * np.pi * (f0 * t + 0.5 * sweep * t**2 / max(seconds, 1e-9))
        x += np.sin(phase) * (0.5 + 0.5 * np.sin(2 * np.pi * am * t + rng.uniform(0, 6.3)))
    bursts = (np.sin(2 * np.pi * 0.9 * t) > 0.3).astype(np.float64)
    x = 0.15 * x + 0.05 * bursts * rng.standard_normal(t.size) + 0.01 * rng.standard_normal(t.size)
    return x.astype(np.float32)


test_audio.__test__ = False  # a helper, not a pytest test


def padded(samples: np.ndarray, n_delay: int = 6) -> np.ndarray:
    """Offline streaming padding: 32 tokens of zeros left; right to a multiple of 1280 plus
    ``n_delay + 1 + 10`` tokens of zeros (mistral-common's OFFLINE mode, without PCM16)."""
    samples = np.asarray(samples, dtype=np.float32)
    align = -len(samples) % SAMPLES_PER_TOKEN
    right = align + (n_delay + 1 + 10) * SAMPLES_PER_TOKEN
    return np.pad(samples, (N_LEFT_PAD_TOKENS * SAMPLES_PER_TOKEN, right))


_FE = None


def _feature_extractor() -> VoxtralRealtimeFeatureExtractor:
    global _FE
    if _FE is None:
        _FE = VoxtralRealtimeFeatureExtractor()
    return _FE


def _mel_tensor(samples: np.ndarray, center: bool = True) -> torch.Tensor:
    """[1, 128, T] mel of ``samples`` straight from the feature extractor (no processor, no PCM16)."""
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    fe = _feature_extractor()
    return fe(samples, sampling_rate=SAMPLE_RATE, center=center, return_tensors="pt").input_features


def reference_mel(samples: np.ndarray) -> np.ndarray:
    """Log-mel [T, 128] float32 (time-major) of already padded audio; T = len // 160."""
    return _mel_tensor(samples)[0].T.numpy().astype(np.float32)


# ---- forward / generate ---------------------------------------------------------------------


def _features(mel_T128: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.asarray(mel_T128, np.float32).T))[None]


def _np(t: torch.Tensor) -> np.ndarray:
    return t[0].detach().float().numpy().astype(np.float32)


@torch.no_grad()
def reference_forward(
    model, mel_T128: np.ndarray, input_ids: list[int], num_delay_tokens: int
) -> dict[str, np.ndarray]:
    """One full (non-incremental) forward. ``len(input_ids)`` must be ``T / 8``.

    Returns fp32 arrays without the batch dim: ``conv`` [T/2, D] (conv stem after both GELUs),
    ``encoder`` [T/2, D] (after the final norm), ``adapter`` [T/8, H] (projector output),
    ``logits`` [T/8, vocab] (position p sees embed(input_ids[p]) + adapter[p]).
    """
    feats = _features(mel_T128)
    if len(input_ids) * MEL_FRAMES_PER_TOKEN != feats.shape[-1]:
        raise ValueError(f"{len(input_ids)} input ids for {feats.shape[-1]} mel frames (need T/8)")
    inner = model.model
    audio = inner.get_audio_features(input_features=feats, use_cache=False)
    logits = model(
        input_ids=torch.tensor([list(input_ids)]),
        input_features=feats,
        num_delay_tokens=num_delay_tokens,
        use_cache=False,
    ).logits
    return {
        "conv": _np(inner.audio_tower.embedder(feats)),
        "encoder": _np(audio.last_hidden_state),
        "adapter": _np(audio.pooler_output),
        "logits": _np(logits),
    }


def prompt_ids(prompt_len: int = 39) -> list[int]:
    """BOS then [STREAMING_PAD]: 32 left-pad + n_delay tokens, 39 for the default 480 ms delay."""
    return [BOS] + [STREAMING_PAD] * (prompt_len - 1)


def _generate(model, prompt_len: int, features, num_delay_tokens: int) -> list[int]:
    with warnings.catch_warnings():
        # "Using the model-agnostic default `max_length`": the length is Voxtral's own rule.
        warnings.simplefilter("ignore", UserWarning)
        out = model.generate(
            input_ids=torch.tensor([prompt_ids(prompt_len)]),
            input_features=features,
            num_delay_tokens=num_delay_tokens,
            do_sample=False,
        )
    return out[0, prompt_len:].tolist()


@torch.no_grad()
def reference_greedy(
    model, mel_T128: np.ndarray, num_delay_tokens: int = 6, prompt_len: int = 39
) -> list[int]:
    """transformers ``generate`` greedy on the whole mel; only the newly generated ids.

    Length is transformers' own: ``ceil(T / 8) - prompt_len`` new ids, fewer if EOS (2) comes.
    """
    return _generate(model, prompt_len, _features(mel_T128), num_delay_tokens)


def streaming_mel_chunks(
    samples_unpadded: np.ndarray, num_delay_tokens: int = 6
) -> list[np.ndarray]:
    """transformers' streaming mel recipe without the processor, as [T_chunk, 128] arrays.

    The audio is right-padded as offline (to 1280 then ``n_delay + 11`` tokens). First chunk:
    32 tokens of zeros + the first ``(8 * (n_delay + 1) - 1) * 160 + 200`` samples, centred STFT
    -> ``8 * (32 + n_delay + 1)`` frames. Then 1680-sample windows at ``mel_idx * 160 - 200``,
    uncentred -> 8 frames each, while the window fits inside the audio. Concatenated they equal
    the offline mel's first frames.
    """
    audio = padded(samples_unpadded, num_delay_tokens)[N_LEFT_PAD_TOKENS * SAMPLES_PER_TOKEN :]
    left = np.zeros(N_LEFT_PAD_TOKENS * SAMPLES_PER_TOKEN, np.float32)
    mel_idx = MEL_FRAMES_PER_TOKEN * (num_delay_tokens + 1)
    first = np.concatenate([left, audio[: (mel_idx - 1) * HOP + WIN // 2]])
    chunks = [_mel_tensor(first, center=True)[0].T.numpy()]
    chunk_len = MEL_FRAMES_PER_TOKEN * HOP + WIN
    start = mel_idx * HOP - WIN // 2
    while start + chunk_len < len(audio):
        chunks.append(_mel_tensor(audio[start : start + chunk_len], center=False)[0].T.numpy())
        mel_idx += MEL_FRAMES_PER_TOKEN
        start = mel_idx * HOP - WIN // 2
    return [c.astype(np.float32) for c in chunks]


@torch.no_grad()
def reference_streaming_greedy(
    model, samples_unpadded: np.ndarray, num_delay_tokens: int = 6
) -> list[int]:
    """Streaming ``generate``: mel chunks from :func:`streaming_mel_chunks` through a generator
    (conv padding cache + encoder KV cache). Only the new ids: one per chunk, stopping when the
    chunks run out. With the offline padding this is as many ids as :func:`reference_greedy`
    gives (the last 80 ms, unused offline too, has no complete chunk)."""
    chunks = streaming_mel_chunks(samples_unpadded, num_delay_tokens)
    prompt_len = N_LEFT_PAD_TOKENS + num_delay_tokens + 1

    def feed() -> Iterator[torch.Tensor]:
        for c in chunks:
            yield _features(c)

    return _generate(model, prompt_len, feed(), num_delay_tokens)


def n_decoder_positions(samples_padded_len: int) -> int:
    """Decoder positions (= generate's max_length) for a padded clip of this many samples."""
    return math.ceil(samples_padded_len / HOP / MEL_FRAMES_PER_TOKEN)
