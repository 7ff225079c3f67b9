"""Microphone capture: an input device in, 16 kHz mono float32 out. The only module that opens
audio devices; the ``sounddevice`` module is injected (tests pass the fake of
:mod:`voxtral_mlx.testing`). Listing and choosing devices: :mod:`voxtral_mlx.audio.devices`.

Threads. :class:`MicSource` has two sides:

- PortAudio's callback thread runs :meth:`MicSource._callback`, which only copies the block into
  the bounded :class:`~voxtral_mlx.audio.blocks.BlockQueue` (no locks, no MLX, no maths). When
  more than ``max_queue_seconds`` are queued the oldest blocks are dropped and counted
  (``dropped_seconds``); PortAudio's own input overflows are counted too (``overflows``).
- One consumer thread (the live transcriber's) calls :meth:`MicSource.read`, which downmixes,
  measures the level and resamples to 16 kHz (:class:`~voxtral_mlx.audio.blocks.ToMono16k`),
  returning a new array the caller owns: that queue is the only one live audio crosses.

The device is opened at its own rate with up to two channels (PulseAudio reports 32, and every
host API accepts fewer than the maximum). Problems opening it become DeviceErrors with one-line
messages that say what to do: no device, busy.

A device PortAudio ends mid-stream (unplugged, or failed) is *lost*, not an end: its stream is
released, and every ``RECONNECT_SECONDS`` :meth:`MicSource.read` lets PortAudio look for devices
again (only while no stream is open, see :func:`~voxtral_mlx.audio.devices.rescan_devices`) and
reopens the device of the same name once it is back; the resampler goes on, so the caller's
stream of audio simply resumes. :meth:`MicSource.poll_stall` reports the loss once and the
return once. "No sound for 2 s" (no callbacks, or only digital zeros, which is what macOS
delivers without microphone permission) is a hint from :meth:`MicSource.poll_hint`, not an error.

A stalled device (callbacks stop, the stream stays open: a suspended PulseAudio source, CoreAudio
after an unplug) is not an end: :meth:`MicSource.poll_stall` says so once, and once more if it
delivers again, when capture simply goes on. Streams are stopped and closed off this thread
(:mod:`voxtral_mlx.audio.stream_release`), so :meth:`MicSource.stop` / :meth:`MicSource.close`
wait for a stalled device at most ``RELEASE_SECONDS``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from voxtral_mlx.audio.blocks import BlockQueue, ToMono16k
from voxtral_mlx.audio.device_watch import DeviceWatch
from voxtral_mlx.audio.devices import (
    PORTAUDIO_LOCK,
    InputDevice,
    import_sounddevice,
    list_devices,
    named_device,
    open_error,
    pick_device,
    rescan_devices,
    stream_opened,
)
from voxtral_mlx.audio.levels import SILENCE_DB, is_sound, rms_dbfs
from voxtral_mlx.audio.stream_release import (
    RELEASE_SECONDS,
    StreamRelease,
    exit_if_streams_left,
    guard_exit,
)
from voxtral_mlx.errors import DeviceError

log = logging.getLogger(__name__)
MAX_CHANNELS = 2
BLOCK_SECONDS = 0.02  # callback block: small next to the model's 80 ms step
POLL_SECONDS = 0.005  # how often read() looks at the queue while waiting
# Suggested input latency per host API when the caller gives none. ALSA (and PulseAudio behind
# it) at PortAudio's default (~35 ms) started streams only ~2 s late, again after every
# reopen; at 100 ms the first block came within 0.2 s, every time (measured with PulseAudio 16).
HOSTAPI_LATENCY = {"ALSA": 0.1}
QUIET_SECONDS = 0.5  # no callback for this long (blocks come every ~20-100 ms): abort, not stop
RECONNECT_SECONDS = 2.0  # a lost device is looked for this often


class MicSource:
    """Live audio from an input device as 16 kHz mono float32 chunks.

    ``device``: index, name (substring, case-insensitive) or None for the system default.
    ``latency``: PortAudio's suggested input latency (seconds, "low" or "high"); None: 0.1 s on
    ALSA (see ``HOSTAPI_LATENCY``), PortAudio's default elsewhere.
    Verbs (all on the consumer thread): :meth:`open` (DeviceError if it cannot), :meth:`read`,
    :meth:`poll_hint`, :meth:`poll_stall`, :meth:`stop` (no more capture; what was captured
    stays readable), :meth:`close`; stop and close return within ``RELEASE_SECONDS`` each.
    Read-only any time: ``queued_seconds``, ``dropped_seconds``, ``overflows``, ``level_db``
    (RMS dBFS of the last chunk read), ``name``, ``finished``, ``stalled`` (no callback for
    ``stall_after_seconds``, or lost), ``lost`` (PortAudio ended the stream: waiting for the
    device to come back, see the module docstring), ``silent_seconds``.
    """

    def __init__(
        self,
        device: int | str | None = None,
        *,
        sd: Any = None,
        max_queue_seconds: float = 20.0,
        hint_after_seconds: float = 2.0,
        stall_after_seconds: float = 3.0,
        reconnect_seconds: float = RECONNECT_SECONDS,
        latency: float | str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.device_spec = device
        self.latency = latency
        self.name = "default input" if device is None else str(device)
        self.device: InputDevice | None = None
        self.rate = 0
        self.channels = 0
        self.max_queue_seconds = max_queue_seconds
        self.reconnect_seconds = reconnect_seconds
        self.overflows = 0
        self.level_db = SILENCE_DB
        self._sd = sd
        self._clock = clock
        self._stream = None
        self._queue = BlockQueue()
        self._convert: ToMono16k | None = None
        self._watch = DeviceWatch(clock, hint_after_seconds, stall_after_seconds)
        self._stopping = self._stream_ended = False
        self._generation = 0  # which stream a finished callback is about
        self._retry_at = 0.0
        self._release: StreamRelease | None = None
        self.finished = False

    # ---- consumer thread ------------------------------------------------------------------
    def open(self) -> None:
        """Open and start the device at its own rate; DeviceError with the remedy if it fails."""
        self._sd = self._sd if self._sd is not None else import_sounddevice()
        try:
            self._start(lambda devices: pick_device(devices, self.device_spec))
        except DeviceError:
            self.close()
            raise

    def _start(self, pick: Callable[[list[InputDevice]], InputDevice]) -> None:
        """Open and start the device ``pick`` chooses from those listed now."""
        sd = self._sd
        try:
            with PORTAUDIO_LOCK:  # no device rescan between picking the device and opening it
                self.device = pick(list_devices(sd))
                self.name = self.device.name
                self._set_rate(int(round(self.device.default_samplerate)))
                self.channels = max(1, min(self.device.channels, MAX_CHANNELS))
                self._watch.started()
                self._generation += 1
                self._stream = sd.InputStream(
                    device=self.device.index, samplerate=self.rate, channels=self.channels,
                    dtype="float32", blocksize=max(1, int(self.rate * BLOCK_SECONDS)),
                    latency=self._latency(), callback=self._callback,
                    finished_callback=lambda gen=self._generation: self._on_finished(gen),
                )  # fmt: skip
                stream_opened()
            self._stream.start()
        except (sd.PortAudioError, ValueError, OSError) as err:
            raise open_error(self.name, err) from err

    def _set_rate(self, rate: int) -> None:
        # One resampler for the whole source, a reopened device's audio included (same rate).
        if rate != self.rate:
            self.rate, self._convert = rate, ToMono16k(rate)
            self._queue.max_frames = int(self.max_queue_seconds * rate)

    def _latency(self) -> float | str | None:
        if self.latency is not None:
            return self.latency
        return HOSTAPI_LATENCY.get(self.device.hostapi)

    def read(self, timeout: float = 0.0) -> np.ndarray | None:
        """Everything captured so far, resampled, as a new array the caller owns; waits up to
        ``timeout`` s for the first block.

        Returns None when nothing came (or, once stopped, when all is read: ``finished``). A
        device that went away is waited for (``lost``): what it captured before is returned
        first; it is reopened when it is back (see the module docstring).
        """
        deadline = self._clock() + timeout
        while True:
            blocks = self._queue.take()
            if blocks:
                self._watch.stalled = False
                return self._process(blocks)
            if self._stopping:
                return self._flush()
            if self._stream_ended or self.lost:
                self._look_for_device()
            else:
                self._watch.check_stall()
            if self._clock() >= deadline:
                return None
            time.sleep(POLL_SECONDS)

    def poll_hint(self) -> str | None:
        """A one-line hint, once per quiet spell, when the device delivered nothing but silence
        for ``hint_after_seconds`` (see :class:`~voxtral_mlx.audio.device_watch.DeviceWatch`)."""
        return self._watch.poll_hint(self.name) if self._stream is not None else None

    def poll_stall(self) -> tuple[bool, str] | None:
        """``(True, message)`` once when the device stops delivering or is lost,
        ``(False, message)`` once when it delivers again; None when nothing changed."""
        return self._watch.poll_stall(self.name)

    @property
    def stalled(self) -> bool:
        return self._watch.stalled

    @property
    def lost(self) -> bool:
        return self._watch.lost

    @property
    def silent_seconds(self) -> float:
        """Seconds since the last block that was not silence (0 before open)."""
        return self._watch.silent_seconds() if self._stream is not None else 0.0

    def stop(self) -> None:
        """Stop capturing (PortAudio calls back no more); queued audio stays readable. Waits at
        most RELEASE_SECONDS: a stalled stream is left to stop (and close) on its own thread."""
        self._stopping = True
        if self._stream is not None and self._release is None:
            quiet = self.stalled or self._watch.quiet_for() >= QUIET_SECONDS
            self._release = StreamRelease(self._stream, abort=quiet)
            self._release.stopped.wait(RELEASE_SECONDS)

    def close(self) -> None:
        """Release the device. Safe to call more than once, and after a failed open; waits at
        most RELEASE_SECONDS for PortAudio (then the helper thread closes it when it can)."""
        self.stop()
        self._stream = None
        release = self._release
        if release is not None and not (release.stopped.is_set() and release.join(RELEASE_SECONDS)):
            log.warning("'%s' did not stop: it is closed when the device delivers again", self.name)
            guard_exit()
        self._queue.clear()
        self.finished = True

    @property
    def queued_seconds(self) -> float:
        return self._queue.queued_frames / self.rate if self.rate else 0.0

    @property
    def dropped_seconds(self) -> float:
        return self._queue.dropped_frames / self.rate if self.rate else 0.0

    # ---- PortAudio's thread -----------------------------------------------------------------
    def _callback(self, indata, frames, time_info, status) -> None:
        # Copy and queue, nothing else (BlockQueue takes no lock).
        if status and getattr(status, "input_overflow", False):
            self.overflows += 1
        self._queue.put(indata, frames)
        self._watch.called_back()

    def _on_finished(self, generation: int) -> None:
        # PortAudio ends the stream after stop() or when the device fails (an older stream,
        # released after a loss, may say so late: that is not about the current one).
        if generation == self._generation:
            self._stream_ended = True

    # ---- internals ------------------------------------------------------------------------
    def _process(self, blocks: list[np.ndarray]) -> np.ndarray:
        mono = self._convert.mono(blocks)
        self.level_db = rms_dbfs(mono)
        if is_sound(mono):
            self._watch.heard()
        return self._convert.resample(mono)

    def _flush(self) -> np.ndarray | None:
        """The resampler's tail, once; then None for good."""
        if self.finished:
            return None
        self.finished = True
        return self._convert.flush() if self._convert is not None else None

    def _look_for_device(self) -> None:
        """The stream ended by itself: release it (lost), then every reconnect_seconds let
        PortAudio rescan and reopen the device of the same name if it is listed again."""
        now = self._clock()
        if not self.lost:
            self._watch.lost = self._watch.stalled = True
            self._retry_at = now + self.reconnect_seconds
            self._release_stream(abort=True)
            return
        if now < self._retry_at:
            return
        self._retry_at = now + self.reconnect_seconds
        rescan_devices(self._sd)  # skipped while any stream (another source's) is open
        name = self.name
        try:
            self._start(lambda devices: named_device(devices, name))
        except DeviceError:
            self._release_stream(abort=True)  # opened but would not start
            return
        log.info("'%s' is back: capture goes on", name)
        self._watch.lost = self._watch.stalled = self._stream_ended = False

    def _release_stream(self, abort: bool) -> None:
        if self._stream is not None and self._release is None:
            release = StreamRelease(self._stream, abort=abort)
            if not release.stopped.wait(RELEASE_SECONDS):
                guard_exit()
        self._stream, self._release = None, None  # one not yet done is in StreamRelease.left


# Device helpers the GUI and the CLI import from here; their home is devices.py and
# stream_release.py.
__all__ = ["InputDevice", "MicSource", "exit_if_streams_left", "list_devices"]
