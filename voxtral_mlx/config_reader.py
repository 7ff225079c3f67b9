"""Reading a model configuration: parsed JSON -> the :mod:`voxtral_mlx.config` dataclasses.

Every value is checked by its field's rule and every error is one :class:`ConfigError` naming
the file and the key, before anything is allocated; relations between keys (head counts, the
log-mel front end, the total size) are checked on the built tree. A transformers
``config.json`` is renamed to the ``params.json`` tree first, remembering each key's own name
for the errors. This module knows the dataclasses only through the objects it is given (their
fields and type hints), so ``config`` imports it and not the reverse.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from typing import Any

from voxtral_mlx.errors import ConfigError
from voxtral_mlx.protocol import SAMPLE_RATE

MAX_LAYERS = 1024
# The log-mel front end mel.py implements (Voxtral Realtime's); tests check the two agree.
FRONT_END = {"sampling_rate": SAMPLE_RATE, "hop_length": 160, "window_size": 400,
             "frame_rate": 12.5, "global_log_mel_max": 1.5}  # fmt: skip
# Refused before any allocation: ~25x the 4.4 B model, far past what one machine holds.
MAX_PARAMETERS = 100_000_000_000
ENCODER_KEY = "multimodal.whisper_model_args.encoder_args"

# Each leaf field's rule, by name (a name means the same thing in every sub-config):
# ("int", hi) a whole number 1..hi; ("float", hi) a finite number > 0 (and <= hi);
# ("number", None) any finite number; ("choice", values); ("bool", None); ("str", None).
RULES: dict[str, tuple[str, Any]] = {
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


@functools.cache
def nested(cls: type) -> dict[str, type]:
    """``cls``'s fields that hold a sub-config (a dataclass, or one or None), by name."""
    out = {}
    for name, hint in typing.get_type_hints(cls).items():
        for kind in (hint, *typing.get_args(hint)):
            if dataclasses.is_dataclass(kind):
                out[name] = kind
    return out


class Reader:
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
            sub = nested(cls).get(f.name)
            value = data[f.name]
            kwargs[f.name] = self.build(sub, value, key) if sub else self.leaf(f.name, value, key)
        return cls(**kwargs)

    def leaf(self, name: str, value: Any, key: str) -> Any:
        kind, arg = RULES[name]
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


# ---- transformers config.json -> the params.json tree ---------------------------------------
# transformers config.json key -> our key, for both towers (text adds vocab_size).
_HF_AUDIO = {
    "dim": "hidden_size", "n_layers": "num_hidden_layers", "head_dim": "head_dim",
    "hidden_dim": "intermediate_size", "n_heads": "num_attention_heads",
    "n_kv_heads": "num_key_value_heads", "norm_eps": "rms_norm_eps",
    "sliding_window": "sliding_window",
}  # fmt: skip


def transformers_tree(data: Any, source: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A transformers ``config.json`` (model_type ``voxtral_realtime``) as a ``params.json``
    tree, and the map from our dotted keys to its own (for :class:`Reader`'s errors)."""
    if not isinstance(data, dict) or data.get("model_type") != "voxtral_realtime":
        got = data.get("model_type") if isinstance(data, dict) else None
        raise ConfigError(f"{source}: model_type is {got!r}, expected 'voxtral_realtime'")
    text, audio = data.get("text_config"), data.get("audio_config")
    if not isinstance(text, dict) or not isinstance(audio, dict):
        raise ConfigError(f"{source}: missing 'text_config' or 'audio_config'")
    names: dict[str, str] = {}
    enc = _from_hf(audio, "audio_config", ENCODER_KEY, _HF_AUDIO, names, source)
    enc["audio_encoding_args"] = {"num_mel_bins": audio.get("num_mel_bins")}
    names[f"{ENCODER_KEY}.audio_encoding_args.num_mel_bins"] = "audio_config.num_mel_bins"
    text_keys = {**_HF_AUDIO, "vocab_size": "vocab_size"}
    top = _from_hf(text, "text_config", "", text_keys, names, source)
    top["tied_embeddings"] = data.get("tie_word_embeddings")
    names["tied_embeddings"] = "tie_word_embeddings"
    # transformers hard-codes the ada-norm bottleneck at 32.
    top["ada_rms_norm_t_cond_dim"] = 32
    down = f"{ENCODER_KEY.rsplit('.', 1)[0]}.downsample_args.downsample_factor"
    names[down] = "downsample_factor"
    top["multimodal"] = {
        "whisper_model_args": {
            "encoder_args": enc,
            "downsample_args": {"downsample_factor": data.get("downsample_factor")},
        }
    }
    return top, names


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
    is_nested = isinstance(rp, dict) and rp.get("rope_theta") is not None
    out["rope_theta"] = rp["rope_theta"] if is_nested else d.get("rope_theta")
    theta = "rope_parameters.rope_theta" if is_nested or "rope_theta" not in d else "rope_theta"
    names[f"{ours}.rope_theta" if ours else "rope_theta"] = f"{where}.{theta}"
    if out["rope_theta"] is None:  # required here though params.json has a default
        raise ConfigError(f"{source}: missing '{where}.rope_parameters.rope_theta'")
    return out


# ---- relations between keys ---------------------------------------------------------------
def check_consistency(cfg, reader: Reader) -> None:
    """Relations between keys of a built ``ModelConfig`` that each look valid alone; all before
    any allocation."""
    for prefix, args in (("", cfg), (ENCODER_KEY + ".", cfg.encoder)):
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


def _check_front_end(cfg, reader: Reader) -> None:
    """mel.py computes Voxtral Realtime's log-mel only: other values would load and then
    transcribe from the wrong spectrogram, silently."""
    audio = cfg.audio
    for name, value in FRONT_END.items():
        got = getattr(audio, name)
        if got != value:
            raise reader.fail(
                f"{ENCODER_KEY}.audio_encoding_args.{name}",
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
