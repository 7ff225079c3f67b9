"""MicSource with the fake sounddevice: exact streaming resampling, the bounded queue, open
errors, hints, stalls and lost devices. Device lists: test_devices.py. The real PortAudio path
is tested in tests/reference/test_live_e2e.py."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import soxr

from voxtral_mlx.audio import devices, stream_release
from voxtral_mlx.audio.mic import MicSource
from voxtral_mlx.errors import DeviceError
from voxtral_mlx.testing import FakeDevice, FakeSoundDevice, stereo_at


def tone(seconds: float, hz: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def read_all(src, until: threading.Event, timeout: float = 20.0) -> list[np.ndarray]:
    """Read until ``until`` is set, then stop and read the rest (the resampler tail included)."""
    out, deadline = [], time.monotonic() + timeout
    while not until.is_set() and time.monotonic() < deadline:
        x = src.read(0.05)
        if x is not None:
            out.append(x)
    src.stop()
    while (x := src.read(0.0)) is not None:
        out.append(x)
    assert src.finished
    return out


@pytest.mark.parametrize("rate", [44100, 48000])
def test_streamed_audio_equals_resampling_the_whole_recording(rate, no_leaked_threads):
    """Downmix + soxr ResampleStream across 20 ms blocks == one-shot soxr of the whole take."""
    speech = tone(1.5, 310.0) + tone(1.5, 1234.0, 0.2)
    dev = FakeDevice("USB Mic", signal=stereo_at(speech, rate), rate=rate, speed=8.0)
    sd = FakeSoundDevice([dev])
    src = MicSource(sd=sd)
    src.open()
    assert (src.rate, src.channels, src.name) == (rate, 2, "USB Mic")
    assert sd.streams[0].latency is None  # PortAudio's default outside ALSA
    out = np.concatenate(read_all(src, dev.played))
    src.close()
    stream = dev.signal[: dev.frames_delivered]
    delivered = np.zeros((dev.frames_delivered, 2), np.float32)
    delivered[: len(stream)] = stream
    whole = soxr.resample(delivered.mean(axis=1), rate, 16000, quality="HQ")
    assert len(out) == len(whole)
    np.testing.assert_allclose(out, whole, atol=1e-6)
    # ... which is 0.75 x the 16 kHz signal (left 1.0, right 0.5), away from the filter's edges.
    mid = slice(1600, len(speech) - 1600)
    np.testing.assert_allclose(out[mid], 0.75 * speech[mid], atol=2e-3)
    assert src.dropped_seconds == 0 and src.overflows == 0


def test_mono_16k_device_needs_no_resampler(no_leaked_threads):
    speech = tone(0.5)
    dev = FakeDevice("Headset", signal=speech[:, None], rate=16000, channels=1, speed=8.0)
    src = MicSource(sd=FakeSoundDevice([dev]))
    src.open()
    out = np.concatenate(read_all(src, dev.played))
    src.close()
    np.testing.assert_array_equal(out[: len(speech)], speech)
    assert not out[len(speech) :].any()  # then silence until stopped


def test_full_queue_drops_the_oldest_audio_and_counts_it(no_leaked_threads):
    """The consumer sleeps through 1 s of audio with a 0.25 s queue: 0.75 s dropped, counted;
    what is kept is the newest audio, and the overflow flags PortAudio raised are counted."""
    ramp = np.linspace(0, 1, 48000, dtype=np.float32)
    dev = FakeDevice("Mic", signal=np.stack([ramp, ramp], 1), speed=4.0, overflow_every=10)
    src = MicSource(sd=FakeSoundDevice([dev]), max_queue_seconds=0.25)
    src.open()
    assert dev.played.wait(10)
    src.stop()
    out = []
    while (x := src.read(0.0)) is not None:
        out.append(x)
    src.close()
    kept = sum(map(len, out)) / 16000
    assert src.dropped_seconds + kept == pytest.approx(dev.frames_delivered / 48000, abs=1e-3)
    assert 0.25 - 0.02 <= kept <= 0.25 + 0.02  # the bound, at block granularity
    assert src.dropped_seconds >= 0.7
    assert np.concatenate(out)[len(out[0]) // 2] > 0.5  # the newest part of the ramp
    assert src.overflows == dev.frames_delivered // 960 // 10  # MicSource asks for 20 ms blocks


def test_open_errors_are_one_line_with_a_remedy():
    busy = FakeDevice("Mic", open_error=("Error opening InputStream: Device unavailable", -9985))
    with pytest.raises(DeviceError) as err:
        MicSource(sd=FakeSoundDevice([busy])).open()
    assert "'Mic' is busy" in str(err.value) and "\n" not in str(err.value)
    weird = FakeDevice("Mic", open_error=("Error opening InputStream: Illegal combination", -9993))
    with pytest.raises(DeviceError, match="cannot open microphone 'Mic': Error opening"):
        MicSource(sd=FakeSoundDevice([weird])).open()
    with pytest.raises(DeviceError, match="no microphone found"):
        MicSource(sd=FakeSoundDevice([FakeDevice("Speaker", channels=0)])).open()
    with pytest.raises(DeviceError, match="matches 'nope'"):
        MicSource("nope", sd=FakeSoundDevice([FakeDevice("Mic")])).open()


def read_while(src: MicSource, out: list, polls: list, done, timeout: float = 10.0) -> None:
    """Read (and poll_stall) until ``done()``."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        x = src.read(0.05)
        if x is not None:
            out.append(x)
        if (poll := src.poll_stall()) is not None:
            polls.append(poll)
    assert done()


