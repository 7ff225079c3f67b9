"""``params.json`` trees for tests, benchmarks and the self-tests, never for real use: a tiny
model (tests never build a full-size one) and the real 4B shape (random-weight benchmarks)."""

from __future__ import annotations

import dataclasses
from typing import Any

from voxtral_mlx.config import AudioEncodingArgs


def realtime_4b_params() -> dict[str, Any]:
    """The ``params.json`` of mistralai/Voxtral-Mini-4B-Realtime-2602 (for random-weight benchmarks).

    Values as published in ports' fixtures of the real file (see shared/model-spec.md §1).
    """
    enc = {
        "audio_encoding_args": dataclasses.asdict(AudioEncodingArgs()),
        "dim": 1280, "n_layers": 32, "head_dim": 64, "hidden_dim": 5120, "n_heads": 32,
        "n_kv_heads": 32, "vocab_size": 131072, "use_biases": True, "rope_theta": 1e6,
        "causal": True, "norm_eps": 1e-5, "sliding_window": 750,
    }  # fmt: skip
    return {
        "dim": 3072, "n_layers": 26, "head_dim": 128, "hidden_dim": 9216, "n_heads": 32,
        "n_kv_heads": 8, "use_biases": False, "causal": True, "rope_theta": 1e6, "norm_eps": 1e-5,
        "vocab_size": 131072, "model_parallel": 1, "tied_embeddings": True, "sliding_window": 8192,
        "model_max_length": 131072, "ada_rms_norm_t_cond": True, "ada_rms_norm_t_cond_dim": 32,
        "multimodal": {"whisper_model_args": {"encoder_args": enc,
                                              "downsample_args": {"downsample_factor": 4}}},
    }  # fmt: skip


def tiny_params(**top: Any) -> dict[str, Any]:
    """A tiny ``params.json`` tree (2-layer, 64-wide towers; windows 40 / 24) with top-level
    overrides: for tests and the app's ``--self-test``, never for real use."""
    enc = {
        "audio_encoding_args": dataclasses.asdict(AudioEncodingArgs()),
        "dim": 64, "n_layers": 2, "head_dim": 16, "hidden_dim": 128, "n_heads": 4,
        "n_kv_heads": 4, "rope_theta": 1e6, "norm_eps": 1e-5, "sliding_window": 40, "use_biases": True,
    }  # fmt: skip
    params = {
        "dim": 64, "n_layers": 2, "head_dim": 16, "hidden_dim": 128, "n_heads": 4, "n_kv_heads": 2,
        "vocab_size": 1100, "norm_eps": 1e-5, "rope_theta": 1e6, "sliding_window": 24,
        "tied_embeddings": True, "ada_rms_norm_t_cond": True, "ada_rms_norm_t_cond_dim": 32,
        "multimodal": {"whisper_model_args": {"encoder_args": enc,
                                              "downsample_args": {"downsample_factor": 4}}},
    }  # fmt: skip
    params.update(top)
    return params
