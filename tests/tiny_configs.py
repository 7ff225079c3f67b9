"""Tiny model configs for tests (never full size in tests)."""

from __future__ import annotations

import copy

TINY_PARAMS = {
    "dim": 64,
    "n_layers": 2,
    "head_dim": 16,
    "hidden_dim": 128,
    "n_heads": 4,
    "n_kv_heads": 2,
    "vocab_size": 1100,
    "norm_eps": 1e-5,
    "rope_theta": 1e6,
    "sliding_window": 24,
    "tied_embeddings": True,
    "ada_rms_norm_t_cond": True,
    "ada_rms_norm_t_cond_dim": 32,
    "multimodal": {
        "whisper_model_args": {
            "encoder_args": {
                "audio_encoding_args": {"sampling_rate": 16000, "frame_rate": 12.5, "num_mel_bins": 128,
                                        "hop_length": 160, "window_size": 400, "global_log_mel_max": 1.5},
                "dim": 64, "n_layers": 2, "head_dim": 16, "hidden_dim": 128, "n_heads": 4,
                "n_kv_heads": 4, "rope_theta": 1e6, "norm_eps": 1e-5, "sliding_window": 40,
                "use_biases": True,
            },
            "downsample_args": {"downsample_factor": 4},
        }
    },
}  # fmt: skip


def tiny_params(**top) -> dict:
    """A deep copy of the tiny params.json dict with top-level overrides."""
    d = copy.deepcopy(TINY_PARAMS)
    d.update(top)
    return d
