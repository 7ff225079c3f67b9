"""Audio in: decode any common file to mono float32 16 kHz, and the log-mel front end.

The public surface other modules use. Decoding and resampling live in :mod:`audio_io`,
the MLX log-mel (batch and streaming) in :mod:`mel`.
"""

from voxtral_mlx.audio_io import (
    SAMPLE_RATE,
    SAMPLES_PER_TOKEN,
    Damage,
    iter_audio,
    load_audio,
    summarize_damage,
)
from voxtral_mlx.mel import StreamingMel, log_mel, mel_filters, pad_for_stream

__all__ = [
    "SAMPLE_RATE",
    "SAMPLES_PER_TOKEN",
    "Damage",
    "StreamingMel",
    "iter_audio",
    "load_audio",
    "log_mel",
    "mel_filters",
    "pad_for_stream",
    "summarize_damage",
]