def test_a_lost_device_is_waited_for_and_reopened_by_name_when_it_is_back(no_leaked_threads):
    """Unplugged mid-stream (PortAudio ends the stream): no error, what it gave is kept, the
    loss is reported once; it is looked for again without rescanning under an open stream,
    and once plugged back in capture goes on in the same stream of audio."""
    first, second = tone(2.0), tone(1.0, hz=660.0)
    dev = FakeDevice("USB Mic", signal=stereo_at(first, 48000), speed=8.0, vanish_after=1.0)
    other = FakeDevice("Built-in", signal=None, speed=8.0)
    sd = FakeSoundDevice([other, dev], default_input=0)
    src = MicSource("USB Mic", sd=sd, reconnect_seconds=0.1)
    src.open()
    out, polls = [], []
    read_while(src, out, polls, lambda: src.lost and sd.reinits >= 2)  # looked for, twice
    assert src.stalled and not src.finished and polls == [(True, polls[0][1])]
    assert polls[0][1].startswith("Device lost: microphone 'USB Mic' is gone") and "\n" not in polls[0][1]  # fmt: skip
    assert sum(map(len, out)) == pytest.approx(16000, abs=400)  # the second it delivered
    assert sd.streams[0].closed and not sd.reinit_under_stream
    assert src.read(0.0) is None and src.poll_stall() is None  # reported once
    sd.plug(dev, stereo_at(second, 48000))
    read_while(src, out, polls, lambda: dev.played.is_set())
    assert not src.lost and not src.stalled and polls[1:] == [(False, "'USB Mic' is back: listening goes on")]  # fmt: skip
    assert len(sd.streams) == 2 and sd.streams[1].dev is dev and not sd.reinit_under_stream
    src.stop()
    while (x := src.read(0.0)) is not None:
        out.append(x)
    src.close()
    # One resampler all along: the audio is what it delivered, back to back, resampled once.
    heard = np.concatenate(out)
    both = soxr.resample(np.concatenate([stereo_at(first, 48000)[:48000], stereo_at(second, 48000)]).mean(axis=1), 48000, 16000, quality="HQ")  # fmt: skip
    start, end = 16000 - 400, len(both) - 400  # from before the seam; the end's tail differs
    assert len(heard) >= end  # (silence followed there, not the signal's end)
    np.testing.assert_allclose(heard[start:end], both[start:end], atol=1e-4)


def test_stop_while_a_device_is_lost_returns_at_once(no_leaked_threads):
    dev = FakeDevice("USB Mic", signal=stereo_at(tone(1.0), 48000), speed=8.0, vanish_after=0.5)
    src = MicSource(sd=FakeSoundDevice([dev]), reconnect_seconds=0.1)
    src.open()
    read_while(src, [], [], lambda: src.lost)
    t0 = time.monotonic()
    src.stop()
    while src.read(0.0) is not None:
        pass
    src.close()
    assert src.finished and time.monotonic() - t0 < 2.0


