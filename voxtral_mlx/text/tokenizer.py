"""Tekken tokenizer (decode only) and a streaming detokenizer that never splits a character.

``tekken.json`` holds ``config`` (vocab size, number of special tokens), ``special_tokens``
(``{rank, token_str, is_control}``), ``vocab`` (``{rank, token_bytes: base64, token_str}``) and an
``audio`` block (sample rate, transcription delay, left padding). Ids below ``num_special`` are
special tokens and carry no text; id ``i >= num_special`` is the raw byte string
``vocab[i - num_special]``, and vocab ranks 0..255 are the 256 single bytes (byte fallback), so a
multi-byte character can be spread over several tokens.

Decoding concatenates the byte pieces of all non-special ids (specials in between do not break a
character) and decodes UTF-8 with ``errors="replace"``. Encoding is not needed for transcription.
"""

from __future__ import annotations

import base64
import binascii
import codecs
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

from voxtral_mlx.config import finite_number as _finite
from voxtral_mlx.errors import TokenizerError
from voxtral_mlx.fs.json_file import read_json_object
from voxtral_mlx.protocol import (
    DELAY_STEP_MS,
    MAX_DELAY_MS,
    MIN_DELAY_MS,
    SAMPLE_RATE,
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
    """The ``audio`` block of tekken.json; defaults are the Voxtral Realtime values (spec §3)."""

    sampling_rate: int = SAMPLE_RATE
    frame_rate: float = 12.5  # decoder tokens per second of audio
    transcription_delay_ms: float = 480
    streaming_n_left_pad_tokens: int = 32
    streaming_look_ahead_ms: float = 2.5
    streaming_look_back_ms: float = 52.5
    num_mel_bins: int = 128
    hop_length: int = 160
    window_size: int = 400

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
        values = {}
        for field in fields(cls):
            value = merged.get(field.name)
            if value is not None:
                values[field.name] = _audio_value(field.name, value, where)
        return cls(**values)


# audio-block key -> (kind, lowest, highest): "int" a whole number, "ms"/"rate" a finite number.
_AUDIO_RULES = {
    "sampling_rate": ("int", 1, 768_000),
    "frame_rate": ("rate", 0, 1000),
    "streaming_n_left_pad_tokens": ("int", 0, 4096),
    "streaming_look_ahead_ms": ("ms", 0, 60_000),
    "streaming_look_back_ms": ("ms", 0, 60_000),
    "num_mel_bins": ("int", 1, 1024),
    "hop_length": ("int", 1, 1 << 16),
    "window_size": ("int", 1, 1 << 16),
}


def _audio_value(name: str, value: Any, where: str) -> int | float:
    """One ``audio`` value checked: an error names tekken.json and the key (never --delay-ms)."""
    key = f"{where}: 'audio.{name}'"
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise TokenizerError(f"{key} is not a number: {str(value)[:40]!r}")
    if name == "transcription_delay_ms":
        if not valid_delay_ms(value):
            raise TokenizerError(
                f"{key} must be a multiple of {DELAY_STEP_MS} ms from {MIN_DELAY_MS} to "
                f"{MAX_DELAY_MS}, got {value:g}"
            )
        return value
    kind, low, high = _AUDIO_RULES[name]
    if kind == "int" and not isinstance(value, int):
        raise TokenizerError(f"{key} must be a whole number, got {value!r}")
    # A rate must be above zero (it divides); counts and spans may be zero where low is 0.
    if not (low < value if kind == "rate" else low <= value) or value > high:
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


class TextPiece(NamedTuple):
    """What one pushed token produced.

    ``text``: the text that became complete with this token (may be ``""``).
    ``word_start``: a new word starts at this token; its text is ``text`` plus what later pushes
    return until the next ``word_start``.
    """

    text: str
    word_start: bool


class StreamingDetokenizer:
    """Turns ids into text one id at a time, for live captions. Not thread-safe.

    Contract: ``"".join(push(i) for i in ids) + flush() == tokenizer.decode(ids)`` for any ids.
    A character split across tokens is held (at most 3 bytes) until complete, so no U+FFFD is
    emitted for it; bytes that can never form a character become U+FFFD as soon as that is
    certain, exactly as ``decode`` replaces them.

    Word boundaries: ``push_event`` reports ``word_start`` for a ``[STREAMING_WORD]`` id, for a
    text piece starting with whitespace, and for the first text after creation or ``flush()``.
    A boundary right after another one (no non-whitespace text in between, e.g.
    ``[STREAMING_WORD]`` followed by ``" Hello"``) is not reported twice.
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer
        self._word_id = tokenizer.streaming_word_id
        self._reset()

    def _reset(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._seen_text = False
        self._word_is_empty = False  # a boundary was reported and no non-space text came since

    def push(self, token_id: int) -> str:
        """Text completed by ``token_id`` (see class docstring)."""
        return self.push_event(token_id).text

    def push_event(self, token_id: int) -> TextPiece:
        """Text completed by ``token_id`` and whether a new word starts at it."""
        if token_id == self._word_id:
            return TextPiece("", self._boundary())
        piece = self._tokenizer.token_bytes(token_id)
        if not piece:
            return TextPiece("", False)
        starts = piece[:1].isspace() or not self._seen_text
        word_start = self._boundary() if starts else False
        self._seen_text = True
        if piece.strip():
            self._word_is_empty = False
        return TextPiece(self._utf8.decode(piece), word_start)

    def flush(self) -> str:
        """End of stream: held bytes of an unfinished character become U+FFFD; state resets."""
        text = self._utf8.decode(b"", final=True)
        self._reset()
        return text

    def _boundary(self) -> bool:
        if self._word_is_empty:
            return False
        self._word_is_empty = True
        return True


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
