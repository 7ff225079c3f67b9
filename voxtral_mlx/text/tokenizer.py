"""Tekken tokenizer, decode only (text as tokens arrive: :mod:`voxtral_mlx.text.detokenizer`).

``tekken.json`` holds ``config`` (vocab size, number of special tokens), ``special_tokens``
(``{rank, token_str, is_control}``), ``vocab`` (``{rank, token_bytes: base64, token_str}``) and
an ``audio`` block (transcription delay, left padding, spectrogram settings). Ids below
``num_special`` are special tokens and carry no text; id ``i >= num_special`` is the raw byte
string ``vocab[i - num_special]``, and vocab ranks 0..255 are the 256 single bytes (byte
fallback), so a multi-byte character can be spread over several tokens.

Decoding concatenates the byte pieces of all non-special ids (specials in between do not break a
character) and decodes UTF-8 with ``errors="replace"``. Encoding is not needed for transcription.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voxtral_mlx.config import AudioEncodingArgs
from voxtral_mlx.config_reader import Reader, finite_number
from voxtral_mlx.errors import ConfigError, TokenizerError
from voxtral_mlx.fs.json_file import read_json_object
from voxtral_mlx.protocol import (
    DEFAULT_DELAY_MS,
    DEFAULT_LEFT_PAD_TOKENS,
    DELAY_STEP_MS,
    MAX_DELAY_MS,
    MIN_DELAY_MS,
    valid_delay_ms,
)

TOKENIZER_FILE = "tekken.json"
MAX_VOCAB = 1 << 22  # 32x Voxtral's 131072

# Ids of the tokens the realtime protocol needs, used only when a tekken.json does not name them:
# files without a special_tokens list (mistral-common then uses its built-in table, which has the
# same <s>/</s>) must still load, and these ids agree across every port (model-spec §3).
_FALLBACK_IDS = {"<s>": 1, "</s>": 2, "[STREAMING_PAD]": 32, "[STREAMING_WORD]": 33}


@dataclass(frozen=True)
class AudioSettings:
    """tekken.json's ``audio`` block; defaults are the Voxtral Realtime values (spec §3).

    The stream's default delay and padding are facts of this file alone. Its spectrogram keys
    (sampling and frame rate, mel bins, hop, window) describe the same front end as the model
    config's ``audio_encoding_args``, so they are read into that type, by the config's rules.
    """

    transcription_delay_ms: float = DEFAULT_DELAY_MS
    streaming_n_left_pad_tokens: int = DEFAULT_LEFT_PAD_TOKENS
    streaming_look_ahead_ms: float = 2.5
    streaming_look_back_ms: float = 52.5
    encoding: AudioEncodingArgs = field(default_factory=AudioEncodingArgs)

    @classmethod
    def from_json(cls, block: Any, where: str) -> AudioSettings:
        """Read the block; missing or null keys keep their defaults, other keys are ignored."""
        if block is None:
            return cls()
        if not isinstance(block, dict):
            raise TokenizerError(f"{where}: 'audio' is not an object")
        # mistral-common writes the spectrogram settings as "audio_encoding_config"; its
        # AudioConfig calls them "encoding_config". Accept either, or neither.
        spectrogram = block.get("audio_encoding_config") or block.get("encoding_config") or {}
        if not isinstance(spectrogram, dict):
            raise TokenizerError(f"{where}: 'audio.audio_encoding_config' is not an object")
        merged = {**spectrogram, **block}
        values = {
            name: _stream_value(name, merged[name], where)
            for name in _STREAM_RULES
            if merged.get(name) is not None
        }
        try:
            encoding = Reader(where).build(AudioEncodingArgs, merged, "audio")
        except ConfigError as e:  # names tekken.json and the key, like the checks below
            raise TokenizerError(str(e)) from e
        return cls(**values, encoding=encoding)


# The stream's keys -> (kind, lowest, highest): "int" a whole number, "ms" a finite number;
# None: the delay, whose rule is the protocol's.
_STREAM_RULES = {
    "transcription_delay_ms": None,
    "streaming_n_left_pad_tokens": ("int", 0, 4096),
    "streaming_look_ahead_ms": ("ms", 0, 60_000),
    "streaming_look_back_ms": ("ms", 0, 60_000),
}


def _stream_value(name: str, value: Any, where: str) -> int | float:
    """One stream value checked: an error names tekken.json and the key (never --delay-ms)."""
    key = f"{where}: 'audio.{name}'"
    if isinstance(value, bool) or not isinstance(value, int | float) or not finite_number(value):
        raise TokenizerError(f"{key} is not a number: {str(value)[:40]!r}")
    if _STREAM_RULES[name] is None:
        if not valid_delay_ms(value):
            raise TokenizerError(
                f"{key} must be a multiple of {DELAY_STEP_MS} ms from {MIN_DELAY_MS} to "
                f"{MAX_DELAY_MS}, got {value:g}"
            )
        return value
    kind, low, high = _STREAM_RULES[name]
    if kind == "int" and not isinstance(value, int):
        raise TokenizerError(f"{key} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise TokenizerError(f"{key} must be from {low} to {high}, got {value:g}")
    return value


class Tokenizer:
    """Tekken vocabulary: special-token names, byte pieces, decode. Immutable after loading."""

    def __init__(
        self,
        pieces: list[bytes],
        special_names: list[str],
        audio: AudioSettings,
        path: Path | None = None,
    ) -> None:
        """``pieces[i]`` is the byte string of id ``i`` (``b""`` for the specials)."""
        self._pieces = pieces
        self._special_names = special_names
        self._special_ids = {name: rank for rank, name in enumerate(special_names)}
        self.audio = audio
        self.path = path

    @classmethod
    def from_file(cls, path: str | Path) -> Tokenizer:
        """Load ``tekken.json`` (or the one inside the folder ``path``); raise TokenizerError."""
        path = _resolve(Path(path))
        data = _read_json(path)
        where = str(path)
        config = _require(data, "config", dict, where)
        vocab_size = _require(config, "default_vocab_size", int, where, "config.")
        num_special = _require(config, "default_num_special_tokens", int, where, "config.")
        if vocab_size > MAX_VOCAB:  # checked before lists of that length are built
            raise TokenizerError(
                f"{where}: default_vocab_size={vocab_size} is more than the {MAX_VOCAB} ids "
                "a tekken.json may have"
            )
        if not 0 < num_special <= vocab_size:
            raise TokenizerError(
                f"{where}: default_num_special_tokens={num_special} does not fit "
                f"default_vocab_size={vocab_size}"
            )
        names = _read_special_names(data.get("special_tokens"), num_special, where)
        vocab = _require(data, "vocab", list, where)
        pieces = [b""] * num_special + _read_vocab(vocab, vocab_size - num_special, where)
        return cls(pieces, names, AudioSettings.from_json(data.get("audio"), where), path)

    @property
    def vocab_size(self) -> int:
        """Number of ids, specials included (131072 for Voxtral)."""
        return len(self._pieces)

    @property
    def num_special(self) -> int:
        """Ids ``0 .. num_special - 1`` are special tokens (1000 for Voxtral)."""
        return len(self._special_names)

    @property
    def bos_id(self) -> int:
        return self.special_id("<s>")

    @property
    def eos_id(self) -> int:
        return self.special_id("</s>")

    @property
    def streaming_pad_id(self) -> int:
        return self.special_id("[STREAMING_PAD]")

    @property
    def streaming_word_id(self) -> int:
        return self.special_id("[STREAMING_WORD]")

    def special_id(self, name: str) -> int:
        """Id of the special token ``name`` (e.g. ``"[STREAMING_PAD]"``); KeyError if unknown."""
        if name in self._special_ids:
            return self._special_ids[name]
        if name in _FALLBACK_IDS:
            return _FALLBACK_IDS[name]
        raise KeyError(f"no special token named {name!r} in {self.path}")

    def is_special(self, token_id: int) -> bool:
        """True for ids that carry no text (``< num_special``)."""
        return 0 <= token_id < self.num_special

    def token_bytes(self, token_id: int) -> bytes:
        """Raw bytes of one id: ``b""`` for specials; may be part of a UTF-8 character."""
        if not 0 <= token_id < len(self._pieces):
            raise TokenizerError(
                f"token id {token_id} is outside the {len(self._pieces)} ids of {self.path}; "
                "is this the model's own tekken.json?"
            )
        return self._pieces[token_id]

    def decode(self, ids: list[int]) -> str:
        """Text of ``ids``: specials skipped, byte pieces joined, UTF-8 with ``errors="replace"``.

        A character whose bytes are split by a special id still decodes whole (mistral-common
        decodes each run between specials separately and would give U+FFFD there).
        """
        return b"".join(self.token_bytes(i) for i in ids).decode("utf-8", errors="replace")


def _resolve(path: Path) -> Path:
    if path.is_dir():
        path = path / TOKENIZER_FILE
    if not path.is_file():
        raise TokenizerError(
            f"tokenizer file not found: {path} (the model folder needs tekken.json)"
        )
    return path


def _read_json(path: Path) -> dict:
    return read_json_object(path, TokenizerError)


def _require(obj: dict, key: str, kind: type, where: str, prefix: str = "") -> Any:
    if key not in obj:
        raise TokenizerError(f"{where} has no '{prefix}{key}'; is it a tekken.json?")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TokenizerError(f"{where}: '{prefix}{key}' is not a {kind.__name__}")
    return value


def _read_special_names(entries: Any, num_special: int, where: str) -> list[str]:
    """Names by rank; ranks the file leaves out get mistral-common's ``<SPECIAL_i>`` filler."""
    names = [f"<SPECIAL_{i}>" for i in range(num_special)]
    if entries is None:
        return names
    if not isinstance(entries, list):
        raise TokenizerError(f"{where}: 'special_tokens' is not a list")
    for entry in entries:
        try:
            rank, name = entry["rank"], entry["token_str"]
        except (TypeError, KeyError) as err:
            raise TokenizerError(
                f"{where}: special token without rank/token_str: {entry!r}"
            ) from err
        if not isinstance(rank, int) or not 0 <= rank < num_special or not isinstance(name, str):
            raise TokenizerError(
                f"{where}: bad special token {entry!r} ({num_special} special ids)"
            )
        names[rank] = name
    return names


def _read_vocab(vocab: list, size: int, where: str) -> list[bytes]:
    """Byte pieces of the first ``size`` vocab entries (the rest are unused by the model)."""
    if len(vocab) < size:
        raise TokenizerError(f"{where}: vocab has {len(vocab)} entries, the config needs {size}")
    pieces = []
    for i, entry in enumerate(vocab[:size]):
        try:
            rank, encoded = entry["rank"], entry["token_bytes"]
            piece = base64.b64decode(encoded, validate=True)
        except (TypeError, KeyError) as err:
            raise TokenizerError(f"{where}: vocab entry {i} lacks rank/token_bytes") from err
        except (binascii.Error, ValueError) as err:
            raise TokenizerError(f"{where}: vocab entry {i} has bad base64 token_bytes") from err
        if rank != i:
            raise TokenizerError(
                f"{where}: vocab entry {i} has rank {rank}; ranks must be 0, 1, ..."
            )
        if i < 256 and piece != bytes([i]):
            raise TokenizerError(
                f"{where}: vocab rank {i} must be the single byte {i} (byte fallback)"
            )
        pieces.append(piece)
    return pieces
