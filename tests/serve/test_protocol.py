"""vLLM's realtime protocol (voxtral_mlx/serve/protocol.py): every client message parses to its
event or to the error event vLLM's connection.py would send (docs/realtime-protocol.md), the
audio decodes as vLLM decodes it, and the server's events carry the fields vLLM's example client
reads. The example clients' message sequences are rebuilt here as those scripts build them."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from voxtral_mlx.serve import protocol as p
from voxtral_mlx.serve.protocol import (
    AudioAppend,
    Commit,
    ErrorCode,
    ProtocolError,
    SessionUpdate,
    parse_client_message,
)

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def append(audio: str) -> str:
    return json.dumps({"type": "input_audio_buffer.append", "audio": audio})


def refused(message, code: str, **kwargs) -> dict:
    """The error event a refused message gives, after checking it is one line of JSON."""
    with pytest.raises(ProtocolError) as info:
        parse_client_message(message, **kwargs)
    event = info.value.event()
    assert event == {"type": "error", "error": info.value.message, "code": code}
    assert "\n" not in event["error"] and event["error"]
    assert json.loads(p.dumps(event)) == event
    return event


# --- audio ----------------------------------------------------------------------------------


def test_pcm16_decodes_as_vllm_does():
    """int16 / 32768 in float32, little-endian: the extremes and one step are exact."""
    raw = np.array([-32768, -1, 0, 1, 32767], dtype="<i2").tobytes()
    samples = p.decode_pcm16(b64(raw))
    assert samples.dtype == np.float32
    assert samples.tolist() == [-1.0, -(2.0**-15), 0.0, 2.0**-15, 32767 / 32768]
    assert p.decode_pcm16(b64(b"\x00\x80")).tolist() == [-1.0]  # byte order: low byte first


def test_every_int16_round_trips_exactly():
    text = b64(ALL_INT16.astype("<i2").tobytes())
    samples = p.decode_pcm16(text)
    assert np.array_equal(samples.astype(np.float64) * 32768, ALL_INT16)
    assert p.encode_pcm16(samples) == text
    assert np.array_equal(p.decode_pcm16(p.encode_pcm16(samples)), samples)


def test_encode_rounds_and_clips():
    assert p.decode_pcm16(p.encode_pcm16(np.array([2.0, -2.0, 0.4 / 32768, 0.6 / 32768]))).tolist() == [
        32767 / 32768, -1.0, 0.0, 2.0**-15,
    ]  # fmt: skip
    with pytest.raises(ValueError):
        p.encode_pcm16(np.array([0.0, np.nan]))


def test_example_client_scaling_is_not_the_inverse():
    """vLLM's file client writes int16(x * 32767): a sample comes back truncated and scaled by
    32767/32768, within 2 steps of x, never equal to x for most values."""
    x = np.linspace(-1, 1, 1001)
    sent = (x * 32767).astype(np.int16)  # as openai_realtime_client.py converts
    got = p.decode_pcm16(b64(sent.tobytes())).astype(np.float64)
    assert np.max(np.abs(got - x)) < 2 / 32768
    assert np.mean(got == x) < 0.01


def test_base64_line_breaks_are_ignored():
    raw = np.arange(100, dtype="<i2").tobytes()
    wrapped = "\n".join(re.findall(".{1,76}", b64(raw))) + "\r\n"
    assert np.array_equal(p.decode_pcm16(wrapped), p.decode_pcm16(b64(raw)))


# --- the malformed messages issue 21 names, and their kin ----------------------------------------


@pytest.mark.parametrize(
    "message",
    ['{"type": "session.update", "model": "m"', "not json", "", "{'type': 'x'}", b"\xff\xfe{"],
)
def test_malformed_json(message):
    refused(message, ErrorCode.INVALID_JSON)


def test_deep_nesting_is_malformed_json_not_a_crash():
    refused("[" * 200_000 + "]" * 200_000, ErrorCode.INVALID_JSON)


@pytest.mark.parametrize(
    "audio",
    [
        "not base64!",
        "AAAA*AAA",
        "AAA",  # bad padding
        "A===",
        "-_-_",  # the URL-safe alphabet
        "AAAÀ",  # non-ASCII
        b64(b"\x01\x02").replace("=", "") + "=x",
    ],
)
def test_non_base64_audio(audio):
    event = refused(append(audio), ErrorCode.INVALID_AUDIO)
    assert "base64" in event["error"]


def test_empty_and_odd_length_audio():
    assert "empty" in refused(append(""), ErrorCode.INVALID_AUDIO)["error"]
    assert "3 bytes" in refused(append(b64(b"\x00\x01\x02")), ErrorCode.INVALID_AUDIO)["error"]


@pytest.mark.parametrize(
    "kind", ["response.create", "input_audio_buffer.clear", "", "SESSION.UPDATE"]
)
def test_unknown_event_type(kind):
    event = refused(json.dumps({"type": kind}), ErrorCode.UNKNOWN_EVENT)
    assert repr(kind) in event["error"] and "input_audio_buffer.append" in event["error"]


@pytest.mark.parametrize("data", [{}, {"type": None}, {"type": 3}, {"kind": "session.update"}])
def test_missing_or_odd_type_is_unknown(data):
    refused(json.dumps(data), ErrorCode.UNKNOWN_EVENT)


def test_huge_message():
    """Refused on its size before any parsing, at one byte over the limit and far over it."""
    raw = b64(bytes(600_000))
    message = append(raw)
    assert isinstance(parse_client_message(message), AudioAppend)  # 800 kB: under 1 MiB
    refused(message, ErrorCode.MESSAGE_TOO_LARGE, max_bytes=len(message) - 1)
    assert parse_client_message(message, max_bytes=len(message)).samples.size == 300_000
    event = refused("{" * (p.MAX_MESSAGE_BYTES + 1), ErrorCode.MESSAGE_TOO_LARGE)  # not even JSON
    assert str(p.MAX_MESSAGE_BYTES) in event["error"]


def test_size_counts_utf8_bytes():
    message = json.dumps({"type": "session.update", "model": "é" * 600}, ensure_ascii=False)
    assert len(message) < 1000 < len(message.encode())
    refused(message, ErrorCode.MESSAGE_TOO_LARGE, max_bytes=1000)
    assert p.message_size(message.encode()) == len(message.encode())


@pytest.mark.parametrize("data", [[], [1, 2], "session.update", 3, None])
def test_not_an_object(data):
    refused(json.dumps(data), ErrorCode.INVALID_EVENT)


@pytest.mark.parametrize(
    "data",
    [
        {"type": "session.update"},
        {"type": "session.update", "model": None},
        {"type": "session.update", "model": 7},
        {"type": "session.update", "model": "m", "language": 1},
        {"type": "session.update", "model": "m", "prompt": ["a"]},
        {"type": "input_audio_buffer.append"},
        {"type": "input_audio_buffer.append", "audio": None},
        {"type": "input_audio_buffer.append", "audio": [0, 1]},
        {"type": "input_audio_buffer.commit", "final": "maybe"},
        {"type": "input_audio_buffer.commit", "final": 2},
        {"type": "input_audio_buffer.commit", "final": None},
        {"type": "input_audio_buffer.commit", "final": 1.0},
    ],
)
def test_missing_or_ill_typed_fields(data):
    event = refused(json.dumps(data), ErrorCode.INVALID_EVENT)
    assert data["type"] in event["error"]


# --- well-formed messages -----------------------------------------------------------------------


def test_events_and_their_fields():
    update = parse_client_message('{"type":"session.update","model":"m","language":"fr"}')
    assert update == SessionUpdate("m", "fr", None)
    assert parse_client_message('{"model": "", "type": "session.update"}') == SessionUpdate("")
    assert parse_client_message('{"type":"input_audio_buffer.commit"}') == Commit(False)
    assert parse_client_message(b'{"type":"input_audio_buffer.commit","final":true}') == Commit(
        True
    )
    got = parse_client_message(append(b64(b"\x01\x00\xff\xff")) + "  \n")
    assert got.samples.tolist() == [2.0**-15, -(2.0**-15)]


@pytest.mark.parametrize(("final", "expected"), [(True, True), (False, False), (1, True), (0, False),
                                                 ("true", True), (" No ", False), ("on", True)])  # fmt: skip
def test_final_reads_as_pydantic_reads_a_bool(final, expected):
    message = json.dumps({"type": "input_audio_buffer.commit", "final": final})
    assert parse_client_message(message) == Commit(expected)


def test_unknown_fields_are_ignored():
    message = {"type": "input_audio_buffer.commit", "final": True, "event_id": "e1", "x": {"y": 1}}
    assert parse_client_message(json.dumps(message)) == Commit(True)


def test_check_model():
    served = {"voxtral-mini", p.VLLM_MODEL_ID}
    p.check_model("", served)  # vLLM: an empty name is the served model
    p.check_model(p.VLLM_MODEL_ID, served)
    with pytest.raises(ProtocolError) as info:
        p.check_model("whisper-1", served)
    assert info.value.code == ErrorCode.MODEL_NOT_FOUND
    assert "whisper-1" in info.value.message and "voxtral-mini" in info.value.message


# --- the example clients' messages --------------------------------------------------------------


def file_client_messages(pcm16: np.ndarray, model: str, language=None, prompt=None) -> list[str]:
    """What examples/speech_to_text/realtime/openai_realtime_client.py sends, in its order:
    session.update (model, then language / prompt when given), a commit, the PCM in 4096-byte
    chunks, a final commit."""
    update = {"type": "session.update", "model": model}
    if language:
        update["language"] = language
    if prompt:
        update["prompt"] = prompt
    messages = [json.dumps(update), json.dumps({"type": "input_audio_buffer.commit"})]
    raw = pcm16.tobytes()
    for i in range(0, len(raw), 4096):
        messages.append(append(base64.b64encode(raw[i : i + 4096]).decode("utf-8")))
    messages.append(json.dumps({"type": "input_audio_buffer.commit", "final": True}))
    return messages


def test_example_file_client_transcript_parses():
    rng = np.random.default_rng(0)
    pcm16 = rng.integers(-32768, 32768, 16000 * 3 + 333, dtype=np.int16)  # 3.02 s, a short tail
    messages = file_client_messages(pcm16, p.VLLM_MODEL_ID, "en", "Mistral, MLX")
    events = [parse_client_message(m) for m in messages]
    assert events[0] == SessionUpdate(p.VLLM_MODEL_ID, "en", "Mistral, MLX")
    assert events[1] == Commit(False) and events[-1] == Commit(True)
    chunks = events[2:-1]
    assert len(chunks) == -(-pcm16.nbytes // 4096) and all(
        isinstance(c, AudioAppend) for c in chunks
    )
    assert [c.samples.size for c in chunks[:2]] == [2048, 2048]
    audio = np.concatenate([c.samples for c in chunks])
    assert np.array_equal(audio, pcm16.astype(np.float32) / 32768)
    assert max(len(m) for m in messages) < 6000  # far under MAX_MESSAGE_BYTES


def test_example_microphone_client_transcript_parses():
    """openai_realtime_microphone_client.py: update (model only), commit, then appends of what
    the browser gives (float -> int16(x * 32767)), never a final commit."""
    messages = [json.dumps({"type": "session.update", "model": p.VLLM_MODEL_ID})]
    messages.append(json.dumps({"type": "input_audio_buffer.commit"}))
    for n in (8000, 7999, 12000):  # Gradio chunks resampled to 16 kHz: any length
        chunk = (np.sin(np.arange(n) / 9.0) * 0.5 * 32767).astype(np.int16)
        messages.append(append(base64.b64encode(chunk.tobytes()).decode("utf-8")))
    events = [parse_client_message(m) for m in messages]
    assert events[:2] == [SessionUpdate(p.VLLM_MODEL_ID), Commit(False)]
    assert [e.samples.size for e in events[2:]] == [8000, 7999, 12000]


# --- server events ------------------------------------------------------------------------------


def test_server_events_have_vllm_fields():
    created = p.session_created()
    assert list(created) == ["type", "id", "created"] and created["type"] == "session.created"
    assert re.fullmatch(r"sess-[0-9a-f]{16}", created["id"]) and isinstance(created["created"], int)
    assert p.session_created()["id"] != created["id"]
    assert p.session_created("sess-x", 12.7) == {
        "type": "session.created",
        "id": "sess-x",
        "created": 12,
    }
    assert p.transcription_delta(" Hi") == {"type": "transcription.delta", "delta": " Hi"}
    done = p.transcription_done(" Hi there.", prompt_tokens=39, completion_tokens=210)
    assert done == {
        "type": "transcription.done",
        "text": " Hi there.",
        "usage": {"prompt_tokens": 39, "total_tokens": 249, "completion_tokens": 210,
                  "prompt_tokens_details": None},
    }  # fmt: skip
    assert p.error_event("bad", "invalid_json") == {
        "type": "error",
        "error": "bad",
        "code": "invalid_json",
    }
    assert p.error_event("bad")["code"] is None
    assert p.dumps(p.transcription_delta(" été")) == '{"type":"transcription.delta","delta":" été"}'


def run_example_client_reader(events: list[dict]) -> tuple[str, str, dict | None, int]:
    """The example file client's reading, over JSON text: session.created first (else it
    stops), then deltas printed until transcription.done (or an error) ends it. Returns what it
    printed, the final text, the usage and how many events it read."""
    frames = iter(p.dumps(e) for e in events)
    first = json.loads(next(frames))
    if first["type"] != "session.created":
        return "", "", None, 1
    assert first["id"]
    printed, read = "", 1
    for frame in frames:
        response, read = json.loads(frame), read + 1
        if response["type"] == "transcription.delta":
            printed += response["delta"]
        elif response["type"] == "transcription.done":
            return printed, response["text"], response.get("usage"), read
        elif response["type"] == "error":
            return printed, "", {"error": response["error"]}, read
    raise AssertionError("the client would wait for ever: no transcription.done")


def test_example_client_reads_our_events_to_the_end():
    deltas = [" Mary", "", " had", " a", "", " little", " lamb."]
    events = [p.session_created(), *map(p.transcription_delta, deltas)]
    events.append(p.transcription_done("".join(deltas), 39, len(deltas)))
    events.append(p.transcription_delta(" never read"))
    printed, text, usage, read = run_example_client_reader(events)
    assert printed == text == " Mary had a little lamb."
    assert usage["total_tokens"] == 39 + 7 and read == 9


def test_example_client_stops_on_an_error_or_without_session_created():
    events = [p.session_created(), ProtocolError(ErrorCode.INVALID_AUDIO, "bad").event()]
    assert run_example_client_reader(events)[2] == {"error": "bad"}
    assert run_example_client_reader([p.error_event("full", ErrorCode.TOO_MANY_STREAMS)])[3] == 1


def test_no_mlx_and_no_network_library_is_imported():
    """The protocol is pure Python: the app's event loop may import it without loading MLX."""
    code = (
        "import sys, voxtral_mlx.serve.protocol, voxtral_mlx.serve.protocol_session\n"
        "heavy = {'mlx', 'mlx_lm', 'starlette', 'fastapi', 'uvicorn', 'websockets'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
