"""Microphone capture: an input device in, 16 kHz mono float32 out. The only module that opens
audio devices; the ``sounddevice`` module is injected (tests pass ``tests/fake_sounddevice.py``).

Threads. :class:`MicSource` has two sides:

- PortAudio's callback thread runs :meth:`MicSource._callback`, which only copies the block into
  a bounded deque (no locks, no MLX, no maths). When more than ``max_queue_seconds`` are queued
  the oldest blocks are dropped and counted (``dropped_seconds``); PortAudio's own input
  overflows are counted too (``overflows``).
- One consumer thread (the live transcriber's) calls :meth:`MicSource.read`, which downmixes,
  measures the level and resamples to 16 kHz with one ``soxr.ResampleStream`` kept for the whole
  stream, so the output equals resampling the whole recording at once (no clicks at block edges).

The device is opened at its own rate with up to two channels (PulseAudio reports 32, and every
host API accepts fewer than the maximum). Problems opening it become :class:`DeviceError` s with
one-line messages that say what to do: no device, busy.

A device PortAudio ends mid-stream (unplugged, or failed) is *lost*, not an end: its stream is
released, and every ``RECONNECT_SECONDS`` :meth:`MicSource.read` lets PortAudio look for devices
again (only while no stream is open, see :func:`rescan_devices`) and reopens the device of the
same name once it is back; the resampler goes on, so the caller's stream of audio simply resumes.
:meth:`MicSource.poll_stall` reports the loss once and the return once.
"No sound for 2 s" (no callbacks, or only digital zeros, which is what macOS delivers without
microphone permission) is a hint from :meth:`MicSource.poll_hint`, not an error.

A stalled device (callbacks stop, the stream stays open: a suspended PulseAudio source, CoreAudio
after an unplug) is not an end: :meth:`MicSource.poll_stall` says so once, and once more if it
delivers again, when capture simply goes on. PortAudio's stop() on such a stream blocks until the
device delivers again (abort() does not: it is used when the device has gone quiet), and a
stream may stall while stopping, so streams are stopped and closed on a helper thread that
:meth:`MicSource.stop` / :meth:`MicSource.close` wait for at most ``RELEASE_SECONDS``. A stream
still held by PortAudio at exit would hang Pa_Terminate or crash as its library is unloaded, so
then the process ends at once (:func:`exit_if_streams_left`).
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

from voxtral_mlx.errors import DeviceError
from voxtral_mlx.protocol import SAMPLE_RATE

log = logging.getLogger(__name__)
SILENCE_DB = -100.0  # level reported for digital silence
SILENT_PEAK = 1e-5  # below this peak a block counts as "no audio" (digital zeros, -100 dBFS)
MAX_CHANNELS = 2
BLOCK_SECONDS = 0.02  # callback block: small next to the model's 80 ms step
POLL_SECONDS = 0.005  # how often read() looks at the queue while waiting
RESAMPLE_QUALITY = "HQ"  # as for files (audio_io), so live audio and files go the same way
# Suggested input latency per host API when the caller gives none. ALSA (and PulseAudio behind
# it) at PortAudio's default (~35 ms) started streams only ~2 s late, again after every
# reopen; at 100 ms the first block came within 0.2 s, every time (measured with PulseAudio 16).
HOSTAPI_LATENCY = {"ALSA": 0.1}
RELEASE_SECONDS = 0.75  # longest stop()/close() waits for PortAudio (Stop must answer in 2 s)
QUIET_SECONDS = 0.5  # no callback for this long (blocks come every ~20-100 ms): abort, not stop
RECONNECT_SECONDS = 2.0  # a lost device is looked for this often
LIST_WAIT_SECONDS = 1.0  # longest list_devices waits for a rescan or open on another thread

# PortAudio error codes (portaudio.h) that have a specific remedy.
_PA_INVALID_DEVICE = -9996
_PA_DEVICE_UNAVAILABLE = -9985


@dataclass(frozen=True)
class InputDevice:
    """One capture device as PortAudio lists it."""

    index: int
    name: str
    hostapi: str
    channels: int  # max input channels
    default_samplerate: float
    is_default: bool = False


def permission_hint() -> str:
    """What to check when a device delivers nothing; empty except on macOS."""
    if sys.platform != "darwin":
        return ""
    return (
        "; on macOS, allow microphone access for this app (or its terminal) in "
        "System Settings > Privacy & Security > Microphone"
    )


def import_sounddevice():
    """The real ``sounddevice`` module, or a DeviceError saying how to get PortAudio."""
    try:
        import sounddevice
    except (ImportError, OSError) as err:  # OSError: 'PortAudio library not found'
        raise DeviceError(
            f"audio capture is unavailable ({err}); on Linux install PortAudio: "
            "apt-get install libportaudio2"
        ) from err
    return sounddevice


# PortAudio lists the devices that were there when it was initialised; re-initialising it is
# the only way to see one plugged in later, and must never happen under an open stream, nor
# while another thread lists devices (a lost device is looked for on the transcriber's thread,
# the GUI lists them on its own). Reentrant: open() lists devices while holding it.
_PA_LOCK = threading.RLock()
_open_streams = 0  # streams not yet closed, abandoned ones included (see _Release)


def rescan_devices(sd=None) -> bool:
    """Let PortAudio look for devices again (a microphone plugged in after it started is
    invisible until then). Skipped while any :class:`MicSource` has a stream open; True if
    it rescanned."""
    sd = sd if sd is not None else import_sounddevice()
    with _PA_LOCK:
        if _open_streams:
            return False
        try:
            sd._terminate()
            sd._initialize()
        except (AttributeError, sd.PortAudioError, OSError):
            return False
    return True


def list_devices(sd=None, rescan: bool = False) -> list[InputDevice]:
    """Every device with at least one input channel, the system default marked; with
    ``rescan``, PortAudio looks again first (see :func:`rescan_devices`)."""
    sd = sd if sd is not None else import_sounddevice()
    if rescan:
        rescan_devices(sd)
    if not _PA_LOCK.acquire(timeout=LIST_WAIT_SECONDS):  # never a frozen window
        raise DeviceError("the audio system is busy looking for devices: try again")
    try:
        devices = list(sd.query_devices())
        apis = list(sd.query_hostapis())
        default = _default_input_index(sd)
    except sd.PortAudioError as err:
        raise DeviceError(f"cannot list audio devices: {_pa_text(err)}") from err
    finally:
        _PA_LOCK.release()
    return [
        InputDevice(
            index=i,
            name=str(d["name"]),
            hostapi=str(apis[d["hostapi"]]["name"]) if d["hostapi"] < len(apis) else "?",
            channels=int(d["max_input_channels"]),
            default_samplerate=float(d["default_samplerate"]),
            is_default=i == default,
        )
        for i, d in enumerate(devices)
        if d["max_input_channels"] > 0
    ]


def _default_input_index(sd) -> int:
    chosen = sd.default.device[0]
    if isinstance(chosen, int) and chosen >= 0:
        return chosen
    try:
        return int(sd.query_devices(kind="input")["index"])
    except sd.PortAudioError:  # no default input (e.g. no sound server)
        return -1


def pick_device(devices: list[InputDevice], spec: int | str | None) -> InputDevice:
    """By index, else by case-insensitive name (exact, then substring); None: the default."""
    if not devices:
        raise DeviceError(
            "no microphone found: connect one (or start the sound server), then try again"
        )
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return next((d for d in devices if d.is_default), devices[0])
    if isinstance(spec, int) or spec.strip().isdigit():
        index = int(spec)
        for d in devices:
            if d.index == index:
                return d
        raise DeviceError(f"no input device has index {index}; inputs: {_names(devices)}")
    wanted = spec.strip().casefold()
    exact = [d for d in devices if d.name.casefold() == wanted]
    partial = [d for d in devices if wanted in d.name.casefold()]
    if exact or partial:
        return (exact or partial)[0]
    raise DeviceError(f"no input device matches '{spec}'; inputs: {_names(devices)}")


def _names(devices: list[InputDevice], limit: int = 8) -> str:
    names = ", ".join(f"{d.index} '{d.name}'" for d in devices[:limit])
    return names + (", ..." if len(devices) > limit else "")


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level in dB relative to full scale (1.0); SILENCE_DB for empty or all-zero input."""
    if samples.size == 0:
        return SILENCE_DB
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(SILENCE_DB, 20.0 * math.log10(rms)) if rms > 0 else SILENCE_DB


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
        self.hint_after_seconds = hint_after_seconds
        self.stall_after_seconds = stall_after_seconds
        self.reconnect_seconds = reconnect_seconds
        self.overflows = 0
        self.level_db = SILENCE_DB
        self._sd = sd
        self._clock = clock
        self._stream = None
        self._queue: deque[np.ndarray] = deque()
        self._in_frames = self._out_frames = self._dropped_frames = 0
        self._max_frames = 0
        self._resampler = None
        self._stopping = self._stream_ended = self._hinted = False
        self.stalled = self.lost = False
        self._reported = ""  # the state poll_stall last reported: "", "stalled" or "lost"
        self._generation = 0  # which stream a finished callback is about
        self._retry_at = 0.0
        self._release: _Release | None = None
        self.finished = False
        self._opened_at = self._heard_at = 0.0
        self._callback_at: float | None = None

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
        global _open_streams
        sd = self._sd
        try:
            with _PA_LOCK:  # no device rescan between picking the device and opening it
                self.device = pick(list_devices(sd))
                self.name = self.device.name
                self._set_rate(int(round(self.device.default_samplerate)))
                self.channels = max(1, min(self.device.channels, MAX_CHANNELS))
                self._opened_at = self._heard_at = self._clock()
                self._callback_at, self._generation = None, self._generation + 1
                self._stream = sd.InputStream(
                    device=self.device.index, samplerate=self.rate, channels=self.channels,
                    dtype="float32", blocksize=max(1, int(self.rate * BLOCK_SECONDS)),
                    latency=self._latency(), callback=self._callback,
                    finished_callback=lambda gen=self._generation: self._on_finished(gen),
                )  # fmt: skip
                _open_streams += 1
            self._stream.start()
        except (sd.PortAudioError, ValueError, OSError) as err:
            raise open_error(self.name, err) from err

    def _set_rate(self, rate: int) -> None:
        # One resampler for the whole source, a reopened device's audio included (same rate).
        if rate == self.rate:
            return
        self.rate, self._max_frames = rate, int(self.max_queue_seconds * rate)
        self._resampler = None
        if rate != SAMPLE_RATE:
            self._resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality=RESAMPLE_QUALITY)  # fmt: skip

    def _latency(self) -> float | str | None:
        if self.latency is not None:
            return self.latency
        return HOSTAPI_LATENCY.get(self.device.hostapi)

    def read(self, timeout: float = 0.0) -> np.ndarray | None:
        """Everything captured so far, resampled; waits up to ``timeout`` s for the first block.

        Returns None when nothing came (or, once stopped, when all is read: ``finished``). A
        device that went away is waited for (``lost``): what it captured before is returned
        first; it is reopened when it is back (see the module docstring).
        """
        deadline = self._clock() + timeout
        while True:
            blocks = self._take()
            if blocks:
                self.stalled = False
                return self._process(blocks)
            if self._stopping:
                return self._flush()
            if self._stream_ended or self.lost:
                self._look_for_device()
            else:
                self._check_stall()
            if self._clock() >= deadline:
                return None
            time.sleep(POLL_SECONDS)

    def poll_hint(self) -> str | None:
        """A one-line hint, once per quiet spell, when the device delivered nothing but silence
        for ``hint_after_seconds``. A device that delivers nothing at all is a stall, reported
        once by :meth:`poll_stall` (not twice, a hint first)."""
        now = self._clock()
        if self._hinted or self._stream is None or now - self._heard_at < self.hint_after_seconds:
            return None
        if self._callback_at is None or now - self._callback_at >= self.hint_after_seconds:
            return None
        self._hinted = True
        return (
            f"'{self.name}' delivers only silence: check that it is not muted" + permission_hint()
        )

    def poll_stall(self) -> tuple[bool, str] | None:
        """``(True, message)`` once when the device stops delivering or is lost,
        ``(False, message)`` once when it delivers again; None when nothing changed."""
        state = "lost" if self.lost else "stalled" if self.stalled else ""
        if state == self._reported:
            return None
        was, self._reported = self._reported, state
        if state == "lost":
            return True, (f"Device lost: microphone '{self.name}' is gone (unplugged?); waiting "
                          "for it to come back (or choose another microphone)")  # fmt: skip
        if state == "stalled":
            return True, str(self._lost_error()) + "; listening goes on when it delivers again"
        if was == "lost":
            return False, f"'{self.name}' is back: listening goes on"
        return False, f"'{self.name}' delivers audio again"

    @property
    def silent_seconds(self) -> float:
        """Seconds since the last block that was not silence (0 before open)."""
        return max(0.0, self._clock() - self._heard_at) if self._stream is not None else 0.0

    def stop(self) -> None:
        """Stop capturing (PortAudio calls back no more); queued audio stays readable. Waits at
        most RELEASE_SECONDS: a stalled stream is left to stop (and close) on its own thread."""
        self._stopping = True
        if self._stream is not None and self._release is None:
            last = self._callback_at if self._callback_at is not None else self._opened_at
            quiet = self.stalled or self._clock() - last >= QUIET_SECONDS
            self._release = _Release(self._stream, abort=quiet)
            self._release.stopped.wait(RELEASE_SECONDS)

    def close(self) -> None:
        """Release the device. Safe to call more than once, and after a failed open; waits at
        most RELEASE_SECONDS for PortAudio (then the helper thread closes it when it can)."""
        self.stop()
        self._stream = None
        release = self._release
        if release is not None and not (release.stopped.is_set() and release.join(RELEASE_SECONDS)):
            log.warning("'%s' did not stop: it is closed when the device delivers again", self.name)
            _guard_exit()
        self._queue.clear()
        self.finished = True

    @property
    def queued_seconds(self) -> float:
        if not self.rate:
            return 0.0
        return max(0, self._in_frames - self._out_frames - self._dropped_frames) / self.rate

    @property
    def dropped_seconds(self) -> float:
        return self._dropped_frames / self.rate if self.rate else 0.0

    # ---- PortAudio's thread -----------------------------------------------------------------
    def _callback(self, indata, frames, time_info, status) -> None:
        # Copy and queue, nothing else. deque append/popleft are atomic: no lock to wait on.
        if status and getattr(status, "input_overflow", False):
            self.overflows += 1
        self._queue.append(indata.copy())
        self._in_frames += frames
        self._callback_at = self._clock()
        while self._in_frames - self._out_frames - self._dropped_frames > self._max_frames:
            try:
                oldest = self._queue.popleft()
            except IndexError:  # the consumer took it meanwhile
                break
            self._dropped_frames += len(oldest)

    def _on_finished(self, generation: int) -> None:
        # PortAudio ends the stream after stop() or when the device fails (an older stream,
        # released after a loss, may say so late: that is not about the current one).
        if generation == self._generation:
            self._stream_ended = True

    # ---- internals ------------------------------------------------------------------------
    def _take(self) -> list[np.ndarray]:
        blocks = []
        while True:
            try:
                block = self._queue.popleft()
            except IndexError:
                return blocks
            self._out_frames += len(block)
            blocks.append(block)

    def _process(self, blocks: list[np.ndarray]) -> np.ndarray:
        raw = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
        mono = raw.mean(axis=1, dtype=np.float32) if raw.ndim == 2 else raw
        mono = np.ascontiguousarray(mono, dtype=np.float32)
        self.level_db = rms_dbfs(mono)
        if mono.size and float(np.max(np.abs(mono))) > SILENT_PEAK:
            self._heard_at, self._hinted = self._clock(), False
        if self._resampler is None:
            return mono
        return self._resampler.resample_chunk(mono)

    def _flush(self) -> np.ndarray | None:
        """The resampler's tail, once; then None for good."""
        if self.finished:
            return None
        self.finished = True
        if self._resampler is None:
            return None
        tail = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True)
        return tail if tail.size else None

    def _look_for_device(self) -> None:
        """The stream ended by itself: release it (lost), then every reconnect_seconds let
        PortAudio rescan and reopen the device of the same name if it is listed again."""
        now = self._clock()
        if not self.lost:
            self.lost = self.stalled = True
            self._retry_at = now + self.reconnect_seconds
            self._release_stream(abort=True)
            return
        if now < self._retry_at:
            return
        self._retry_at = now + self.reconnect_seconds
        rescan_devices(self._sd)  # skipped while any stream (another source's) is open
        name = self.name
        try:
            self._start(lambda devices: _named(devices, name))
        except DeviceError:
            self._release_stream(abort=True)  # opened but would not start
            return
        log.info("'%s' is back: capture goes on", name)
        self.lost = self.stalled = self._stream_ended = False

    def _release_stream(self, abort: bool) -> None:
        if self._stream is not None and self._release is None:
            release = _Release(self._stream, abort=abort)
            if not release.stopped.wait(RELEASE_SECONDS):
                _guard_exit()
        self._stream, self._release = None, None  # a release not yet done is in _Release.left

    def _check_stall(self) -> None:
        """No callback for stall_after_seconds: stalled (CoreAudio may never report an unplug;
        a suspended PulseAudio source resumes the same stream). A callback ends it."""
        last = self._callback_at if self._callback_at is not None else self._opened_at
        self.stalled = self._clock() - last >= self.stall_after_seconds

    def _lost_error(self) -> DeviceError:
        return DeviceError(
            f"microphone '{self.name}' stopped delivering audio (unplugged, or taken by another "
            f"app?): reconnect it or choose another input device{permission_hint()}"
        )


