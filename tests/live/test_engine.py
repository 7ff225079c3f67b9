"""LiveTranscriber with a tiny checkpoint and the fake sounddevice: events, exact tokens, device
loss, switches without reloading, autosave, stop drains. The real PortAudio path is
tests/reference/test_live_e2e.py."""

from __future__ import annotations

import io
import json
import os
import queue
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.live import tiny_live
from tests.live.tiny_live import SPEECH, Loader, live, offline_tokens, wait_for
from voxtral_mlx.audio.mic import MicSource
from voxtral_mlx.checkpoint import weights
from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.live.autosave import recover
from voxtral_mlx.live.engine import IteratorSource, LiveTranscriber
from voxtral_mlx.live.events import (
    AudioState,
    DroppedEvent,
    ErrorEvent,
    HintEvent,
    MeterEvent,
    Status,
    StatusEvent,
    TextEvent,
    TranscriptEvent,
)
from voxtral_mlx.testing import FakeDevice, FakeSoundDevice, stereo_at
from voxtral_mlx.text.transcript import Transcript, Word

# tests/gui import the tiny checkpoint fixture, the speech and the loader from here.
folder = tiny_live.folder


@pytest.mark.parametrize("rate", [44100, 48000])
def test_mic_take_gives_the_offline_tokens_events_and_autosave(
    folder, tmp_path, rate, threads_back
):
    dev = FakeDevice("USB Mic", signal=stereo_at(SPEECH, rate), rate=rate, speed=4.0,
                     overflow_every=25)  # fmt: skip
    sd = FakeSoundDevice([dev])
    lt, run, loader = live(folder, MicSource(sd=sd), tmp_path)
    lt.start()
    assert dev.played.wait(20)
    lt.stop()
    assert lt.join(20)

    assert loader.threads == ["voxtral-live"]  # the model was loaded on the transcriber's thread
    assert run.statuses() == ["loading", "listening", "stopped"]
    assert run.events[-1].status is Status.STOPPED
    transcript = lt.transcript
    model = weights.load(folder)[0]
    audio = run.audio()
    assert len(audio) / 16000 >= len(SPEECH) / 16000 - 0.05
    assert transcript.tokens == offline_tokens(model, audio)
    assert transcript.duration == pytest.approx(len(audio) / 16000, abs=1e-3)
    # Text events: every word reported final exactly once, in order; partials along the way.
    texts = run.of(TextEvent)
    final = [w for e in texts for w in e.words]
    assert final == transcript.words and len(final) > 5
    assert any(e.partial is not None for e in texts)
    assert sum(e.n_tokens for e in texts) == len(transcript.tokens)
    assert "".join(e.text for e in texts).split() == transcript.text.split()
    # Meters, the overflow flags PortAudio raised, no hint (the device was not silent).
    meters = run.of(MeterEvent)
    assert len(meters) >= 5 and all(m.lag >= 0 for m in meters)
    assert max(m.level_db for m in meters) > -40
    assert all(type(v) is float for m in meters for v in (m.level_db, m.lag, m.audio_seconds))
    drops = run.of(DroppedEvent)
    assert drops and drops[-1].overflows >= 1 and drops[-1].total_seconds == 0
    assert not run.of(ErrorEvent) and not run.of(HintEvent)
    # Autosave: the journal recovers the same words; the final JSON is the whole transcript.
    (done,) = run.of(TranscriptEvent)
    assert done.transcript is transcript and done.path.suffix == ".json"
    assert Transcript.from_dict(json.loads(done.path.read_text())).tokens == transcript.tokens
    recovered = recover(done.journal)
    assert recovered.words == transcript.words and "recovered" not in recovered.metadata
    assert recovered.metadata["source"] == "USB Mic" and recovered.metadata["delay_ms"] == 480
    assert len(sd.streams) == 1 and sd.streams[0].closed


