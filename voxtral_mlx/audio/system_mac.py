"""System audio on macOS: what the computer plays, from ScreenCaptureKit through PyObjC, as 16 kHz
mono float32 behind the :class:`~voxtral_mlx.audio.sources.AudioSource` protocol. No MLX.

Mechanism: ScreenCaptureKit audio (macOS 13+), not a Core Audio process tap (macOS 14.2+). Both
are bridged by PyObjC, but the tap is read through an IOProc that Core Audio calls on its
real-time thread: from Python that thread would wait for the GIL, and PyObjC's own notes on
CoreAudio warn that its API may not work correctly from Python. ScreenCaptureKit hands sample
buffers to an Objective-C delegate on a dispatch queue, the kind of callback PyObjC bridges
every day; it also runs on every macOS the app supports (14.0+). It tells us when permission is
refused (an error), where a process tap yields silence without a word. The price: it asks for
screen-recording permission, which macOS 15 asks again for from time to time. Facts, sources and
what could not be run here: docs/macos-system-audio.md. The framework side:
:mod:`voxtral_mlx.audio.system_mac_sck`, injectable as ``backend``.

Threads. The backend's dispatch queue runs :meth:`MacSystemAudioSource._on_audio`, which only
queues the 48 kHz stereo frames (and zeros for a gap in their timestamps) in the bounded
:class:`~voxtral_mlx.audio.blocks.BlockQueue`. The one consumer thread calls
:meth:`MacSystemAudioSource.read`: downmix, level, soxr to 16 kHz
(:class:`~voxtral_mlx.audio.blocks.ToMono16k`).

Silence and faults. Silence is normal (nothing plays) and is never a stall; but a capture that
has delivered nothing but silence (or nothing) for ``hint_after_seconds`` since it started gets
one hint from :meth:`MacSystemAudioSource.poll_hint` naming the permission pane, never an
all-zero stream without a word. A refused permission: one DeviceError from
:meth:`MacSystemAudioSource.open`. A stream the user or macOS stopped, a changed format: one
DeviceError from :meth:`MacSystemAudioSource.read`, after the audio captured before it. ScreenCaptureKit may send no buffers while nothing plays (unverified): a gap in the
buffers' timestamps is filled with zeros (up to ``gap_fill_max_seconds``), so this source's
audio keeps time with the microphone's.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from voxtral_mlx.audio.blocks import BlockQueue, ToMono16k
from voxtral_mlx.audio.device_watch import DeviceWatch
from voxtral_mlx.audio.levels import SILENCE_DB, is_sound, rms_dbfs
from voxtral_mlx.audio.stream_release import RELEASE_SECONDS
from voxtral_mlx.audio.system_mac_words import macos_version, permission_pane, silence_hint
from voxtral_mlx.errors import DeviceError

log = logging.getLogger(__name__)
POLL_SECONDS = 0.005  # how often read() looks at the queue while waiting
GAP_MIN_SECONDS = 0.005  # timestamps further apart than the audio between them: a gap to fill


class MacSystemAudioSource:
    """What the computer plays, from ScreenCaptureKit, as 16 kHz mono float32 chunks.

    ``backend``: the framework side (default: a
    :class:`~voxtral_mlx.audio.system_mac_sck.ScreenCaptureBackend`, made at :meth:`open`):
    ``start(on_audio, on_error)`` blocks until capture runs or raises DeviceError, then calls
    ``on_audio(frames n x channels float32, rate, pts seconds or None)`` and ``on_error(
    DeviceError)`` from its own thread; ``stop()``; ``pane``: where permission is granted.
    Verbs and attributes as :class:`~voxtral_mlx.audio.system.SystemAudioSource` (consumer
    thread only); stop and close return within about RELEASE_SECONDS whatever the backend does.
    ``stall_after_seconds``: no buffer for this long is a stall (default never: see the module
    docstring). ``filled_seconds``: zeros put in timestamp gaps so far.
    """

    overflows = 0  # the queue counts what it drops
    lost = False  # ScreenCaptureKit hears the system mix, whatever the output device

    def __init__(self, *, backend: Any = None, max_queue_seconds: float = 20.0,
                 hint_after_seconds: float = 5.0, stall_after_seconds: float = math.inf,
                 gap_fill_max_seconds: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):  # fmt: skip
        self.name = "system audio"
        self.level_db = SILENCE_DB
        self.finished = False
        self.filled_seconds = 0.0
        self.max_queue_seconds = max_queue_seconds
        self.hint_after_seconds = hint_after_seconds
        self.gap_fill_max_seconds = gap_fill_max_seconds
        self._backend = backend
        self._clock = clock
        self._queue = BlockQueue()
        self._watch = DeviceWatch(clock, hint_after_seconds, stall_after_seconds)
        self._format: tuple[int, int] | None = None  # (rate, channels) of the first buffer
        self._next_pts: float | None = None  # where the next buffer should start
        self._convert: ToMono16k | None = None
        self._error: DeviceError | None = None  # the first error, raised once by read()
        self._opened = self._started = self._stopping = self._failed = False
        self._heard = self._hinted = False
        self._reported = False  # the stall state poll_stall last reported

    # ---- consumer thread ------------------------------------------------------------------
    def open(self) -> None:
        """Start capturing; DeviceError (one line, with the remedy) if it cannot."""
        if self._backend is None:
            from voxtral_mlx.audio.system_mac_sck import ScreenCaptureBackend

            self._backend = ScreenCaptureBackend()
        self._watch.started()
        try:
            self._backend.start(self._on_audio, self._on_error)
        except DeviceError:
            self.close()
            raise
        self._started = self._opened = True

    def read(self, timeout: float = 0.0) -> np.ndarray | None:
        """Everything captured so far at 16 kHz, as a new array the caller owns; waits up to
        ``timeout`` s for audio. None when nothing came (or, stopped or failed and read out:
        ``finished``). Raises the capture's DeviceError once, after the audio before it."""
        deadline = self._clock() + timeout
        while True:
            blocks = self._queue.take()
            if blocks:
                return self._process(blocks)
            if self._error is not None:
                err, self._error, self._failed = self._error, None, True
                raise err
            if self._stopping or self._failed:
                return self._flush()
            if not self._opened:
                return None
            self._watch.check_stall()
            if self._clock() >= deadline:
                return None
            time.sleep(POLL_SECONDS)

    def poll_hint(self) -> str | None:
        """Once, when nothing but silence (or nothing at all) came for ``hint_after_seconds``
        since the start: where to allow the capture. Sound once heard proves the permission."""
        if self._hinted or self._heard or not self._opened or self._stopping or self._failed:
            return None
        if self._watch.silent_seconds() < self.hint_after_seconds:
            return None
        self._hinted = True
        return silence_hint(getattr(self._backend, "pane", None) or permission_pane(macos_version()))  # fmt: skip

    def poll_stall(self) -> tuple[bool, str] | None:
        """``(True, message)`` once when no buffer came for ``stall_after_seconds``,
        ``(False, message)`` once when they come again; None when nothing changed."""
        stalled = self._watch.stalled
        if stalled == self._reported:
            return None
        self._reported = stalled
        if stalled:
            return True, (f"system audio: nothing came for {self._watch.stall_after_seconds:g} s;"
                          " listening goes on when it delivers again")  # fmt: skip
        return False, "system audio delivers again"

    @property
    def stalled(self) -> bool:
        return self._watch.stalled

    @property
    def silent_seconds(self) -> float:
        return self._watch.silent_seconds() if self._opened else 0.0

    @property
    def queued_seconds(self) -> float:
        return self._queue.queued_frames / self._format[0] if self._format else 0.0

    @property
    def dropped_seconds(self) -> float:
        return self._queue.dropped_frames / self._format[0] if self._format else 0.0

    def stop(self) -> None:
        """No more capture; what was captured stays readable. The backend is stopped on a
        helper thread, waited for at most RELEASE_SECONDS (one that hangs is left to it)."""
        self._stopping = True
        if not self._started:
            return
        self._started = False
        helper = threading.Thread(target=self._stop_backend, name="system-audio-stop", daemon=True)
        helper.start()
        helper.join(RELEASE_SECONDS)
        if helper.is_alive():
            log.warning("system audio: ScreenCaptureKit did not stop in %g s", RELEASE_SECONDS)

    def close(self) -> None:
        """Stop and forget what is queued. Safe to call more than once, and after a failed open."""
        self.stop()
        self._queue.clear()
        self.finished = True

    # ---- the backend's thread -------------------------------------------------------------
    def _on_audio(self, frames: np.ndarray, rate: int, pts: float | None) -> None:
        # Queue the frames (and zeros for a gap before them), nothing else: no lock, no maths.
        if self._stopping or self._error is not None or self._failed:
            return
        fmt = (int(rate), frames.shape[1])
        if self._format is None:
            self._queue.max_frames = int(self.max_queue_seconds * fmt[0])
            self._format = fmt
        elif fmt != self._format:
            was = self._format
            return self._on_error(DeviceError(
                f"system audio: the capture changed from {was[0]} Hz x {was[1]} to {fmt[0]} Hz x "
                f"{fmt[1]}; listen again"))  # fmt: skip
        if pts is not None:
            self._fill_gap(pts, *fmt)
            self._next_pts = pts + len(frames) / fmt[0]
        self._queue.put(frames, len(frames))
        self._watch.called_back()

    def _fill_gap(self, pts: float, rate: int, channels: int) -> None:
        if self._next_pts is None or pts - self._next_pts <= GAP_MIN_SECONDS:
            return  # the first buffer, timestamps that touch, or overlap (nothing to fill)
        fill = min(round((pts - self._next_pts) * rate), round(self.gap_fill_max_seconds * rate))
        self._queue.put(np.zeros((fill, channels), np.float32), fill)
        self.filled_seconds += fill / rate

    def _on_error(self, err: DeviceError) -> None:
        # The first error is the one reported (a failed stream may say more after it).
        if self._error is None and not self._failed:
            log.info("%s", err)
            self._error = err

    # ---- internals ------------------------------------------------------------------------
    def _process(self, blocks: list[np.ndarray]) -> np.ndarray:
        if self._convert is None:
            self._convert = ToMono16k(self._format[0])
        self._watch.stalled = False
        mono = self._convert.mono(blocks)
        self.level_db = rms_dbfs(mono)
        if is_sound(mono):
            self._heard = True
            self._watch.heard()
        return self._convert.resample(mono)

    def _flush(self) -> np.ndarray | None:
        """The resampler's tail, once; then None for good."""
        if self.finished:
            return None
        self.finished = True
        return self._convert.flush() if self._convert is not None else None

    def _stop_backend(self) -> None:
        try:
            self._backend.stop()
        except Exception:  # the source is stopping: a failing stop is only logged
            log.exception("system audio: stopping ScreenCaptureKit failed")


__all__ = ["MacSystemAudioSource"]