class _Release:
    """Stops and closes a stream on its own thread (see the module docstring): the consumer
    waits for ``stopped`` / :meth:`join` with a timeout; a stream left behind is closed, and
    stops counting as open, whenever PortAudio lets go of it."""

    left: set[_Release] = set()  # not done yet

    def __init__(self, stream: Any, abort: bool):
        self.stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(stream, abort),
                                        name="mic-release", daemon=True)  # fmt: skip
        _Release.left.add(self)
        self._thread.start()

    def _run(self, stream: Any, abort: bool) -> None:
        global _open_streams
        try:
            stream.abort() if abort else stream.stop()
        except Exception:  # a device that vanished may fail to stop; it is stopped anyway
            pass
        self.stopped.set()
        with _PA_LOCK:
            try:
                stream.close()
            except Exception:
                pass
            _open_streams -= 1
        _Release.left.discard(self)

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()


def _guard_exit() -> None:
    atexit.unregister(exit_if_streams_left)  # once; registered after sounddevice's
    atexit.register(exit_if_streams_left)  # Pa_Terminate, so it runs before it


def _named(devices: list[InputDevice], name: str) -> InputDevice:
    """The device called exactly ``name`` (a lost one is reopened only if it is the same)."""
    for device in devices:
        if device.name == name:
            return device
    raise DeviceError(f"no input device is called '{name}'")


