"""Stand-ins for the ``sounddevice`` module: input devices that play arrays from a thread.

``FakeSoundDevice([FakeDevice("USB Mic", signal=x, rate=48000, channels=2)])`` has what
``voxtral_mlx.audio.mic`` uses: ``query_devices``, ``query_hostapis``, ``default.device``,
``InputStream`` and ``PortAudioError``. A started stream's thread delivers the device's
``signal`` (frames x channels at the device rate) in blocks of the stream's ``blocksize`` (the
device's own block when 0), paced at ``speed`` x real time, then silence (zeros) like a quiet
microphone, until stopped. ``vanish_after`` seconds into the signal the device is unplugged
mid-stream as PortAudio reports it: no more callbacks, ``finished_callback`` called, the stream
inactive, ``stop()`` raising, and the device gone from ``devices`` (opening it fails until
``plug(device)`` puts it back, playing its signal from the start); ``hang_after`` seconds in,
callbacks just stop (what CoreAudio does when a device is unplugged). ``stall_after`` seconds in
(or on ``suspend()``) it stalls like a suspended PulseAudio source: no callbacks, and
``stop()``/``close()`` block, until ``resume()``, when callbacks go on from where they were
(``abort()`` returns at once, as PortAudio's does). ``hold_on_abort`` makes abort block too (a
stream that stalls while stopping). ``open_error=(message, code)`` makes opening fail.

Like PortAudio, it lists the devices that were there when it was initialised: one appended to
``devices`` later (plugged in) shows only after ``_terminate()`` + ``_initialize()``, which
sounddevice offers for exactly that; doing so under an open stream is recorded in
``reinit_under_stream`` (it would kill the stream).

:class:`FileSoundDevice` is the self-tests' microphone: one such device playing a sound file.
Module-level imports are stdlib only (the packaged app's launcher imports this before anything
heavy); files are read with soundfile, never PyAV (the app bundle leaves PyAV out).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

DEVICE_NAME = "Self-test file"


class PortAudioError(Exception):
    """Like sounddevice's: ``args == (message, error code)``."""


class CallbackFlags:
    def __init__(self, input_overflow: bool = False):
        self.input_overflow = input_overflow

    def __bool__(self) -> bool:
        return self.input_overflow


