"""Clients of a server: the live transcriber and the command line with ``--server`` give the
transcript a local run gives for the audio the server heard (PCM16 on the wire), word times
included; a server that is not there is one clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from tests.live import tiny_live
from tests.live.tiny_live import SPEECH
from tests.serve.server_fixture import local_events, local_ids, running_server
from voxtral_mlx.audio.sources import IteratorSource
from voxtral_mlx.checkpoint import weights
from voxtral_mlx.live.engine import LiveTranscriber
from voxtral_mlx.live.events import ErrorEvent
from voxtral_mlx.serve.client import remote_loader
from voxtral_mlx.serve.protocol import decode_pcm16, encode_pcm16
from voxtral_mlx.text.transcript import TranscriptBuilder

folder = tiny_live.folder


@pytest.fixture(scope="module")
def server(folder):
    with running_server(folder, max_streams=4) as (url, hub):
        yield url, hub


def on_the_wire(audio: np.ndarray) -> np.ndarray:
    return decode_pcm16(encode_pcm16(audio))


def local_words(folder, audio):
    builder = TranscriptBuilder()
    builder.add(local_events(weights.load(folder)[0], audio))
    return builder.build().words


def test_live_captions_through_a_server_are_the_local_ones(server, folder, tmp_path):
    url, _ = server
    audio = SPEECH[: 16000 * 5]
    chunks = [audio[i : i + 1600] for i in range(0, len(audio), 1600)]
    events = []
    live = LiveTranscriber(remote_loader(f"ws://{url}"), IteratorSource(chunks, realtime=True, speed=4.0),
                           on_event=events.append, autosave_dir=tmp_path)  # fmt: skip
    live.start()
    assert live.join(60)
    assert not [e for e in events if isinstance(e, ErrorEvent)]
    want = local_words(folder, on_the_wire(audio))
    assert len(want) > 5 and live.transcript.words == want
    assert live.transcript.tokens == local_ids(weights.load(folder)[0], on_the_wire(audio))


def test_files_with_server_write_the_local_transcript(server, folder, tmp_path, capsys):
    from voxtral_mlx.cli import main as cli

    url, _ = server
    wav = tmp_path / "talk.wav"
    sf.write(wav, SPEECH[: 16000 * 4], 16000, subtype="FLOAT")
    assert cli.main([str(wav), "--server", f"http://{url}", "--format", "json", "-q"]) == 0
    data = json.loads((tmp_path / "talk.json").read_text())
    words = [(w["text"], w["start"], w["end"]) for s in data["segments"] for w in s["words"]]
    want = local_words(folder, on_the_wire(SPEECH[: 16000 * 4]))
    assert words == [(w.text, w.start, w.end) for w in want] and len(want) > 5
    assert data["metadata"]["model"] == f"http://{url}"


def test_the_servers_delay_is_the_one_recorded(folder, tmp_path):
    """A server at another delay than the client's default says so; the transcript records
    it, and its words are a local run's at that delay."""
    from voxtral_mlx.cli import main as cli

    wav = tmp_path / "talk.wav"
    sf.write(wav, SPEECH[: 16000 * 3], 16000, subtype="FLOAT")
    with running_server(folder, max_streams=1, delay_ms=960) as (url, _hub):
        assert cli.main([str(wav), "--server", f"ws://{url}", "--format", "json", "-q"]) == 0
    data = json.loads((tmp_path / "talk.json").read_text())
    assert data["metadata"]["delay_ms"] == 960
    ids = local_ids(weights.load(folder)[0], on_the_wire(SPEECH[: 16000 * 3]), delay_ms=960)
    assert data["tokens"] == ids


def test_no_server_is_one_line(tmp_path, capsys):
    from voxtral_mlx.cli import main as cli

    wav = tmp_path / "talk.wav"
    sf.write(wav, SPEECH[:16000], 16000)
    assert cli.main([str(wav), "--server", "ws://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "cannot reach the server at ws://127.0.0.1:9/v1/realtime" in err[-1]  # fmt: skip


def test_a_session_is_not_done_while_events_wait_to_be_taken():
    """The server's done can arrive between two takes: a drain loop that stops at ``done``
    must still get the last words (a race seen under load)."""
    import threading
    from collections import deque

    from voxtral_mlx.serve.client import RemoteSession
    from voxtral_mlx.text.transcript import TokenEvent

    session = RemoteSession.__new__(RemoteSession)  # the state only: no connection
    session._lock, session.error = threading.Condition(), None
    session._events, session._done = deque([TokenEvent(5, " last", 1.0, 1.08, True)]), True
    assert not session.done
    drained = []
    while not session.done:
        drained += session.step()
    assert [e.text for e in drained] == [" last"] and session.done
