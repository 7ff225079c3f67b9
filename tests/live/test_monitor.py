"""What the transcriber says about its source: the silence hint only for true silence (a slow
first step or a pause between sentences is not a muted device), drops counted, the meter's
audio state."""

from __future__ import annotations

import threading
import time

import numpy as np

from tests.live.tiny_live import SPEECH, Loader, Run, live, wait_for
from voxtral_mlx.audio.mic import MicSource
from voxtral_mlx.live.engine import LiveTranscriber
from voxtral_mlx.live.events import AudioState, DroppedEvent, HintEvent, MeterEvent
from voxtral_mlx.testing import FakeDevice, FakeSoundDevice, stereo_at


def test_silent_device_gives_a_hint_and_a_full_queue_reports_drops(folder, tmp_path, threads_back):
    dev = FakeDevice("Mic", signal=None, speed=1.0)
    lt, run, _ = live(folder, MicSource(sd=FakeSoundDevice([dev]), hint_after_seconds=0.3),
                      tmp_path)  # fmt: skip
    lt.start()
    wait_for(lambda: run.of(HintEvent))
    lt.stop()
    assert lt.join(20)
    assert len(run.of(HintEvent)) == 1 and "delivers only silence" in run.of(HintEvent)[0].message

    class SlowStart(MicSource):
        """A consumer that lags: the first read comes after 1 s of audio, queue bound 0.25 s."""

        def read(self, timeout=0.0):
            if not getattr(self, "slept", False):
                self.slept = True
                time.sleep(1.0)
            return super().read(timeout)

    dev = FakeDevice("Mic", signal=stereo_at(SPEECH[:16000], 48000), speed=1.0)
    lt, run, _ = live(folder, SlowStart(sd=FakeSoundDevice([dev]), max_queue_seconds=0.25),
                      tmp_path)  # fmt: skip
    lt.start()
    wait_for(lambda: run.of(DroppedEvent))
    lt.stop()
    assert lt.join(20)
    drop = run.of(DroppedEvent)[0]
    assert drop.seconds == drop.total_seconds and 0.5 < drop.seconds < 1.0


def listen_to(folder, tmp_path, parts: list[np.ndarray], slow_start: float = 0.0):
    """Run a transcriber on a fake microphone playing ``parts`` (16 kHz) in real time until
    all was fed; ``slow_start``: the first chunk's step takes that long (the real model's
    first step compiles). Returns the events and the transcriber."""
    total = sum(len(p) for p in parts) / 16000
    dev = FakeDevice("Mic", signal=stereo_at(np.concatenate(parts), 48000), speed=1.0)
    slow = threading.Event()

    def tap(chunk):
        if not slow.is_set():
            slow.set()
            time.sleep(slow_start)
        run.tap(chunk)

    run = Run()
    lt = LiveTranscriber(Loader(folder), MicSource(sd=FakeSoundDevice([dev]), hint_after_seconds=0.3),
                         on_event=run.on_event, tap=tap, autosave_dir=tmp_path / "auto")  # fmt: skip
    lt.start()
    assert dev.played.wait(20)
    wait_for(lambda: run.of(MeterEvent) and run.of(MeterEvent)[-1].audio_seconds >= total - 0.1)
    assert lt.journal is not None and lt.journal.parent == tmp_path / "auto"
    lt.stop()
    assert lt.join(20)
    return run


def silent_spans(meters) -> list[float]:
    return [m.audio_seconds for m in meters if m.audio is AudioState.SILENT]


def test_silence_hint_only_for_true_silence_and_clears_when_sound_comes(
    folder, tmp_path, monkeypatch, threads_back
):
    """Zeros, speech, 1 s of zeros, speech. A slow first step leaves speech queued in the
    source, which is not silence: no hint and no SILENT meter then. The true silence gives one
    hint, marked to clear when audio flows, and the meter says FLOWING once speech is back.
    The journal is known while listening."""
    from voxtral_mlx.live import monitor

    monkeypatch.setattr(monitor, "SILENT_AFTER", 0.3)
    monkeypatch.setattr(monitor, "PAUSE_SECONDS", 0.3)  # a pause counts as silence here
    zeros = np.zeros(16000, np.float32)
    run = listen_to(folder, tmp_path, [zeros[:2400], SPEECH[:16000], zeros, SPEECH[16000:40000]],
                    slow_start=0.6)  # fmt: skip
    (hint,) = run.of(HintEvent)
    assert "delivers only silence" in hint.message and hint.clears_on is AudioState.FLOWING
    meters = run.of(MeterEvent)
    silent = silent_spans(meters)
    assert silent and 1.15 < min(silent) and max(silent) < 2.45, silent
    assert any(m.audio is AudioState.FLOWING and m.at > hint.at for m in meters)


def test_once_sound_came_a_pause_is_not_a_muted_device(folder, tmp_path, monkeypatch, threads_back):
    """Digital silence from the start gives the hint; after speech, a 1 s pause (a virtual
    source between sentences) gives neither a hint nor a SILENT meter."""
    from voxtral_mlx.live import monitor

    monkeypatch.setattr(monitor, "SILENT_AFTER", 0.3)
    zeros = np.zeros(16000, np.float32)
    run = listen_to(folder, tmp_path, [zeros, SPEECH[:16000], zeros, SPEECH[16000:24000]])
    (hint,) = run.of(HintEvent)
    silent = silent_spans(run.of(MeterEvent))
    assert silent and max(silent) < 1.1, silent
