"""Model configuration: dataclasses that mirror Mistral's ``params.json`` key for key.

The nesting is the file's nesting (decoder keys at the top level, the audio encoder under
``multimodal.whisper_model_args``). Unknown keys are ignored; a missing required key, a value
of the wrong type or out of range raises :class:`ConfigError` naming the file and the key,
before anything is allocated. ``from_transformers`` builds the same tree from a transformers
``config.json`` so both checkpoint layouts share one config type (its errors name its own keys).

Derived numbers (samples per token, frame rates, delay conversions) are properties, never stored.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from voxtral_mlx.errors import ConfigError
from voxtral_mlx.protocol import SAMPLE_RATE

MAX_LAYERS = 1024
# The log-mel front end mel.py implements (Voxtral Realtime's); tests check the two agree.
FRONT_END = {"sampling_rate": SAMPLE_RATE, "hop_length": 160, "window_size": 400,
             "frame_rate": 12.5, "global_log_mel_max": 1.5}  # fmt: skip
# Refused before any allocation: ~25x the 4.4 B model, far past what one machine holds.
MAX_PARAMETERS = 100_000_000_000

# Each leaf field's rule, by name (a name means the same thing in every sub-config):
# ("int", hi) a whole number 1..hi; ("float", hi) a finite number > 0 (and <= hi);
# ("number", None) any finite number; ("choice", values); ("bool", None); ("str", None).
_RULES: dict[str, tuple[str, Any]] = {
    "dim": ("int", 1 << 16), "hidden_dim": ("int", 1 << 18), "head_dim": ("int", 1 << 12),
    "n_layers": ("int", MAX_LAYERS), "n_heads": ("int", 1024), "n_kv_heads": ("int", 1024),
    "vocab_size": ("int", 1 << 22), "sliding_window": ("int", 1 << 24),
    "model_max_length": ("int", 1 << 30), "ada_rms_norm_t_cond_dim": ("int", 1 << 12),
    "downsample_factor": ("int", 64), "sampling_rate": ("int", 768_000),
    "num_mel_bins": ("int", 1024), "hop_length": ("int", 1 << 16), "window_size": ("int", 1 << 16),
    "frame_rate": ("float", 1000.0), "rope_theta": ("float", None), "norm_eps": ("float", 1.0),
    "global_log_mel_max": ("number", None), "transcription_format": ("str", None),
    "tied_embeddings": ("bool", None), "use_biases": ("bool", None), "causal": ("bool", None),
    "ada_rms_norm_t_cond": ("bool", None),
    "group_size": ("choice", (32, 64, 128)), "bits": ("choice", (2, 3, 4, 5, 6, 8)),
}  # fmt: skip


class _Reader:
    """Builds the dataclass tree from parsed JSON; every error names ``source`` and the key.

    ``names`` maps our dotted key to the file's own key where they differ (config.json).
    """

    def __init__(self, source: str, names: dict[str, str] | None = None):
        self.source, self.names = source, names or {}

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.names.get(key, key)} {problem}")

    def build(self, cls, data: Any, where: str = ""):
        """Instantiate dataclass ``cls``: nested dataclasses recurse, unknown keys ignored."""
        if not isinstance(data, dict):
            raise self.fail(where or "the top level", f"must be an object, got {_show(data)}")
        kwargs = {}
        for f in dataclasses.fields(cls):
            key = f"{where}.{f.name}" if where else f.name
            if data.get(f.name) is None:  # null means "not given", as in the reference
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise ConfigError(
                        f"{self.source}: missing required key '{self.names.get(key, key)}'"
                    )
                continue
            sub = _NESTED.get((cls.__name__, f.name))
            value = data[f.name]
            kwargs[f.name] = self.build(sub, value, key) if sub else self.leaf(f.name, value, key)
        return cls(**kwargs)

    def leaf(self, name: str, value: Any, key: str) -> Any:
        kind, arg = _RULES[name]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "int":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise self.fail(key, f"must be a positive integer, got {_show(value)}")
            if value > arg:
                raise self.fail(key, f"must be at most {arg}, got {value}")
        elif kind in ("float", "number"):
            if not number or not finite_number(value) or (kind == "float" and value <= 0):
                what = "a positive number" if kind == "float" else "a finite number"
                raise self.fail(key, f"must be {what}, got {_show(value)}")
            if arg is not None and value > arg:
                raise self.fail(key, f"must be at most {arg}, got {value}")
            return float(value)
        elif kind == "choice":
            if not number or value not in arg or isinstance(value, float):
                raise self.fail(key, f"must be one of {_listing(arg)}, got {_show(value)}")
        elif not isinstance(value, bool if kind == "bool" else str):
            need = "true or false" if kind == "bool" else "a string"
            raise self.fail(key, f"must be {need}, got {_show(value)}")
        return value


def finite_number(value: int | float) -> bool:
    """A finite number (an integer past float range counts as not finite)."""
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer past float range (JSON allows any length)
        return False


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _listing(values) -> str:
    return ", ".join(map(str, values))


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
        reader = _Reader(source, names)
        cfg = reader.build(cls, data)
        _check_consistency(cfg, reader)
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
        if not isinstance(data, dict) or data.get("model_type") != "voxtral_realtime":
            got = data.get("model_type") if isinstance(data, dict) else None
            raise ConfigError(f"{source}: model_type is {got!r}, expected 'voxtral_realtime'")
        text, audio = data.get("text_config"), data.get("audio_config")
        if not isinstance(text, dict) or not isinstance(audio, dict):
            raise ConfigError(f"{source}: missing 'text_config' or 'audio_config'")
        names: dict[str, str] = {}
        enc = _from_hf(audio, "audio_config", _ENCODER_KEY, _HF_AUDIO, names, source)
        enc["audio_encoding_args"] = {"num_mel_bins": audio.get("num_mel_bins")}
        names[f"{_ENCODER_KEY}.audio_encoding_args.num_mel_bins"] = "audio_config.num_mel_bins"
        text_keys = {**_HF_AUDIO, "vocab_size": "vocab_size"}
        top = _from_hf(text, "text_config", "", text_keys, names, source)
        top["tied_embeddings"] = data.get("tie_word_embeddings")
        names["tied_embeddings"] = "tie_word_embeddings"
        # transformers hard-codes the ada-norm bottleneck at 32.
        top["ada_rms_norm_t_cond_dim"] = 32
        down = f"{_ENCODER_KEY.rsplit('.', 1)[0]}.downsample_args.downsample_factor"
        names[down] = "downsample_factor"
        top["multimodal"] = {
            "whisper_model_args": {
                "encoder_args": enc,
                "downsample_args": {"downsample_factor": data.get("downsample_factor")},
            }
        }
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


_NESTED = {
    ("EncoderArgs", "audio_encoding_args"): AudioEncodingArgs,
    ("WhisperModelArgs", "encoder_args"): EncoderArgs,
    ("WhisperModelArgs", "downsample_args"): DownsampleArgs,
    ("MultimodalArgs", "whisper_model_args"): WhisperModelArgs,
    ("ModelConfig", "multimodal"): MultimodalArgs,
    ("ModelConfig", "quantization"): QuantizationArgs,
}

_ENCODER_KEY = "multimodal.whisper_model_args.encoder_args"
# transformers config.json key -> our key, for both towers (text adds vocab_size).
_HF_AUDIO = {
    "dim": "hidden_size", "n_layers": "num_hidden_layers", "head_dim": "head_dim",
    "hidden_dim": "intermediate_size", "n_heads": "num_attention_heads",
    "n_kv_heads": "num_key_value_heads", "norm_eps": "rms_norm_eps",
    "sliding_window": "sliding_window",
}  # fmt: skip


def _from_hf(
    d: dict, where: str, ours: str, table: dict, names: dict, source: str
) -> dict[str, Any]:
    """One tower's keys renamed to ours; ``names`` learns which key each came from."""
    out = {}
    for key, theirs in table.items():
        out[key] = d.get(theirs)
        names[f"{ours}.{key}" if ours else key] = f"{where}.{theirs}"
    # transformers >= 5 nests rope_theta under rope_parameters; older files have it top level.
    rp = d.get("rope_parameters")
    nested = isinstance(rp, dict) and rp.get("rope_theta") is not None
    out["rope_theta"] = rp["rope_theta"] if nested else d.get("rope_theta")
    theta = "rope_parameters.rope_theta" if nested or "rope_theta" not in d else "rope_theta"
    names[f"{ours}.rope_theta" if ours else "rope_theta"] = f"{where}.{theta}"
    if out["rope_theta"] is None:  # required here though params.json has a default
        raise ConfigError(f"{source}: missing '{where}.rope_parameters.rope_theta'")
    return out


