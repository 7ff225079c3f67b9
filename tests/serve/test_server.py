"""The real server on a loopback port, real WebSocket and HTTP clients: concurrent streams each
get exactly a local session's words; bad clients get an error event or a clean close while the
others go on; capacity and the API key are enforced; /health and /v1/models answer."""

from __future__ import annotations

import json
import threading
import time

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.live import tiny_live
from tests.live.tiny_live import SPEECH
from tests.serve.server_fixture import (
    Limits,
    heard,
    local_ids,
    local_text,
    pcm_messages,
    running_server,
)
from voxtral_mlx.checkpoint import weights

folder = tiny_live.folder
UPDATE = json.dumps({"type": "session.update", "model": "mistralai/Voxtral-Mini-4B-Realtime-2602"})
COMMIT, FINAL = '{"type": "input_audio_buffer.commit"}', '{"type": "input_audio_buffer.commit", "final": true}'  # fmt: skip


@pytest.fixture(scope="module")
def server(folder):
    with running_server(folder, max_streams=4, limits=Limits(idle_seconds=2.0)) as (url, hub):
        yield url, hub


def stream(url: str, audio: np.ndarray, pace: float = 0.0, bad=(), result=None) -> dict:
    """The example client's flow (with ``bad`` messages sent among the appends): the deltas,
    the done event and the errors it got."""
    got = {"deltas": [], "errors": [], "done": None}
    messages = pcm_messages(audio)
    with connect(f"ws://{url}/v1/realtime", max_size=None) as ws:
        assert json.loads(ws.recv(10))["type"] == "session.created"
        ws.send(UPDATE)
        ws.send(COMMIT)
        for i, message in enumerate(messages):
            if i == 3:
                for b in bad:
                    ws.send(b)
            ws.send(message)
            time.sleep(pace)
        ws.send(FINAL)
        while got["done"] is None:
            event = json.loads(ws.recv(60))
            if event["type"] == "transcription.delta":
                got["deltas"].append(event["delta"])
                got.setdefault("ids", []).append(event["token_id"])
            elif event["type"] == "error":
                got["errors"].append(event)
            else:
                got["done"] = event
    got["heard"] = heard(messages)
    if result is not None:
        result.update(got)
    return got


def test_concurrent_clients_each_get_their_own_sessions_words(server, folder):
    url, _ = server
    model = weights.load(folder)[0]
    audios = [SPEECH[: 16000 * 4], np.ascontiguousarray(SPEECH[::-1][: 16000 * 3]), SPEECH[16000:48000] * 0.6]  # fmt: skip
    results = [{} for _ in audios]
    clients = [threading.Thread(target=stream, args=(url, a, 0.02, (), r)) for a, r in zip(audios, results, strict=True)]  # fmt: skip
    for c in clients:
        c.start()
    for c in clients:
        c.join(120)
    for got in results:
        text, steps = local_text(model, got["heard"])
        assert got["ids"] == local_ids(model, got["heard"])  # the very token ids
        assert not got["errors"] and got["done"]["text"] == "".join(got["deltas"]) == text
        assert len(text.split()) > 5 and got["done"]["usage"]["completion_tokens"] == steps


def test_bad_messages_get_error_events_and_the_stream_goes_on(server, folder):
    url, _ = server
    bad = ["{not json", json.dumps({"type": "input_audio_buffer.append", "audio": "%%%not base64"}),
           json.dumps({"type": "response.create"}), "x" * (2 << 20)]  # fmt: skip
    got = stream(url, SPEECH[: 16000 * 2], bad=bad)
    codes = [e["code"] for e in got["errors"]]
    assert codes == ["invalid_json", "invalid_audio", "unknown_event", "message_too_large"]
    text, _ = local_text(weights.load(folder)[0], got["heard"])
    assert got["done"]["text"] == text


def test_a_vanishing_or_silent_client_does_not_disturb_the_others(server, folder):
    url, hub = server
    other = {}
    client = threading.Thread(target=stream, args=(url, SPEECH[: 16000 * 3], 0.02, (), other))
    client.start()
    with connect(f"ws://{url}/v1/realtime") as ws:
        ws.recv(10)
        ws.send(UPDATE)
        ws.send(COMMIT)
        for message in pcm_messages(SPEECH[:16000])[:5]:
            ws.send(message)
    # gone mid-utterance; the next one says nothing at all: closed after the idle limit
    with connect(f"ws://{url}/v1/realtime") as silent:
        silent.recv(10)
        with pytest.raises(ConnectionClosed):
            silent.recv(10)
    client.join(60)
    text, _ = local_text(weights.load(folder)[0], other["heard"])
    assert other["done"]["text"] == text and not other["errors"]
    deadline = time.monotonic() + 10
    while hub.active:
        assert time.monotonic() < deadline, "a vanished client's stream was not released"
        time.sleep(0.05)


def test_health_and_models(server):
    url, _ = server
    assert httpx.get(f"http://{url}/health").status_code == 200
    ids = [m["id"] for m in httpx.get(f"http://{url}/v1/models").json()["data"]]
    assert "mistralai/Voxtral-Mini-4B-Realtime-2602" in ids