def test_a_lost_device_is_waited_for_and_the_same_recording_resumes_when_it_is_back(
    folder, tmp_path, threads_back
):
    """Unplugged mid-stream: reported once (not fatal), the meter says lost, still listening;
    plugged back in, the same session goes on (transcript == offline on all that came, one
    recording); lost again, Stop ends the thread within 2 s with the transcript written."""
    dev = FakeDevice("USB Mic", signal=stereo_at(SPEECH, 48000), speed=4.0, vanish_after=1.5)
    sd = FakeSoundDevice([dev])
    lt, run, _ = live(folder, MicSource(sd=sd, reconnect_seconds=0.2), tmp_path)
    lt.start()
    wait_for(lambda: run.of(ErrorEvent))
    (error,) = run.of(ErrorEvent)
    assert error.message.startswith("Device lost: microphone 'USB Mic'") and not error.fatal
    wait_for(lambda: run.of(MeterEvent)[-1].audio is AudioState.LOST)
    assert lt.running and run.statuses() == ["loading", "listening"]
    fed = len(run.audio())  # the resampler keeps its last ~30 ms until more audio comes
    assert fed == pytest.approx(1.5 * 16000, abs=800)
    sd.plug(dev, vanish_after=1.0)  # plugged back in, and lost again a second later
    wait_for(lambda: any("'USB Mic' is back" in h.message for h in run.of(HintEvent)))
    wait_for(lambda: len(run.of(ErrorEvent)) == 2)
    assert len(run.audio()) == pytest.approx(fed + 16000, abs=800) and len(sd.streams) == 2
    t0 = time.monotonic()
    lt.stop()
    assert lt.join(5.0) and time.monotonic() - t0 < 2.0
    assert run.statuses() == ["loading", "listening", "stopped"]  # one recording throughout
    assert not any(e.fatal for e in run.of(ErrorEvent)) and not sd.reinit_under_stream
    audio = run.audio()
    assert lt.transcript.words and lt.transcript.tokens == offline_tokens(weights.load(folder)[0], audio)  # fmt: skip
    assert recover(run.of(TranscriptEvent)[0].journal).words == lt.transcript.words


def test_stalled_device_is_reported_once_resumes_and_stop_ends_within_2_s(
    folder, tmp_path, threads_back
):
    """A suspended PulseAudio source (callbacks stop, PortAudio's stop() blocks until it comes
    back): reported once, still listening, the meter says stalled; audio flowing again goes on
    in the same recording; stopped while stalled, the transcriber ends within 2 s with the
    transcript (== offline on what came) written."""
    dev = FakeDevice("USB Mic", signal=stereo_at(SPEECH, 48000), speed=4.0, stall_after=1.0)
    lt, run, _ = live(folder, MicSource(sd=FakeSoundDevice([dev]), stall_after_seconds=0.5),
                      tmp_path)  # fmt: skip
    lt.start()
    try:
        stall_resume_stall_stop(lt, run, dev)
    finally:
        dev.resume()  # lets the stream left behind close (and its threads end)
    errors = run.of(ErrorEvent)
    assert len(errors) == 2 and not any(e.fatal for e in errors)  # once per stall
    assert run.statuses() == ["loading", "listening", "stopped"]  # one recording throughout
    audio = run.audio()
    assert lt.transcript.words and lt.transcript.tokens == offline_tokens(weights.load(folder)[0], audio)  # fmt: skip
    assert Transcript.from_dict(json.loads(run.of(TranscriptEvent)[0].path.read_text())).words == lt.transcript.words  # fmt: skip


def stall_resume_stall_stop(lt, run, dev) -> None:
    wait_for(lambda: run.of(ErrorEvent))
    (error,) = run.of(ErrorEvent)
    assert "'USB Mic' stopped delivering audio" in error.message and not error.fatal
    wait_for(lambda: run.of(MeterEvent)[-1].audio is AudioState.STALLED)
    assert lt.running and run.statuses()[-1] == "listening"
    fed = len(run.audio())
    dev.resume()
    wait_for(lambda: any("delivers audio again" in h.message for h in run.of(HintEvent)))
    wait_for(lambda: len(run.audio()) > fed + 8000)  # listening goes on
    assert run.of(MeterEvent)[-1].audio is not AudioState.STALLED
    dev.suspend()
    wait_for(lambda: len(run.of(ErrorEvent)) == 2)
    valve = threading.Timer(5.0, dev.resume)  # a stop that waits for the device fails, not hangs
    valve.start()
    t0 = time.monotonic()
    lt.stop()
    ended = lt.join(5.0)
    took = time.monotonic() - t0
    valve.cancel()
    assert ended and took < 2.0, took


