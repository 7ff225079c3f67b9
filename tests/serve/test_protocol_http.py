"""The HTTP bodies (voxtral_mlx/serve/protocol_http.py): the transcription endpoint's form and
every response_format, read back with independent parsers (srt, webvtt-py, json), and vLLM's
error and model-list shapes (docs/realtime-protocol.md)."""

from __future__ import annotations

import io
import json

import pytest
import srt
import webvtt

from voxtral_mlx.serve.protocol_http import (
    RESPONSE_FORMATS,
    RequestError,
    TranscriptionForm,
    http_error,
    model_list,
    parse_transcription_form,
    transcription_body,
)
from voxtral_mlx.text.transcript import Transcript, Word

WORDS = [Word("Mary", 0.32, 0.64), Word("had", 0.72, 0.88), Word("a", 0.96, 1.04),
         Word("little", 1.12, 1.44), Word("lamb.", 1.52, 2.0), Word("Its", 3.6, 3.84),
         Word("fleece", 3.92, 4.24), Word("was", 4.32, 4.48), Word("white.", 4.56, 5.0)]  # fmt: skip
TRANSCRIPT = Transcript.from_words(WORDS, duration=5.2)


def body(fmt: str, granularities=("segment",)):
    form = TranscriptionForm(response_format=fmt, granularities=tuple(granularities))
    return transcription_body(TRANSCRIPT, form)


def test_form_defaults_and_repeated_fields():
    assert parse_transcription_form({}) == TranscriptionForm("", None, "json", ("segment",))
    form = parse_transcription_form(
        {"model": "voxtral", "language": "en", "response_format": "verbose_json",
         "timestamp_granularities[]": ["word", "segment"], "temperature": "0.2", "prompt": "x"}
    )  # fmt: skip
    assert form == TranscriptionForm("voxtral", "en", "verbose_json", ("word", "segment"))
    assert parse_transcription_form({"timestamp_granularities[]": "word"}).granularities == (
        "word",
    )
    assert parse_transcription_form({"stream": "false", "language": ""}).language is None


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"response_format": "xml"}, "response_format"),
        ({"response_format": "JSON"}, "response_format"),
        ({"timestamp_granularities[]": ["word", "char"]}, "timestamp_granularities"),
        ({"stream": "true"}, "stream"),
    ],
)
def test_form_refusals_name_the_field(fields, param):
    with pytest.raises(RequestError) as info:
        parse_transcription_form(fields)
    error = info.value.body()["error"]
    assert info.value.status == 400 and error["param"] == param and error["code"] == 400
    assert error["type"] == "BadRequestError" and "\n" not in error["message"]


def test_json_and_text():
    data, media = body("json")
    assert media == "application/json"
    assert json.loads(json.dumps(data)) == {
        "text": "Mary had a little lamb. Its fleece was white.",
        "usage": {"type": "duration", "seconds": 6},
    }
    text, media = body("text")
    assert media == "text/plain" and text.replace("\n", " ").split() == [w.text for w in WORDS]


def test_srt_and_vtt_parse_back_with_the_words_times():
    text, media = body("srt")
    cues = list(srt.parse(text))
    assert media == "application/x-subrip" and cues[0].start.total_seconds() == 0.32
    assert cues[-1].end.total_seconds() == 5.0
    assert " ".join(c.content.replace("\n", " ") for c in cues) == TRANSCRIPT.text
    text, media = body("vtt")
    captions = webvtt.from_buffer(io.StringIO(text))
    assert media == "text/vtt" and captions[0].start == "00:00:00.320"
    assert " ".join(c.text.replace("\n", " ") for c in captions) == TRANSCRIPT.text


def test_verbose_json_words_and_segments():
    data, _ = body("verbose_json", ["word"])
    assert data["words"] == [{"word": w.text, "start": w.start, "end": w.end} for w in WORDS]
    assert "segments" not in data and data["duration"] == 5.2 and data["language"] == "unknown"
    assert data["text"] == TRANSCRIPT.text and data["task"] == "transcribe"
    data, _ = body("verbose_json")
    assert "words" not in data
    assert [(s["id"], s["start"], s["end"]) for s in data["segments"]] == [
        (i, s.start, s.end) for i, s in enumerate(TRANSCRIPT.segments)
    ]
    assert json.loads(json.dumps(data)) == data


def test_every_format_answers():
    for fmt in RESPONSE_FORMATS:
        content, media = body(fmt)
        assert content and media


def test_error_and_model_list_shapes():
    assert http_error("The model `x` does not exist.", 404, "model") == {
        "error": {"message": "The model `x` does not exist.", "type": "NotFoundError",
                  "param": "model", "code": 404}
    }  # fmt: skip
    assert http_error("busy", 503)["error"]["type"] == "ServiceUnavailableError"
    assert http_error("slow", 429)["error"]["type"] == "TooManyRequestsError"
    models = model_list(["voxtral-mini", "mistralai/Voxtral-Mini-4B-Realtime-2602"], created=7)
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == [
        "voxtral-mini",
        "mistralai/Voxtral-Mini-4B-Realtime-2602",
    ]
    assert all(m["object"] == "model" and m["created"] == 7 for m in models["data"])