def test_a_full_server_refuses_cleanly_and_a_key_is_enforced(folder):
    with running_server(folder, max_streams=1, api_key="sesame") as (url, _):
        auth = {"Authorization": "Bearer sesame"}
        with pytest.raises(Exception, match="403|401|rejected"):
            with connect(f"ws://{url}/v1/realtime", additional_headers={"Authorization": "Bearer wrong"}) as ws:  # fmt: skip
                ws.recv(5)
        assert httpx.get(f"http://{url}/v1/models").status_code == 401
        assert httpx.get(f"http://{url}/health").status_code == 200  # never behind the key
        with connect(f"ws://{url}/v1/realtime", additional_headers=auth) as first:
            first.recv(10)
            first.send(UPDATE)
            first.send(COMMIT)  # holds the only stream
            time.sleep(0.3)
            with connect(f"ws://{url}/v1/realtime", additional_headers=auth) as second:
                event = json.loads(second.recv(10))
                assert event["type"] == "error" and event["code"] == "too_many_streams"
                with pytest.raises(ConnectionClosed) as closed:
                    second.recv(10)
                assert closed.value.rcvd.code == 1013


@pytest.mark.parametrize("fmt", ["text", "srt", "vtt", "json", "verbose_json"])
def test_the_file_endpoint_gives_the_clis_transcript(server, folder, tmp_path, fmt):
    import soundfile as sf

    from voxtral_mlx.decode.transcribe import transcribe_file
    from voxtral_mlx.text.writers import srt_text, txt_text, vtt_text

    url, _ = server
    wav = tmp_path / "talk.wav"
    sf.write(wav, SPEECH[: 16000 * 5], 16000, subtype="FLOAT")
    with open(wav, "rb") as f:
        fields = {"model": "voxtral", "response_format": fmt}
        if fmt == "verbose_json":
            fields["timestamp_granularities[]"] = "word"
        reply = httpx.post(f"http://{url}/v1/audio/transcriptions", files={"file": f},
                           data=fields, timeout=60)  # fmt: skip
    assert reply.status_code == 200, reply.text
    cli = transcribe_file(wav, weights.load(folder)[0], tiny_live.TOK)
    assert len(cli.words) > 5
    if fmt in ("json", "verbose_json"):
        body = reply.json()
        assert body["text"] == cli.text
        if fmt == "verbose_json":
            assert [(w["word"], w["start"], w["end"]) for w in body["words"]] == [
                (w.text, w.start, w.end) for w in cli.words]  # fmt: skip
    else:
        assert reply.text == {"text": txt_text, "srt": srt_text, "vtt": vtt_text}[fmt](cli)


def test_the_file_endpoint_says_what_is_wrong(server, tmp_path):
    url, _ = server
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    with open(bad, "rb") as f:
        reply = httpx.post(f"http://{url}/v1/audio/transcriptions", files={"file": f}, timeout=30)
    assert reply.status_code == 400 and "\n" not in reply.json()["error"]["message"]
    reply = httpx.post(f"http://{url}/v1/audio/transcriptions", data={"model": "x"}, timeout=30)
    assert reply.status_code == 400 and "file" in reply.json()["error"]["message"]


def test_serve_refuses_other_computers_without_a_key(capsys):
    from voxtral_mlx.cli import main as cli

    assert cli.main(["serve", "--host", "0.0.0.0"]) == 2
    assert "give --api-key" in capsys.readouterr().err


def test_serve_with_a_missing_model_says_so_and_exits(tmp_path, capsys):
    from tests.serve.server_fixture import free_port
    from voxtral_mlx.cli import main as cli

    missing = tmp_path / "no-model"
    assert cli.main(["serve", "--model", str(missing), "--port", str(free_port())]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: the model did not load: model folder not found: {missing}"


def test_serve_hands_the_gil_over_sooner(tmp_path, monkeypatch):
    import sys

    from tests.serve.server_fixture import free_port
    from voxtral_mlx.cli import main as cli
    from voxtral_mlx.serve import server

    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # Python's default (other tests' serve calls set it too)
    seen = []
    real = server.make_server

    def spy(*a, **k):
        seen.append(sys.getswitchinterval())
        return real(*a, **k)

    monkeypatch.setattr(server, "make_server", spy)
    try:
        cli.main(["serve", "--model", str(tmp_path / "none"), "--port", str(free_port())])
    finally:
        sys.setswitchinterval(before)
    assert seen == [server.SWITCH_INTERVAL_S] and server.SWITCH_INTERVAL_S < 0.005


def test_serve_says_when_it_is_ready(folder, capsys, monkeypatch):
    """Starting takes a while (the model, every call shape, a rehearsal; on a fresh GPU
    machine kernels compile for a minute): the command says when clients can connect."""
    from tests.live.tiny_live import Loader
    from tests.serve.server_fixture import free_port
    from voxtral_mlx.serve import server

    made, real = [], server.make_server
    monkeypatch.setattr(
        server, "make_server", lambda *a, **k: made.append(real(*a, **k)) or made[-1]
    )

    def stop_when_ready() -> None:
        while not made:
            time.sleep(0.01)
        uvicorn_server, hub = made[0]
        assert hub.ready.wait(60)
        time.sleep(0.3)  # the watcher prints the line
        uvicorn_server.should_exit = True

    threading.Thread(target=stop_when_ready, daemon=True).start()
    assert server.serve(Loader(folder), port=free_port(), max_streams=5) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert any(line.startswith("ready for 5 streams (") for line in lines), lines