def _tower(args, t_cond_dim: int) -> int:
    """Matrix parameters of one transformer tower (attention, SwiGLU, the delay MLP)."""
    kv = args.n_kv_heads or args.n_heads
    attention = args.dim * args.head_dim * 2 * (args.n_heads + kv)
    return args.n_layers * (attention + 3 * args.dim * args.hidden_dim + 2 * args.dim * t_cond_dim)


def _check_front_end(cfg: ModelConfig, reader: _Reader) -> None:
    """mel.py computes Voxtral Realtime's log-mel only: other values would load and then
    transcribe from the wrong spectrogram, silently."""
    audio = cfg.audio
    for name, value in FRONT_END.items():
        got = getattr(audio, name)
        if got != value:
            raise reader.fail(
                f"{_ENCODER_KEY}.audio_encoding_args.{name}",
                f"is {got:g}; this port's log-mel front end is fixed at {value:g}",
            )
    per_token = audio.hop_length * cfg.conv_stride * cfg.downsample_factor
    if not math.isclose(audio.sampling_rate / audio.frame_rate, per_token):
        raise reader.fail(
            "multimodal.whisper_model_args.downsample_args.downsample_factor",
            f"({cfg.downsample_factor}) gives {per_token} samples per token; frame_rate "
            f"{audio.frame_rate:g} at {audio.sampling_rate} Hz needs "
            f"{audio.sampling_rate / audio.frame_rate:g}",
        )


def _check_consistency(cfg: ModelConfig, reader: _Reader) -> None:
    """Relations between keys that each look valid alone; all before any allocation."""
    for prefix, args in (("", cfg), (_ENCODER_KEY + ".", cfg.encoder)):
        kv = args.n_kv_heads or args.n_heads
        if args.n_heads % kv:
            raise reader.fail(
                prefix + "n_heads", f"({args.n_heads}) must be a multiple of n_kv_heads ({kv})"
            )
        if args.head_dim % 2:
            raise reader.fail(
                prefix + "head_dim", f"must be even (rotary pairs), got {args.head_dim}"
            )
    _check_front_end(cfg, reader)
    n = cfg.parameter_estimate
    if n > MAX_PARAMETERS:
        raise ConfigError(
            f"{reader.source}: these sizes make {n / 1e9:.0f} B parameters (at most "
            f"{MAX_PARAMETERS / 1e9:.0f} B accepted); is a dimension wrong?"
        )


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
