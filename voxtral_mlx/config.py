"""Model configuration: dataclasses that mirror Mistral's ``params.json`` key for key.

The nesting is the file's nesting (decoder keys at the top level, the audio encoder under
``multimodal.whisper_model_args``). Unknown keys are ignored; a missing required key raises
:class:`ConfigError` naming it. ``from_transformers`` builds the same tree from a transformers
``config.json`` so both checkpoint layouts share one config type.

Derived numbers (samples per token, frame rates, delay conversions) are properties, never stored.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError


def _build(cls, data: dict[str, Any], where: str):
    """Instantiate dataclass ``cls`` from ``data``: nested dataclasses recurse, unknown keys ignored."""
    if not isinstance(data, dict):
        raise ConfigError(f"config: '{where}' should be an object, got {type(data).__name__}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        name = f"{where}.{f.name}" if where else f.name
        if f.name not in data or data[f.name] is None:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"config: missing required key '{name}'")
            continue
        value = data[f.name]
        sub = _NESTED.get((cls.__name__, f.name))
        kwargs[f.name] = _build(sub, value, name) if sub is not None else value
    return cls(**kwargs)


@dataclass
class AudioEncodingArgs:
    """``encoder_args.audio_encoding_args``: the log-mel front end."""

    sampling_rate: int = 16000
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
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from a parsed ``params.json`` (unknown keys ignored, missing ones a ConfigError)."""
        return _build(cls, data, "")

    def to_dict(self) -> dict[str, Any]:
        """The ``params.json`` form (round-trips through :meth:`from_dict`)."""
        d = dataclasses.asdict(self)
        if d["quantization"] is None:
            del d["quantization"]
        return d

    @classmethod
    def from_transformers(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from a transformers ``config.json`` (model_type ``voxtral_realtime``)."""
        if data.get("model_type") != "voxtral_realtime":
            raise ConfigError(
                f"config.json: model_type is {data.get('model_type')!r}, expected 'voxtral_realtime'"
            )
        text, audio = data.get("text_config"), data.get("audio_config")
        if not isinstance(text, dict) or not isinstance(audio, dict):
            raise ConfigError("config.json: missing 'text_config' or 'audio_config'")

        def need(d: dict, key: str, where: str):
            if d.get(key) is None:
                raise ConfigError(f"config.json: missing required key '{where}.{key}'")
            return d[key]

        def theta(d: dict, where: str) -> float:
            # transformers >= 5 nests it under rope_parameters; older files have rope_theta.
            rp = d.get("rope_parameters") or {}
            value = rp.get("rope_theta", d.get("rope_theta"))
            if value is None:
                raise ConfigError(f"config.json: missing '{where}.rope_parameters.rope_theta'")
            return float(value)

        enc = {
            "dim": need(audio, "hidden_size", "audio_config"),
            "n_layers": need(audio, "num_hidden_layers", "audio_config"),
            "head_dim": need(audio, "head_dim", "audio_config"),
            "hidden_dim": need(audio, "intermediate_size", "audio_config"),
            "n_heads": need(audio, "num_attention_heads", "audio_config"),
            "n_kv_heads": audio.get("num_key_value_heads"),
            "rope_theta": theta(audio, "audio_config"),
            "norm_eps": audio.get("rms_norm_eps", 1e-5),
            "sliding_window": audio.get("sliding_window"),
            "audio_encoding_args": {"num_mel_bins": audio.get("num_mel_bins", 128)},
        }
        top = {
            "dim": need(text, "hidden_size", "text_config"),
            "n_layers": need(text, "num_hidden_layers", "text_config"),
            "head_dim": need(text, "head_dim", "text_config"),
            "hidden_dim": need(text, "intermediate_size", "text_config"),
            "n_heads": need(text, "num_attention_heads", "text_config"),
            "n_kv_heads": need(text, "num_key_value_heads", "text_config"),
            "vocab_size": need(text, "vocab_size", "text_config"),
            "norm_eps": text.get("rms_norm_eps", 1e-5),
            "rope_theta": theta(text, "text_config"),
            "sliding_window": text.get("sliding_window"),
            "tied_embeddings": data.get("tie_word_embeddings", True),
            # transformers hard-codes the ada-norm bottleneck at 32.
            "ada_rms_norm_t_cond_dim": 32,
            "multimodal": {
                "whisper_model_args": {
                    "encoder_args": enc,
                    "downsample_args": {"downsample_factor": data.get("downsample_factor", 4)},
                }
            },
        }
        return cls.from_dict(top)

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

    def delay_tokens(self, delay_ms: float) -> int:
        """Delay in ms -> number of delay tokens (mistral-common rounds up to whole tokens)."""
        return math.ceil(round(delay_ms * self.audio.sampling_rate / 1000) / self.samples_per_token)

    def delay_ms(self, n_tokens: int) -> float:
        return n_tokens * self.audio.token_ms


_NESTED = {
    ("EncoderArgs", "audio_encoding_args"): AudioEncodingArgs,
    ("WhisperModelArgs", "encoder_args"): EncoderArgs,
    ("WhisperModelArgs", "downsample_args"): DownsampleArgs,
    ("MultimodalArgs", "whisper_model_args"): WhisperModelArgs,
    ("ModelConfig", "multimodal"): MultimodalArgs,
    ("ModelConfig", "quantization"): QuantizationArgs,
}


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
