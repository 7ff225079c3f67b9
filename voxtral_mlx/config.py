"""Model configuration: dataclasses that mirror Mistral's ``params.json`` key for key.

The nesting is the file's nesting (decoder keys at the top level, the audio encoder under
``multimodal.whisper_model_args``). Unknown keys are ignored; a missing required key, a value
of the wrong type or out of range raises :class:`ConfigError` naming the file and the key,
before anything is allocated (the checks: :mod:`voxtral_mlx.config_reader`).
``from_transformers`` builds the same tree from a transformers ``config.json`` so both
checkpoint layouts share one config type (its errors name its own keys).

Derived numbers (samples per token, frame rates, delay conversions) are properties, never stored.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from voxtral_mlx.config_reader import Reader, check_consistency, transformers_tree
from voxtral_mlx.protocol import SAMPLE_RATE


@dataclass
class AudioEncodingArgs:
    """``encoder_args.audio_encoding_args``: the log-mel front end."""

    sampling_rate: int = SAMPLE_RATE
    frame_rate: float = 12.5
    num_mel_bins: int = 128
    hop_length: int = 160
    window_size: int = 400
    global_log_mel_max: float = 1.5
    transcription_format: str = "streaming"

    @property
    def mel_frames_per_token(self) -> int:
        """Mel frames per decoder token: 16000 / 12.5 / 160 = 8."""
        return round(self.sampling_rate / self.frame_rate / self.hop_length)

    @property
    def samples_per_token(self) -> int:
        """Audio samples per decoder token (80 ms at 16 kHz = 1280)."""
        return self.mel_frames_per_token * self.hop_length

    @property
    def token_ms(self) -> float:
        return 1000.0 / self.frame_rate


@dataclass
class EncoderArgs:
    """``multimodal.whisper_model_args.encoder_args``: the causal Whisper-style audio encoder."""

    dim: int
    n_layers: int
    head_dim: int
    hidden_dim: int
    n_heads: int
    audio_encoding_args: AudioEncodingArgs = field(default_factory=AudioEncodingArgs)
    n_kv_heads: int | None = None
    rope_theta: float = 1_000_000.0
    norm_eps: float = 1e-5
    sliding_window: int | None = 750
    use_biases: bool = True
    causal: bool = True
    vocab_size: int | None = None

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads


@dataclass
class DownsampleArgs:
    downsample_factor: int = 4


@dataclass
class WhisperModelArgs:
    encoder_args: EncoderArgs
    downsample_args: DownsampleArgs = field(default_factory=DownsampleArgs)


@dataclass
class MultimodalArgs:
    whisper_model_args: WhisperModelArgs


@dataclass
class QuantizationArgs:
    """mlx-lm's on-disk quantization record (present only in converted MLX folders)."""

    group_size: int = 64
    bits: int = 4


@dataclass
class ModelConfig:
    """Top level of ``params.json``: the decoder, plus the multimodal (audio) sub-tree."""

    dim: int
    n_layers: int
    head_dim: int
    hidden_dim: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    multimodal: MultimodalArgs
    norm_eps: float = 1e-5
    rope_theta: float = 1_000_000.0
    sliding_window: int | None = 8192
    tied_embeddings: bool = True
    use_biases: bool = False
    causal: bool = True
    model_max_length: int | None = None
    ada_rms_norm_t_cond: bool = True
    ada_rms_norm_t_cond_dim: int = 32
    quantization: QuantizationArgs | None = None

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_dict(
        cls, data: dict[str, Any], source: str = "params.json", names: dict[str, str] | None = None
    ) -> ModelConfig:
        """Build from a parsed ``params.json``; ConfigError names ``source`` and the bad key.

        ``names`` maps our dotted keys to the file's own (for a transformers config.json).
        """
        reader = Reader(source, names)
        cfg = reader.build(cls, data)
        check_consistency(cfg, reader)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """The ``params.json`` form (round-trips through :meth:`from_dict`)."""
        d = dataclasses.asdict(self)
        if d["quantization"] is None:
            del d["quantization"]
        return d

    @classmethod
    def from_transformers(cls, data: dict[str, Any], source: str = "config.json") -> ModelConfig:
        """Build from a transformers ``config.json`` (model_type ``voxtral_realtime``)."""
        top, names = transformers_tree(data, source)
        return cls.from_dict(top, source, names)

    # ---- derived numbers ----------------------------------------------------------------------
    @property
    def encoder(self) -> EncoderArgs:
        return self.multimodal.whisper_model_args.encoder_args

    @property
    def audio(self) -> AudioEncodingArgs:
        return self.encoder.audio_encoding_args

    @property
    def downsample_factor(self) -> int:
        return self.multimodal.whisper_model_args.downsample_args.downsample_factor

    @property
    def conv_stride(self) -> int:
        """Total stride of the conv stem (conv2 has stride 2)."""
        return 2

    @property
    def samples_per_token(self) -> int:
        """1280 samples (80 ms) per decoder token."""
        return self.audio.samples_per_token

    @property
    def encoder_frame_rate(self) -> float:
        """Encoder frames per second after the conv stem (50 Hz)."""
        return self.audio.sampling_rate / self.audio.hop_length / self.conv_stride

    @property
    def token_rate(self) -> float:
        """Decoder tokens per second (12.5 Hz)."""
        return self.encoder_frame_rate / self.downsample_factor

    @property
    def parameter_estimate(self) -> int:
        """Parameters these sizes imply (biases and norms left out: within a fraction of 1%)."""
        enc = self.encoder
        towers = _tower(self, self.ada_rms_norm_t_cond_dim) + _tower(enc, 0)
        stem = enc.audio_encoding_args.num_mel_bins * enc.dim * 3 + enc.dim * enc.dim * 3
        adapter = enc.dim * self.downsample_factor * self.dim + self.dim * self.dim
        heads = 1 if self.tied_embeddings else 2
        return towers + stem + adapter + heads * self.vocab_size * self.dim

    def delay_tokens(self, delay_ms: float) -> int:
        """Delay in ms -> number of delay tokens (mistral-common rounds up to whole tokens)."""
        return math.ceil(round(delay_ms * self.audio.sampling_rate / 1000) / self.samples_per_token)

    def delay_ms(self, n_tokens: int) -> float:
        return n_tokens * self.audio.token_ms


def _tower(args, t_cond_dim: int) -> int:
    """Matrix parameters of one transformer tower (attention, SwiGLU, the delay MLP)."""
    kv = args.n_kv_heads or args.n_heads
    attention = args.dim * args.head_dim * 2 * (args.n_heads + kv)
    return args.n_layers * (attention + 3 * args.dim * args.hidden_dim + 2 * args.dim * t_cond_dim)
