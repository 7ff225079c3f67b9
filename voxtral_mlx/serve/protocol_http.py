"""The HTTP side of the server as pure Python: the OpenAI-style bodies vLLM serves beside
``/v1/realtime`` (``GET /v1/models``, ``POST /v1/audio/transcriptions``, errors).

:func:`parse_transcription_form` reads the upload's form fields (the file itself is the app's);
:func:`transcription_body` answers in each ``response_format`` from a finished
:class:`~voxtral_mlx.text.transcript.Transcript`, txt / srt / vtt through the very writers the
command line uses, so a file transcribed either way reads the same. Facts and sources:
docs/realtime-protocol.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from voxtral_mlx.text.transcript import Transcript
from voxtral_mlx.text.writers import srt_text, txt_text, vtt_text

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
MODELS_PATH = "/v1/models"
HEALTH_PATH = "/health"  # 200 with an empty body when up; never behind the API key (vLLM too)
RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
GRANULARITIES = ("word", "segment")
# vLLM's answer to a missing or wrong "Authorization: Bearer <key>" on a /v1 path: 401 and this
# body (a plain string, unlike every other error).
UNAUTHORIZED_BODY = {"error": "Unauthorized"}
_MEDIA = {"text": "text/plain", "srt": "application/x-subrip", "vtt": "text/vtt"}


class RequestError(Exception):
    """A request refused with ``status``; :meth:`body` is the OpenAI-style error JSON."""

    def __init__(self, message: str, status: int = 400, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.param = message, status, param

    def body(self) -> dict[str, Any]:
        return http_error(self.message, self.status, self.param)


def http_error(message: str, status: int = 400, param: str | None = None) -> dict[str, Any]:
    """vLLM's ``ErrorResponse``: ``{"error": {message, type, param, code}}``, ``code`` the HTTP
    status as a number and ``type`` its OpenAI error class (``NotFoundError`` for 404...)."""
    kinds = {400: "BadRequestError", 404: "NotFoundError", 413: "RequestTooLargeError",
             503: "ServiceUnavailableError"}  # fmt: skip
    kind = kinds.get(status) or HTTPStatus(status).phrase.replace(" ", "") + "Error"
    return {"error": {"message": message, "type": kind, "param": param, "code": status}}


def model_list(model_ids: Iterable[str], created: int, max_model_len: int | None = None) -> dict:
    """``GET /v1/models``: vLLM's ``ModelList`` (clients read ``data[i].id``)."""
    cards = [
        {"id": model_id, "object": "model", "created": created, "owned_by": "voxtral-mlx",
         "root": model_id, "parent": None, "max_model_len": max_model_len, "permission": []}
        for model_id in model_ids
    ]  # fmt: skip
    return {"object": "list", "data": cards}


@dataclass(frozen=True)
class TranscriptionForm:
    """The form fields of ``POST /v1/audio/transcriptions`` this server reads (``prompt``,
    ``temperature`` and vLLM's sampling extras are accepted and ignored: decoding is greedy)."""

    model: str = ""
    language: str | None = None
    response_format: str = "json"
    granularities: tuple[str, ...] = ("segment",)


def parse_transcription_form(fields: Mapping[str, str | Sequence[str]]) -> TranscriptionForm:
    """The form's text fields (one value, or the list a repeated field gives, as in
    ``timestamp_granularities[]=word&timestamp_granularities[]=segment``). Raises RequestError
    (400, naming the field) for an unknown response_format or granularity, and for
    ``stream=true`` (the streaming form of this endpoint is not served: use /v1/realtime)."""
    response_format = _one(fields, "response_format") or "json"
    if response_format not in RESPONSE_FORMATS:
        raise RequestError(
            f"response_format {response_format!r} is not one of {', '.join(RESPONSE_FORMATS)}",
            param="response_format",
        )
    if (_one(fields, "stream") or "false").strip().lower() in ("true", "1", "yes", "on"):
        raise RequestError(
            "stream=true is not served here: stream over /v1/realtime", param="stream"
        )
    granularities = tuple(_all(fields, "timestamp_granularities[]")) or tuple(
        _all(fields, "timestamp_granularities")
    )
    for granularity in granularities:
        if granularity not in GRANULARITIES:
            raise RequestError(
                f"timestamp granularity {granularity!r} is not one of word, segment",
                param="timestamp_granularities",
            )
    return TranscriptionForm(
        model=_one(fields, "model") or "",
        language=_one(fields, "language") or None,
        response_format=response_format,
        granularities=granularities or ("segment",),  # OpenAI's default
    )


def _all(fields: Mapping[str, str | Sequence[str]], key: str) -> list[str]:
    value = fields.get(key)
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(item) for item in value]


def _one(fields: Mapping[str, str | Sequence[str]], key: str) -> str | None:
    values = _all(fields, key)
    return values[-1] if values else None


def transcription_body(
    transcript: Transcript, form: TranscriptionForm
) -> tuple[str | dict[str, Any], str]:
    """(body, media type) for ``form.response_format``: json and verbose_json as dicts for a
    JSON response, text / srt / vtt as the command line's txt / srt / vtt files' text."""
    fmt = form.response_format
    if fmt == "json":
        return {
            "text": transcript.text,
            "usage": duration_usage(transcript.duration),
        }, "application/json"
    if fmt == "verbose_json":
        return verbose_json(transcript, form), "application/json"
    writer = {"text": txt_text, "srt": srt_text, "vtt": vtt_text}[fmt]
    return writer(transcript), _MEDIA[fmt]


def duration_usage(seconds: float) -> dict[str, Any]:
    """The json format's ``usage`` as vLLM gives it: the audio's seconds, rounded up."""
    return {"type": "duration", "seconds": math.ceil(seconds)}


def verbose_json(transcript: Transcript, form: TranscriptionForm) -> dict[str, Any]:
    """OpenAI's ``TranscriptionVerbose``: ``duration`` in seconds (a number: vLLM writes a
    string), ``words`` [{word, start, end}] when asked for, ``segments`` [{id, seek, start, end,
    text, tokens, temperature}] when asked for (the default). Whisper's per-segment log
    probabilities are not computed, so those keys are left out."""
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": form.language or "unknown",
        "duration": transcript.duration,
        "text": transcript.text,
    }
    if "segment" in form.granularities:
        body["segments"] = [
            {"id": index, "seek": 0, "start": segment.start, "end": segment.end,
             "text": segment.text, "tokens": [], "temperature": 0.0}
            for index, segment in enumerate(transcript.segments)
        ]  # fmt: skip
    if "word" in form.granularities:
        body["words"] = [
            {"word": word.text, "start": word.start, "end": word.end} for word in transcript.words
        ]
    return body
