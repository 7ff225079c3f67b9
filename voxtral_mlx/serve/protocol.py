"""vLLM's realtime transcription protocol (WebSocket ``/v1/realtime``) as pure Python.

:func:`parse_client_message` turns one client message into a typed event (:class:`SessionUpdate`,
:class:`AudioAppend`, :class:`Commit`) or raises :class:`ProtocolError`, whose :meth:`~ProtocolError.event`
is the error event to send back; :func:`session_created`, :func:`transcription_delta`,
:func:`transcription_done` and :func:`error_event` build the server's events as dicts ready for
``json.dumps``. No MLX, no network, no clock but :func:`session_created`'s default. The facts behind
every name, field and code (vLLM's files and commits) are in docs/realtime-protocol.md; the
per-connection rules (commit before audio, final commit, ...) are in :mod:`.protocol_session`.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxtral_mlx.protocol import SAMPLE_RATE

REALTIME_PATH = "/v1/realtime"
AUDIO_SAMPLE_RATE = SAMPLE_RATE  # the protocol's audio: PCM16, mono, 16 kHz, little-endian
# The name vLLM's example clients send in session.update unless told otherwise (their --model).
VLLM_MODEL_ID = "mistralai/Voxtral-Mini-4B-Realtime-2602"
# vLLM decodes PCM16 as int16 / 32768 in float32: exact for every int16 value.
PCM16_SCALE = 32768.0
# The largest client message parsed, in UTF-8 bytes. 1 MiB holds 786 kB of PCM16, 24.5 s of
# audio in one append: ~190x what vLLM's file client sends per message (4096 bytes of PCM,
# 128 ms, 5.6 kB of JSON); a live client sends 20-500 ms. A session's queue of N messages then
# holds at most N MiB, whatever the client does.
MAX_MESSAGE_BYTES = 1 << 20
# The transport's own cap (uvicorn --ws-max-size, websockets max_size): above it the socket is
# closed with 1009; between the two the client gets a message_too_large error and may go on.
TRANSPORT_MAX_BYTES = 4 * MAX_MESSAGE_BYTES


class ErrorCode:
    """The ``code`` of an error event: vLLM's own first (its connection.py), then ours."""

    INVALID_JSON = "invalid_json"
    UNKNOWN_EVENT = "unknown_event"
    INVALID_EVENT = "invalid_event"  # vLLM: a session.update without "model"; ours: any bad field
    INVALID_AUDIO = "invalid_audio"
    MODEL_NOT_FOUND = "model_not_found"
    MODEL_NOT_VALIDATED = "model_not_validated"
    PROCESSING_ERROR = "processing_error"
    # Ours: vLLM has no such limit or state.
    MESSAGE_TOO_LARGE = "message_too_large"
    BUFFER_FULL = "input_audio_buffer_full"
    TOO_MANY_STREAMS = "too_many_streams"
    CLIENT_TOO_SLOW = "client_too_slow"