def streams_left() -> int:
    """Streams PortAudio has not let go of (their device stalled while stopping)."""
    return len(_Release.left)


def exit_if_streams_left(code: int = 1) -> None:
    """End the process now (stdio flushed) if PortAudio still holds a stream: the interpreter's
    clean-up would hang in Pa_Terminate or crash when PortAudio's thread outlives its library.
    Front ends call it with their exit code; at exit it runs by itself (code 1)."""
    if not streams_left():
        return
    log.warning("a microphone never let go of its stream: ending the process without clean-up")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(code)


def open_error(name: str, err: BaseException) -> DeviceError:
    """A one-line DeviceError for a device that would not open, with what to do about it."""
    text = _pa_text(err)
    code = err.args[1] if len(err.args) > 1 and isinstance(err.args[1], int) else None
    lower = text.lower()
    if code == _PA_DEVICE_UNAVAILABLE or "busy" in lower or "unavailable" in lower:
        msg = f"microphone '{name}' is busy or unavailable: close other apps using it, or choose another input device"  # fmt: skip
    elif code == _PA_INVALID_DEVICE or "device -1" in lower:
        msg = "no microphone found: connect one, or choose another input device"
    else:
        msg = f"cannot open microphone '{name}': {text}"
    return DeviceError(msg + permission_hint())


def _pa_text(err: BaseException) -> str:
    return " ".join(str(err.args[0] if err.args else err).split())


__all__ = [
    "InputDevice",
    "MicSource",
    "list_devices",
    "open_error",
    "permission_hint",
    "pick_device",
    "rms_dbfs",
]