def test_switch_device_and_delay_without_reloading(folder, tmp_path, threads_back):
    first = FakeDevice("Built-in", signal=stereo_at(SPEECH[:32000], 48000), speed=4.0)
    second = FakeDevice("USB Mic", signal=stereo_at(SPEECH[16000:], 44100), rate=44100, speed=4.0)
    sd = FakeSoundDevice([first, second])
    lt, run, loader = live(folder, MicSource("built", sd=sd), tmp_path)
    lt.start()
    assert first.played.wait(20)
    lt.switch(source=MicSource("usb", sd=sd), delay_ms=160)
    assert second.played.wait(20)
    lt.switch(delay_ms=960)  # same device, new delay: the device stays open, nothing is lost
    wait_for(lambda: run.statuses().count("listening") == 3)
    time.sleep(0.3)
    lt.stop()
    assert lt.join(20)

    assert len(loader.threads) == 1
    assert [e.detail for e in run.of(StatusEvent) if e.status is Status.LISTENING] == [
        "Built-in", "USB Mic", "USB Mic"]  # fmt: skip
    model = weights.load(folder)[0]
    expected = [offline_tokens(model, run.audio(k), d) for k, d in enumerate((480, 160, 960))]
    assert lt.transcript.tokens == sum(expected, [])
    assert len(sd.streams) == 2 and not any(s.active for s in sd.streams)
    # Times continue across sessions; the journal has one source line per session.
    starts = [w.start for w in lt.transcript.words]
    assert starts == sorted(starts)
    offsets = np.cumsum([0] + [len(run.audio(k)) / 16000 for k in range(2)])
    lines = [json.loads(x) for x in run.of(TranscriptEvent)[0].journal.read_text().splitlines()]
    sources = [x for x in lines if x["type"] == "source"]
    assert [(x["source"], x["delay_ms"]) for x in sources] == [
        ("Built-in", 480), ("USB Mic", 160), ("USB Mic", 960)]  # fmt: skip
    assert [x["offset"] for x in sources] == pytest.approx(list(offsets), abs=1e-6)
    assert lt.transcript.duration == pytest.approx(sum(len(a) for a in map(np.concatenate, run.fed)) / 16000, abs=1e-3)  # fmt: skip


def test_file_in_real_time_then_idle_then_another_recording(folder, tmp_path, threads_back):
    chunks = [SPEECH[i : i + 1600] for i in range(0, 24000, 1600)]
    events: queue.Queue = queue.Queue()
    loader = Loader(folder)
    lt = LiveTranscriber(loader, IteratorSource(chunks, realtime=True, speed=4.0, name="clip"),
                         events=events, autosave_dir=tmp_path, idle_on_end=True)  # fmt: skip
    lt.start()
    seen = []

    def until(pred):
        while True:
            seen.append(events.get(timeout=20))
            if pred(seen[-1]):
                return seen[-1]

    first = until(lambda e: isinstance(e, TranscriptEvent))
    until(lambda e: isinstance(e, StatusEvent) and e.status is Status.IDLE)
    lt.switch(source=[SPEECH[24000:40000]], new_transcript=True)
    until(lambda e: isinstance(e, TranscriptEvent))  # the first recording, now closed
    until(lambda e: isinstance(e, StatusEvent) and e.status is Status.LISTENING)
    lt.stop()
    assert lt.join(20)
    while not events.empty():
        seen.append(events.get())
    model = weights.load(folder)[0]
    assert first.transcript.tokens == offline_tokens(model, SPEECH[:24000])
    assert lt.transcript.tokens == offline_tokens(model, SPEECH[24000:40000])
    assert len(loader.threads) == 1
    assert seen[-1] == StatusEvent(Status.STOPPED, at=seen[-1].at)
    journals = sorted(tmp_path.glob("*.jsonl"))
    assert len(journals) == 2 and all(j.with_suffix(".json").is_file() for j in journals)