class ProtocolError(Exception):
    """A client message the server refuses: ``code`` (an :class:`ErrorCode`) and a one-line
    ``message`` saying what was wrong and what to send instead. The connection stays open."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def event(self) -> dict[str, Any]:
        return error_event(self.message, self.code)


@dataclass(frozen=True)
class SessionUpdate:
    """``session.update``: the model name to check (``""``: the served one, as in vLLM) and the
    optional ``language`` / ``prompt`` hints vLLM's newer client sends (Voxtral Realtime has no
    use for them; they are kept so a caller may log them)."""

    model: str
    language: str | None = None
    prompt: str | None = None


@dataclass(frozen=True, eq=False)
class AudioAppend:
    """``input_audio_buffer.append``: the decoded audio, float32 mono at 16 kHz in [-1, 1)."""

    samples: np.ndarray


@dataclass(frozen=True)
class Commit:
    """``input_audio_buffer.commit``: ``final`` False starts an utterance (vLLM: "ready"), True
    says its audio has ended."""

    final: bool = False


ClientEvent = SessionUpdate | AudioAppend | Commit


def parse_client_message(message: str | bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> ClientEvent:
    """One client message (a text frame; a binary frame holding UTF-8 JSON is read the same way)
    as a typed event. Raises :class:`ProtocolError`: message_too_large above ``max_bytes`` (UTF-8
    bytes, checked before parsing), invalid_json, invalid_event (not an object, a missing or
    ill-typed field), unknown_event (``type`` missing or not one of the three), invalid_audio
    (not base64, empty, an odd number of bytes). Unknown extra fields are ignored, as in vLLM."""
    size = message_size(message, max_bytes)
    if size > max_bytes:
        raise ProtocolError(
            ErrorCode.MESSAGE_TOO_LARGE,
            f"message of {size} bytes is over the {max_bytes}-byte limit: send audio in "
            "smaller input_audio_buffer.append chunks (0.1-1 s each)",
        )
    data = _load_object(message)
    kind = data.get("type")
    parse = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parse is None:
        raise ProtocolError(
            ErrorCode.UNKNOWN_EVENT,
            f"Unknown event type: {kind!r}; this server takes {', '.join(_PARSERS)}",
        )
    return parse(data)


def message_size(message: str | bytes, limit: int = MAX_MESSAGE_BYTES) -> int:
    """UTF-8 size of ``message``; without encoding when the answer is clear (ASCII text is one
    byte a character; text longer than ``limit`` characters is over it in any encoding)."""
    if isinstance(message, (bytes, bytearray, memoryview)):
        return len(message)
    if message.isascii() or len(message) > limit:
        return len(message)
    return len(message.encode("utf-8", "surrogatepass"))


def _load_object(message: str | bytes) -> dict[str, Any]:
    try:
        data = json.loads(message)
    except json.JSONDecodeError as err:
        raise ProtocolError(
            ErrorCode.INVALID_JSON,
            f"Invalid JSON: {err.msg} at line {err.lineno} column {err.colno}",
        ) from err
    except (ValueError, RecursionError) as err:  # not UTF-8, nesting or a number too deep
        raise ProtocolError(ErrorCode.INVALID_JSON, f"Invalid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ProtocolError(
            ErrorCode.INVALID_EVENT,
            f'an event is a JSON object with a "type", not a {type(data).__name__}',
        )
    return data


def _session_update(data: dict[str, Any]) -> SessionUpdate:
    model = data.get("model")
    if model is None:
        raise ProtocolError(
            ErrorCode.INVALID_EVENT,
            'session.update: missing required field "model" (a name GET /v1/models lists)',
        )
    if not isinstance(model, str):
        raise ProtocolError(ErrorCode.INVALID_EVENT, 'session.update: "model" must be a string')
    return SessionUpdate(model, _optional_str(data, "language"), _optional_str(data, "prompt"))


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ProtocolError(
            ErrorCode.INVALID_EVENT, f'{data["type"]}: "{key}" must be a string or null'
        )
    return value


def _append(data: dict[str, Any]) -> AudioAppend:
    audio = data.get("audio")
    if not isinstance(audio, str):
        raise ProtocolError(
            ErrorCode.INVALID_EVENT,
            'input_audio_buffer.append: "audio" must be a string: base64 of PCM16 '
            "(16 kHz, mono, little-endian)",
        )
    return AudioAppend(decode_pcm16(audio))


# pydantic's lax bool (vLLM's InputAudioBufferCommit.final) also takes these strings.
_BOOL_WORDS = {"1": True, "true": True, "t": True, "yes": True, "y": True, "on": True,
               "0": False, "false": False, "f": False, "no": False, "n": False, "off": False}  # fmt: skip


def _commit(data: dict[str, Any]) -> Commit:
    final = data.get("final", False)
    if isinstance(final, bool):
        return Commit(final)
    if isinstance(final, int) and final in (0, 1):
        return Commit(bool(final))
    if isinstance(final, str) and final.strip().lower() in _BOOL_WORDS:
        return Commit(_BOOL_WORDS[final.strip().lower()])
    raise ProtocolError(
        ErrorCode.INVALID_EVENT,
        f'input_audio_buffer.commit: "final" must be true or false, not {final!r}',
    )


_PARSERS: dict[str, Callable[[dict[str, Any]], ClientEvent]] = {
    "session.update": _session_update,
    "input_audio_buffer.append": _append,
    "input_audio_buffer.commit": _commit,
}


def decode_pcm16(text: str) -> np.ndarray:
    """Base64 PCM16 (little-endian) -> float32 samples, ``int16 / 32768`` exactly as vLLM does.

    Strict base64 (standard alphabet, ``=`` padding); whitespace such as line breaks is
    ignored, as RFC 4648 allows and vLLM's decoder does. Raises :class:`ProtocolError`
    (invalid_audio) for anything else, for empty audio and for an odd number of bytes."""
    raw = _b64decode(text)
    if not raw:
        raise ProtocolError(ErrorCode.INVALID_AUDIO, "Invalid audio data: the chunk is empty")
    if len(raw) % 2:
        raise ProtocolError(
            ErrorCode.INVALID_AUDIO,
            f"Invalid audio data: {len(raw)} bytes is not a whole number of PCM16 samples",
        )
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32)
    samples /= np.float32(PCM16_SCALE)
    return samples


def _b64decode(text: str) -> bytes:
    decoded = _strict_b64(text)
    if decoded is None:
        compact = "".join(text.split())  # a second pass only for text holding whitespace
        decoded = _strict_b64(compact) if compact != text else None
    if decoded is not None:
        return decoded
    raise ProtocolError(
        ErrorCode.INVALID_AUDIO,
        'Invalid audio data: "audio" is not base64 (standard alphabet A-Z a-z 0-9 + /, "=" padding)',
    )


def _strict_b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):  # ValueError: a non-ASCII character
        return None


def encode_pcm16(samples: np.ndarray) -> str:
    """Float samples -> base64 PCM16 (little-endian): ``round(x * 32768)`` clipped to int16, so
    ``decode_pcm16(encode_pcm16(x)) == x`` for every ``x`` that :func:`decode_pcm16` gives.
    (vLLM's example client writes ``int16(x * 32767)`` instead, truncating: a -0.0003 dB gain.)
    Raises ValueError for NaN or infinite samples."""
    values = np.asarray(samples, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("audio samples must be finite to encode as PCM16")
    ints = np.clip(np.rint(values * PCM16_SCALE), -32768, 32767).astype("<i2")
    return base64.b64encode(ints.tobytes()).decode("ascii")


def check_model(requested: str, served: Collection[str]) -> None:
    """vLLM's rule for session.update: an empty name means the served model, any other must be
    one the server serves. Raises :class:`ProtocolError` (model_not_found) naming them."""
    if requested and requested not in served:
        names = ", ".join(sorted(served)) or "none"
        raise ProtocolError(
            ErrorCode.MODEL_NOT_FOUND,
            f"The model `{requested}` does not exist here; this server serves: {names}",
        )


def new_session_id() -> str:
    """``sess-`` and 16 hex digits, the shape of vLLM's session ids."""
    return f"sess-{secrets.token_hex(8)}"


def session_created(session_id: str | None = None, created: int | None = None) -> dict[str, Any]:
    """The first event on every connection: ``id`` (a new one by default) and ``created``
    (Unix seconds, now by default)."""
    return {
        "type": "session.created",
        "id": session_id or new_session_id(),
        "created": int(time.time()) if created is None else int(created),
    }


def transcription_delta(delta: str, token: Any = None) -> dict[str, Any]:
    """New text of the open utterance; the deltas joined are the done event's ``text``.
    ``token`` (a TokenEvent, ours only): also its ``token_id``, audio ``start``/``end`` in
    seconds and ``word_start``, extra fields vLLM's clients ignore (its models allow extra fields) and ours read
    for exact word times and ids."""
    event: dict[str, Any] = {"type": "transcription.delta", "delta": delta}
    if token is not None:
        event.update(token_id=token.token_id, start=token.start, end=token.end,
                     word_start=token.word_start)  # fmt: skip
    return event


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """vLLM's ``UsageInfo`` with its key order: the prompt (BOS and streaming pads: 39 at the
    default 480 ms delay) and the tokens generated (one per 80 ms decoder step)."""
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
        "prompt_tokens_details": None,
    }


def transcription_done(
    text: str, prompt_tokens: int = 0, completion_tokens: int = 0
) -> dict[str, Any]:
    """The end of an utterance: its full ``text`` (all its deltas joined) and ``usage``."""
    return {
        "type": "transcription.done",
        "text": text,
        "usage": usage(prompt_tokens, completion_tokens),
    }


def error_event(message: str, code: str | None = None) -> dict[str, Any]:
    """vLLM's error event: ``error`` is the message (a string, not an object), ``code`` an
    :class:`ErrorCode` or None."""
    return {"type": "error", "error": message, "code": code}


def dumps(event: dict[str, Any]) -> str:
    """An event as compact JSON text, non-ASCII kept as UTF-8 (as pydantic writes it)."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))