@dataclass
class FakeDevice:
    name: str
    signal: np.ndarray | None = None  # (frames, channels) float32 at `rate`
    rate: int = 48000
    channels: int = 2
    block: int = 512  # the device's own block size, used when the stream asks for 0
    speed: float = 1.0  # times real time
    vanish_after: float | None = None  # seconds of signal, then the device is gone
    hang_after: float | None = None  # seconds of signal, then callbacks stop without a word
    stall_after: float | None = None  # seconds of signal, then suspend() (see the docstring)
    hold_on_abort: bool = False
    open_error: tuple[str, int] | None = None
    overflow_every: int = 0  # flag input_overflow on every n-th callback (0: never)
    played: threading.Event = field(default_factory=threading.Event)  # whole signal delivered
    frames_delivered: int = 0
    flowing: threading.Event = field(default_factory=threading.Event)  # cleared while suspended
    stalled: threading.Event = field(default_factory=threading.Event)  # set once it has stalled

    def __post_init__(self):
        self.flowing.set()

    def suspend(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()


class FakeInputStream:
    def __init__(self, sd, device=None, samplerate=None, channels=None, dtype=None,
                 blocksize=0, latency=None, callback=None, finished_callback=None, **_):  # fmt: skip
        self.dev, self.sd = sd.resolve(device), sd
        if self.dev.open_error is not None:
            raise PortAudioError(*self.dev.open_error)
        if not any(d is self.dev for d in sd.devices):  # listed, but unplugged since
            raise PortAudioError("Device unavailable", -9985)
        if samplerate != self.dev.rate or not 1 <= channels <= self.dev.channels:
            raise PortAudioError("Invalid sample rate or channel count", -9997)
        assert dtype == "float32"
        self.channels, self.latency = channels, latency
        self.blocksize = blocksize or self.dev.block
        self.callback, self.finished_callback = callback, finished_callback
        self.active = self.closed = self.vanished = False
        self._halt = threading.Event()
        self._aborted = False
        self._thread: threading.Thread | None = None
        sd.streams.append(self)

    def start(self) -> None:
        self.active = True
        self._thread = threading.Thread(target=self._play, name="fake-portaudio", daemon=True)
        self._thread.start()

    def _play(self) -> None:
        import numpy as np

        dev, n = self.dev, self.blocksize
        signal = dev.signal if dev.signal is not None else np.zeros((0, dev.channels), np.float32)
        vanish = None if dev.vanish_after is None else int(dev.vanish_after * dev.rate)
        hang = None if dev.hang_after is None else int(dev.hang_after * dev.rate)
        stall = None if dev.stall_after is None else int(dev.stall_after * dev.rate)
        t0, pos, calls = time.monotonic(), 0, 0
        while not self._halt.is_set():
            if stall is not None and pos >= stall:
                stall = None
                dev.suspend()
            if not dev.flowing.is_set():  # suspended: stop() waits here too, like PortAudio
                dev.stalled.set()
                while not dev.flowing.wait(0.005):
                    if self._aborted and not dev.hold_on_abort:
                        return
                t0 = time.monotonic() - pos / dev.rate / dev.speed  # pace on from here
                continue
            if vanish is not None and pos >= vanish:
                self.vanished, self.active = True, False
                self.sd.unplug(dev)
                if self.finished_callback:
                    self.finished_callback()
                return
            if hang is not None and pos >= hang:  # CoreAudio after an unplug: just silence
                self._halt.wait()
                return
            block = np.zeros((n, dev.channels), np.float32)
            part = signal[pos : pos + n]
            block[: len(part)] = part
            calls += 1
            overflow = bool(dev.overflow_every) and calls % dev.overflow_every == 0
            self.callback(block[:, : self.channels].copy(), n, None, CallbackFlags(overflow))
            pos += n
            dev.frames_delivered = pos
            if pos >= len(signal):
                dev.played.set()
            # Pace against the start time, so the average rate is exact.
            self._halt.wait(max(0.0, t0 + pos / dev.rate / dev.speed - time.monotonic()))

    def stop(self) -> None:
        if self.vanished:
            raise PortAudioError("Error stopping stream: Unanticipated host error", -9999)
        self._halt.set()
        if self._thread is not None:
            self._thread.join()
        if self.active and self.finished_callback:
            self.finished_callback()
        self.active = False

    def abort(self) -> None:
        """Like stop, without waiting for a suspended device (PortAudio discards its buffers)."""
        self._aborted = True
        self.stop()

    def close(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join()
        self.active, self.closed = False, True


class FakeSoundDevice:
    """Module-like: pass it as ``MicSource(sd=FakeSoundDevice([...]))``."""

    PortAudioError = PortAudioError
    CallbackFlags = CallbackFlags

    def __init__(self, devices: list[FakeDevice], default_input: int = 0,
                 host_api: str = "Fake Audio"):  # fmt: skip
        self.devices = devices  # what is plugged in
        self.host_api = host_api
        self._listed = list(devices)  # what PortAudio saw when it was initialised
        self.default = SimpleNamespace(device=[-1, -1])
        self._default_input = default_input
        self.streams: list[FakeInputStream] = []
        self.reinits = 0
        self.reinit_under_stream = False

    def _terminate(self) -> None:
        if any(s.active and not s.closed for s in self.streams):
            self.reinit_under_stream = True

    def unplug(self, device: FakeDevice) -> None:
        self.devices = [d for d in self.devices if d is not device]

    def plug(self, device: FakeDevice, signal: np.ndarray | None = None,
             vanish_after: float | None = None) -> None:  # fmt: skip
        """Plug ``device`` (back) in: it plays ``signal`` (else its own) from the start and
        vanishes again only after ``vanish_after``; listed after a rescan, as with PortAudio."""
        device.vanish_after = vanish_after
        if signal is not None:
            device.signal = signal
        device.played.clear()
        self.unplug(device)
        self.devices.append(device)

    def _initialize(self) -> None:
        self._listed = list(self.devices)
        self.reinits += 1

    def query_hostapis(self, index=None):
        apis = ({"name": self.host_api, "devices": list(range(len(self._listed)))},)
        return apis if index is None else apis[index]

    def _info(self, i: int) -> dict:
        d = self._listed[i]
        return {"name": d.name, "index": i, "hostapi": 0, "max_input_channels": d.channels,
                "max_output_channels": 0, "default_samplerate": float(d.rate)}  # fmt: skip

    def query_devices(self, device=None, kind=None):
        if kind == "input":
            if self._default_input < 0:
                raise PortAudioError("Error querying device -1", -9996)
            return self._info(self._default_input)
        if device is None:
            return [self._info(i) for i in range(len(self._listed))]
        return self._info(device)

    def resolve(self, device) -> FakeDevice:
        if device is None:
            device = self._default_input
        if not 0 <= device < len(self._listed):
            raise PortAudioError("Invalid device", -9996)
        return self._listed[device]

    def InputStream(self, **kwargs) -> FakeInputStream:  # noqa: N802 (sounddevice's name)
        return FakeInputStream(self, **kwargs)


def stereo_at(samples_16k: np.ndarray, rate: int) -> np.ndarray:
    """A 16 kHz mono test signal as a device would deliver it: ``rate`` Hz, two channels
    (left = the signal, right = 0.5 x it, so the downmix is 0.75 x the signal)."""
    import numpy as np
    import soxr

    x = soxr.resample(samples_16k.astype(np.float32), 16000, rate).astype(np.float32)
    return np.stack([x, 0.5 * x], axis=1)


class FileSoundDevice(FakeSoundDevice):
    """The self-tests' microphone: one mono input device, :data:`DEVICE_NAME`, that plays
    ``signal`` (mono float32 at ``rate``) at ``speed`` x real time, then silence; ``played`` is
    set once the whole signal has been delivered, ``seconds`` is its length."""

    def __init__(self, signal, rate: int, speed: float = 8.0):
        import numpy as np

        mono = np.asarray(signal, np.float32).reshape(-1, 1)
        device = FakeDevice(DEVICE_NAME, signal=mono, rate=int(rate), channels=1, block=1024,
                            speed=speed)  # fmt: skip
        super().__init__([device], host_api="Self-test")
        self.played = device.played
        self.seconds = len(mono) / int(rate)

    @classmethod
    def from_file(cls, path: str | Path, speed: float = 8.0) -> FileSoundDevice:
        """Play a sound file (soundfile reads it; channels averaged to mono, its own rate)."""
        import soundfile as sf

        signal, rate = sf.read(str(path), dtype="float32", always_2d=True)
        return cls(signal.mean(axis=1), rate, speed)