def test_silence_hint_once_per_quiet_spell(no_leaked_threads):
    dev = FakeDevice("Mic", signal=None, speed=1.0)  # zeros: muted (or macOS without permission)
    src = MicSource(sd=FakeSoundDevice([dev]), hint_after_seconds=0.3)
    src.open()
    hints = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.8:
        src.read(0.05)
        hints += [h for h in [src.poll_hint()] if h]
    src.close()
    assert len(hints) == 1 and "'Mic' delivers only silence" in hints[0]
    assert src.level_db == -100.0


def test_device_that_hangs_is_reported_once_as_a_stall_not_an_error(no_leaked_threads):
    dev = FakeDevice("USB Mic", signal=stereo_at(tone(1.0), 48000), speed=4.0, hang_after=0.25)
    src = MicSource(sd=FakeSoundDevice([dev]), hint_after_seconds=0.3, stall_after_seconds=0.8)
    src.open()
    hints, stalls = [], []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.0:
        src.read(0.05)  # never raises: a stalled device may come back
        hints += [h for h in [src.poll_hint()] if h]
        stalls += [s for s in [src.poll_stall()] if s]
    src.close()
    assert not hints  # nothing delivered is the stall's to report, once
    ((stalled, message),) = stalls
    assert stalled and "'USB Mic' stopped delivering audio" in message and "\n" not in message


def read_until(src: MicSource, predicate, timeout: float = 10.0) -> list:
    """Read (keeping what came) and poll stalls until ``predicate(stalls)``."""
    stalls, deadline = [], time.monotonic() + timeout
    while not predicate(stalls):
        assert time.monotonic() < deadline, stalls
        src.read(0.05)
        stalls += [s for s in [src.poll_stall()] if s]
    return stalls


@pytest.mark.parametrize("hold_on_abort", [False, True])
def test_a_stalled_device_resumes_and_stop_close_never_wait_for_it(
    hold_on_abort, no_leaked_threads
):
    """A suspended PulseAudio source: callbacks stop and PortAudio's stop() blocks until it
    resumes. The stall is reported once, capture goes on when it resumes, and stop + close
    return in well under 2 s while it is stalled: aborted and closed at once, or (a stream
    that holds on even to abort) left to close on its own thread once the device lets go."""
    dev = FakeDevice("USB Mic", signal=stereo_at(tone(4.0), 48000), speed=4.0, stall_after=0.25,
                     hold_on_abort=hold_on_abort)  # fmt: skip
    src = MicSource(sd=FakeSoundDevice([dev]), stall_after_seconds=0.3)
    src.open()
    try:
        stalled_resumed_and_stopped(src, dev)
        assert stream_release.streams_left() == int(hold_on_abort) == devices.open_streams()
        assert src._sd.streams[0].closed is not hold_on_abort
    finally:
        dev.resume()  # the device lets go: a stream left behind is closed
    assert src._release.join(5)
    assert (
        stream_release.streams_left() == 0 == devices.open_streams() and src._sd.streams[0].closed
    )


def stalled_resumed_and_stopped(src: MicSource, dev: FakeDevice) -> None:
    ((stalled, message),) = read_until(src, lambda s: s)
    assert stalled and "'USB Mic' stopped delivering audio" in message and src.stalled
    delivered = dev.frames_delivered
    dev.resume()
    (resumed,) = read_until(src, lambda s: s)
    assert resumed == (False, "'USB Mic' delivers audio again") and not src.stalled
    assert dev.frames_delivered > delivered
    dev.suspend()
    read_until(src, lambda s: s)
    assert src.stalled and dev.stalled.is_set()
    valve = threading.Timer(5.0, dev.resume)  # a stop that waits for the device fails, not hangs
    valve.start()
    t0 = time.monotonic()
    src.stop()
    while src.read(0.0) is not None:  # what was captured is still readable
        pass
    src.close()
    took = time.monotonic() - t0
    valve.cancel()
    valve.join()
    assert took < 2.0 and src.finished, took  # Stop answers within 2 s