def test_stop_right_after_start_and_failures_end_cleanly(folder, tmp_path, threads_back):
    lt, run, _ = live(folder, [SPEECH], tmp_path)
    lt.stop()  # before it even started: it loads, then stops at once
    lt.start()
    assert lt.join(20) and run.statuses()[-1] == "stopped"

    busy = FakeDevice("Mic", open_error=("Error opening InputStream: Device unavailable", -9985))
    lt, run, _ = live(folder, MicSource(sd=FakeSoundDevice([busy])), tmp_path)
    lt.start()
    assert lt.join(20)
    (error,) = run.of(ErrorEvent)
    assert error.fatal and "'Mic' is busy" in error.message
    assert run.statuses() == ["loading", "stopped"] and not run.of(TranscriptEvent)

    def broken():
        raise VoxtralError("model folder /nope not found")

    lt = LiveTranscriber(broken, [SPEECH], autosave_dir=tmp_path)
    lt.start()
    assert lt.join(20)
    got = drain(lt.events)
    assert [type(e).__name__ for e in got] == ["StatusEvent", "ErrorEvent", "StatusEvent"]
    assert got[1].message == "model folder /nope not found" and got[1].fatal


def drain(q: queue.Queue) -> list:
    out = []
    while not q.empty():
        out.append(q.get())
    return out


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_20_transcribers_in_a_row_leave_no_python_threads(folder, tmp_path, capsys):
    """start -> audio -> stop -> join, 20 times, a new transcriber (and model load) each time.
    Python threads come back to where they were; OS threads grow by at most one per
    transcriber (mlx 0.32.4 keeps an idle OS thread per thread that ran MLX); RSS reported."""

    def cycle():
        heard = threading.Event()
        dev = FakeDevice("Mic", signal=stereo_at(SPEECH, 48000), speed=4.0)
        lt = LiveTranscriber(Loader(folder), MicSource(sd=FakeSoundDevice([dev])),
                             tap=lambda c: heard.set(), autosave_dir=tmp_path)  # fmt: skip
        lt.start()
        assert heard.wait(20)
        lt.stop()
        assert lt.join(20)

    cycle()
    base = (threading.active_count(), _os_threads(), _rss_mb())
    rss = []
    for _ in range(20):
        cycle()
        assert threading.active_count() == base[0]
        rss.append(_rss_mb())
    grown = _os_threads() - base[1]
    with capsys.disabled():
        print(
            f"\n20 transcribers: python threads {base[0]} -> {threading.active_count()}, OS "
            f"threads +{grown}, RSS {base[2]:.1f} -> {rss[4]:.1f} (5) -> {rss[-1]:.1f} MB (20)"
        )
    assert 0 <= grown <= 20


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _text(words, partial=None):
    return TextEvent(text="", start=0.0, end=0.0, words=tuple(Word(w, 0.0, 0.1) for w in words),
                     partial=None if partial is None else Word(partial, 0.0, 0.1))  # fmt: skip


def test_cli_live_display_plain_and_terminal(monkeypatch):
    from voxtral_mlx.cli.live import DIM, LiveDisplay

    monkeypatch.setenv("TERM", "xterm")
    events = [StatusEvent(Status.LISTENING, "USB Mic"), _text([], "Hel"), _text([], "Hello,"),
              MeterEvent(level_db=-20.0, lag=0.25, audio_seconds=1.0), _text(["Hello,"], "wor"),
              HintEvent("check the mic"), _text(["world."], "How"), _text([], "How are"),
              _text(["How"], "are"), StatusEvent(Status.STOPPED)]  # fmt: skip
    out, err = io.StringIO(), io.StringIO()
    display = LiveDisplay(out, err, quiet=False)
    for event in events:
        display.show(event)
    assert out.getvalue() == "Hello, world.\nHow\n"  # final words only, a line per sentence
    assert err.getvalue() == "listening: USB Mic (Ctrl-C to stop)\nhint: check the mic\n"

    out, err = _Terminal(), _Terminal()
    display = LiveDisplay(out, err, quiet=False)
    for event in events:
        display.show(event)
    screen = out.getvalue()
    assert f"Hello,{' '}{DIM}wor" in screen and "\r\x1b[K" in screen  # partial dimmed, redrawn
    final = [line.split("\r")[-1].replace("\x1b[K", "") for line in screen.split("\n")]
    assert final == ["Hello, world.", "How", ""]
    assert "lag 0.2 s" in err.getvalue() or "lag 0.3 s" in err.getvalue()  # the meter
