"""MacSystemAudioSource (macOS system audio) with a fake of its ScreenCaptureKit backend, fed as
the real one is: 1024-frame 48 kHz stereo float32 buffers with their timestamps, from a thread
of their own. Exact streaming resampling, timestamp gaps, the permission story, errors mid-stream,
stop/close that never wait for the backend, and no leaked threads. The backend's own glue:
test_system_mac_sck.py. Nothing here runs ScreenCaptureKit itself (see docs/macos-system-audio.md).
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest
import soxr

from tests.audio.test_mic import read_all
from voxtral_mlx.audio.system import SystemAudioSource, system_audio_source
from voxtral_mlx.audio.system_mac import MacSystemAudioSource
from voxtral_mlx.audio.system_mac_words import USER_DECLINED, USER_STOPPED, capture_error
from voxtral_mlx.errors import DeviceError

RATE, BLOCK = 48000, 1024
PANE = "Screen & System Audio Recording"


def stereo(seconds: float, hz: float = 440.0, amp: float = 0.5) -> np.ndarray:
    """A 48 kHz stereo tone: left at ``amp``, right at half of it."""
    t = np.arange(int(seconds * RATE)) / RATE
    left = (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.stack([left, 0.5 * left], axis=1)


class FakeCapture:
    """Stands in for ScreenCaptureBackend. Its thread (ScreenCaptureKit's dispatch queue) hands
    ``signal`` over in new BLOCK-frame arrays at ``speed`` x real time, each with its
    presentation time. ``skip``: buffers never sent (their time passes: a gap); ``fail_after``:
    the stream stops with that ScreenCaptureKit error before buffer ``fail_after``;
    ``rate_after``: from that buffer on the buffers say 44100 Hz; ``start_error``: start raises
    it; ``stop_hangs``: stop waits for ``release``. ``played``: all was handed over."""

    pane = PANE

    def __init__(self, signal: np.ndarray, *, speed: float = 8.0, skip=(), fail_after=None,
                 rate_after=None, start_error=None, stop_hangs=False):  # fmt: skip
        self.signal, self.speed, self.skip = signal, speed, set(skip)
        self.fail_after, self.rate_after = fail_after, rate_after
        self.start_error, self.stop_hangs = start_error, stop_hangs
        self.played, self.stop_entered, self.release = (threading.Event() for _ in range(3))
        self.starts = self.stops = 0
        self.stopped = False
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, on_audio, on_error) -> None:
        self.starts += 1
        if self.start_error is not None:
            raise self.start_error
        self._halt.clear()
        self.played.clear()
        self._thread = threading.Thread(target=self._run, args=(on_audio, on_error),
                                        name="fake-sck-queue", daemon=True)  # fmt: skip
        self._thread.start()

    def _run(self, on_audio, on_error) -> None:
        t0, pts0 = time.monotonic(), 1234.5
        for i, at in enumerate(range(0, len(self.signal), BLOCK)):
            if self._halt.wait(max(0.0, t0 + at / RATE / self.speed - time.monotonic())):
                return
            if i == self.fail_after:
                on_error(capture_error(USER_STOPPED, "stopped by the user", PANE))
                break
            if i not in self.skip:
                rate = 44100 if self.rate_after is not None and i >= self.rate_after else RATE
                on_audio(self.signal[at : at + BLOCK].copy(), rate, pts0 + at / RATE)
        self.played.set()
        self._halt.wait()

    def stop(self) -> None:
        self.stops += 1
        self.stop_entered.set()
        if self.stop_hangs:
            self.release.wait()
        self._halt.set()
        if self._thread is not None:
            self._thread.join()
        self.stopped = True


def resampled(frames: np.ndarray) -> np.ndarray:
    """What the source must return for these 48 kHz frames: their mean, soxr'ed at once."""
    return soxr.resample(frames.mean(axis=1), RATE, 16000, quality="HQ")


def test_streamed_audio_equals_resampling_the_whole_capture(no_leaked_threads):
    """Downmix + soxr ResampleStream across 1024-frame buffers == one-shot soxr of the take."""
    signal = stereo(1.5, 310.0) + stereo(1.5, 1234.0, 0.2)
    fake = FakeCapture(signal)
    src = MacSystemAudioSource(backend=fake)
    src.open()
    out = np.concatenate(read_all(src, fake.played))
    src.close()
    whole = resampled(signal)
    assert len(out) == len(whole) and src.name == "system audio"
    np.testing.assert_allclose(out, whole, atol=1e-6)
    t = np.arange(len(out)) / 16000  # ... which is 0.75 x the left tones at 16 kHz
    left = 0.5 * np.sin(2 * np.pi * 310.0 * t) + 0.2 * np.sin(2 * np.pi * 1234.0 * t)
    mid = slice(1600, len(out) - 1600)  # away from the filter's edges
    np.testing.assert_allclose(out[mid], 0.75 * left[mid], atol=2e-3)
    assert src.dropped_seconds == 0 and src.filled_seconds == 0 and fake.stops == 1


def test_gaps_in_the_timestamps_are_filled_with_silence(no_leaked_threads):
    """Buffers that never came (ScreenCaptureKit may send none while nothing plays) come back
    as zeros of their length: the source's audio keeps time with the clock of the buffers."""
    signal = stereo(1.0)
    skip = {5, 6, 7, 20}
    fake = FakeCapture(signal, skip=skip)
    src = MacSystemAudioSource(backend=fake)
    src.open()
    out = np.concatenate(read_all(src, fake.played))
    src.close()
    expected = signal.copy()
    for i in skip:
        expected[i * BLOCK : (i + 1) * BLOCK] = 0
    np.testing.assert_allclose(out, resampled(expected), atol=1e-6)
    assert src.filled_seconds == pytest.approx(len(skip) * BLOCK / RATE)


def test_a_long_gap_is_filled_only_up_to_its_cap(no_leaked_threads):
    fake = FakeCapture(stereo(1.0), skip=range(5, 25))  # 20 buffers: 0.43 s
    src = MacSystemAudioSource(backend=fake, gap_fill_max_seconds=0.1)
    src.open()
    out = np.concatenate(read_all(src, fake.played))
    src.close()
    assert src.filled_seconds == pytest.approx(0.1)
    kept = RATE - 20 * BLOCK + int(0.1 * RATE)
    assert len(out) == len(soxr.resample(np.zeros(kept, np.float32), RATE, 16000, quality="HQ"))


@pytest.mark.parametrize("what", ["zeros", "no buffers"])
def test_a_silent_capture_gets_one_hint_naming_the_permission_pane(what, no_leaked_threads):
    """macOS may deliver silence (or nothing) where permission is missing: one hint, once."""
    zeros = np.zeros((RATE, 2), np.float32)
    fake = FakeCapture(zeros, speed=1.0, skip=range(100) if what == "no buffers" else ())
    src = MacSystemAudioSource(backend=fake, hint_after_seconds=0.3)
    assert src.poll_hint() is None  # not open yet
    src.open()
    assert src.poll_hint() is None  # not silent long enough yet
    hints, deadline = [], time.monotonic() + 10
    while not hints and time.monotonic() < deadline:
        src.read(0.05)
        hints += [h for h in [src.poll_hint()] if h]
    assert len(hints) == 1 and src.poll_hint() is None
    assert f"Privacy & Security > {PANE}" in hints[0] and "\n" not in hints[0]
    assert src.silent_seconds >= 0.3 and src.level_db == -100.0
    src.close()


def test_no_hint_once_sound_came(no_leaked_threads):
    """Sound proves the permission: silence after it is only nothing playing."""
    fake = FakeCapture(np.concatenate([stereo(0.2), np.zeros((RATE // 2, 2), np.float32)]),
                       speed=1.0)  # fmt: skip
    src = MacSystemAudioSource(backend=fake, hint_after_seconds=0.2)
    src.open()
    hints = []
    while not fake.played.is_set():
        src.read(0.05)
        hints += [h for h in [src.poll_hint()] if h]
    src.close()
    assert hints == [] and src.silent_seconds >= 0.2


def test_permission_refused_at_open_is_one_device_error_line(no_leaked_threads):
    refused = capture_error(USER_DECLINED, "The user declined TCCs", PANE)
    fake = FakeCapture(stereo(0.1), start_error=refused)
    src = MacSystemAudioSource(backend=fake)
    with pytest.raises(DeviceError) as caught:
        src.open()
    text = str(caught.value)
    assert text.startswith("system audio: macOS did not allow") and "\n" not in text
    assert f"System Settings > Privacy & Security > {PANE}, then restart it" in text
    assert src.finished and src.read(0.0) is None and fake.stops == 0
    src.close()  # again: harmless


def test_an_error_mid_stream_is_raised_once_after_the_audio_before_it(no_leaked_threads):
    signal = stereo(1.0)
    fake = FakeCapture(signal, fail_after=20)
    src = MacSystemAudioSource(backend=fake)
    src.open()
    out, errors, deadline = [], [], time.monotonic() + 10
    while not src.finished and time.monotonic() < deadline:
        try:
            if (x := src.read(0.05)) is not None:
                out.append(x)
        except DeviceError as err:
            errors.append(str(err))
    assert errors == ["system audio: the recording was stopped from the menu bar; listen again to go on"]  # fmt: skip
    np.testing.assert_allclose(np.concatenate(out), resampled(signal[: 20 * BLOCK]), atol=1e-6)
    src._on_error(DeviceError("a later one"))  # what a failed stream says after: not reported
    assert src.read(0.0) is None and src.poll_hint() is None
    src.close()
    assert fake.stops == 1


def test_a_changed_format_is_one_error(no_leaked_threads):
    fake = FakeCapture(stereo(0.5), rate_after=10)
    src = MacSystemAudioSource(backend=fake)
    src.open()
    with pytest.raises(DeviceError, match="changed from 48000 Hz x 2 to 44100 Hz x 2"):
        while True:
            src.read(0.05)
    src.close()


def test_stop_and_close_never_wait_for_a_backend_that_hangs(no_leaked_threads):
    """stop() leaves a backend that does not stop to its helper thread (RELEASE_SECONDS)."""
    fake = FakeCapture(stereo(0.5), stop_hangs=True)
    src = MacSystemAudioSource(backend=fake)
    src.open()
    src.read(0.1)
    valve = threading.Timer(5.0, fake.release.set)  # a close that waits for it fails, not hangs
    valve.start()
    src.close()  # returns although the backend's stop still waits
    assert fake.stop_entered.is_set() and not fake.stopped and src.finished
    valve.cancel()
    valve.join(5)  # a cancelled Timer's thread ends soon after, not at once
    fake.release.set()  # the backend lets go: the helper thread ends
    for t in threading.enumerate():
        if t.name == "system-audio-stop":
            t.join(5)
    assert fake.stopped and fake.stops == 1


def test_twenty_open_close_cycles_leak_no_threads(no_leaked_threads):
    fake = FakeCapture(stereo(5.0), speed=1.0)
    for _ in range(20):
        src = MacSystemAudioSource(backend=fake)
        src.open()
        src.read(0.03)
        src.close()
        src.close()
    assert fake.starts == fake.stops == 20


def test_a_stall_is_reported_only_when_asked_for(no_leaked_threads):
    """Default: no buffers for a while is not a stall (nothing may be playing); with
    stall_after_seconds it is reported once, and its end once."""
    for stall_after, expected in [(float("inf"), []), (0.2, [True])]:
        fake = FakeCapture(stereo(0.1), speed=1.0)
        src = MacSystemAudioSource(backend=fake, stall_after_seconds=stall_after)
        src.open()
        reports, deadline = [], time.monotonic() + 0.8
        while time.monotonic() < deadline:
            src.read(0.05)
            reports += [r for r in [src.poll_stall()] if r]
        src.close()
        assert [stalled for stalled, _ in reports] == expected and src.lost is False


def test_without_pyobjc_open_is_a_device_error_and_imports_no_objc():
    if sys.platform == "darwin":
        pytest.skip("the real backend is there on macOS")
    src = MacSystemAudioSource()
    with pytest.raises(DeviceError, match="pip install pyobjc-framework-ScreenCaptureKit"):
        src.open()
    assert "objc" not in sys.modules and src.finished


def test_system_audio_source_picks_the_platforms_source():
    assert isinstance(system_audio_source("darwin", hint_after_seconds=1.0), MacSystemAudioSource)
    assert isinstance(system_audio_source("linux"), SystemAudioSource)
