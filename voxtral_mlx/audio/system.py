"""System audio on Linux: what the computer plays, from the monitor of the default output of
PulseAudio (or PipeWire through its PulseAudio interface, pipewire-pulse), as 16 kHz mono
float32 behind the :class:`~voxtral_mlx.audio.sources.AudioSource` protocol. No MLX here.

Mechanism (:mod:`voxtral_mlx.audio.pulse_tools`): a ``parec`` child process records ``<default
sink>.monitor`` as raw float32 at 16 kHz mono, read on a thread; a ``pactl subscribe`` child
says when the server changes (a new default output), and the source then records the new
default's monitor. The monitor is named, not ``@DEFAULT_MONITOR@``, so the source knows which
output it hears. Why these tools: pulseaudio-utils is what CI installs already (.ci/run, no new
Python dependency), it speaks to PulseAudio and pipewire-pulse alike, and a child process can
neither crash nor block the interpreter. pulsectl, the well-kept binding, controls the server
but records no streams (that would be our own ctypes stream code); PortAudio through ALSA sees
only "pulse" and "default", and pointing it at a monitor (``PULSE_SOURCE``) would move the
microphone of the same process too. The server resamples to 16 kHz (as for any client of
another rate), so there is no resampler here and a followed output of another rate changes
nothing downstream.

Threads. The ``system-audio-read`` thread only copies parec's bytes into the bounded
:class:`~voxtral_mlx.audio.blocks.BlockQueue`; the ``system-audio-events`` thread only sets a
flag on each server change. Everything else (following the default, restarting parec, the
level, stall and loss) runs on the one consumer thread in :meth:`SystemAudioSource.read`.

Faults. The default output changes: parec is restarted on the new monitor (audio queued from
the old one is read first) and :meth:`SystemAudioSource.poll_stall` says so once. parec ends
while the server is there (the output vanished): restarted on the current default every
``reconnect_seconds`` (``lost`` meanwhile). The server goes away: everything captured is read
first, then :meth:`SystemAudioSource.read` raises one DeviceError. Digital silence is normal
here (nothing is playing), so :meth:`SystemAudioSource.poll_hint` never calls it a fault.

Limits (PulseAudio 16, null sinks): the first stream on an output idle until then delivered its
first audio after up to 2 s, so what a newly followed output plays in that time is missed; parec
cannot ask that its stream never be moved, so when the default output vanishes the server may
move the stream elsewhere for the moment before the source follows the new default.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable

import numpy as np

from voxtral_mlx.audio.blocks import BlockQueue
from voxtral_mlx.audio.device_watch import DeviceWatch
from voxtral_mlx.audio.levels import SILENCE_DB, is_sound, rms_dbfs
from voxtral_mlx.audio.pulse_tools import ChildReader, pactl_default_sink
from voxtral_mlx.errors import DeviceError
from voxtral_mlx.protocol import SAMPLE_RATE

log = logging.getLogger(__name__)
# What parec asks the server for: small next to the model's 80 ms step. Without the process
# time parec got its audio in bursts of up to 2 s (the server's default fragment).
LATENCY_MS, PROCESS_MS = 40, 20
POLL_SECONDS = 0.005  # how often read() looks at the queue while waiting
TOOLS_MISSING = "system audio needs parec and pactl: apt-get install pulseaudio-utils"


class SystemAudioSource:
    """What the computer plays (the default output's monitor) as 16 kHz mono float32 chunks.

    Verbs and attributes as :class:`~voxtral_mlx.audio.mic.MicSource` (consumer thread only):
    :meth:`open` (DeviceError if there is no server or no tools), :meth:`read`,
    :meth:`poll_hint` (always None: silence means nothing plays), :meth:`poll_stall` (stalls,
    loss, return, and each time the default output is followed), :meth:`stop`, :meth:`close`.
    ``monitor``: the monitor source recorded now; ``follows``: how many times a new default
    output was followed. ``env``: the children's environment (default: this process's).
    """

    overflows = 0  # parec reports none; the queue counts what it drops

    def __init__(self, *, max_queue_seconds: float = 20.0, stall_after_seconds: float = 3.0,
                 reconnect_seconds: float = 1.0, env: dict[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic):  # fmt: skip
        self.name = "system audio"
        self.monitor = ""
        self.follows = 0
        self.level_db = SILENCE_DB
        self.finished = False
        self.reconnect_seconds = reconnect_seconds
        self._env = env
        self._clock = clock
        self._queue = BlockQueue(int(max_queue_seconds * SAMPLE_RATE))
        self._watch = DeviceWatch(clock, float("inf"), stall_after_seconds)
        self._rest = b""  # a sample split between two pipe reads
        self._parec: ChildReader | None = None
        self._events: ChildReader | None = None
        self._changed = threading.Event()
        self._reports: list[tuple[bool, str]] = []
        self._reported = ""  # "", "stalled" or "lost": what poll_stall last said
        self._retry_at = 0.0
        self._why = ""  # the last error parec printed
        self._stopping = self._opened = False

    # ---- consumer thread ------------------------------------------------------------------
    def open(self) -> None:
        """Start recording the default output's monitor and watching for a new default."""
        if shutil.which("parec") is None or shutil.which("pactl") is None:
            raise DeviceError(TOOLS_MISSING)
        env = {**(self._env if self._env is not None else os.environ), "LC_ALL": "C"}
        self._env = env
        sink = pactl_default_sink(env)
        self._events = ChildReader(["pactl", "subscribe"], env, "system-audio-events",
                                   self._on_event, lines=True)  # fmt: skip
        self._start(sink)
        self._opened = True

    def _start(self, sink: str) -> None:
        self._rest = b""
        self.monitor = f"{sink}.monitor"
        argv = ["parec", f"--device={self.monitor}", "--format=float32le", "--channels=1",
                f"--rate={SAMPLE_RATE}", "--raw", f"--latency-msec={LATENCY_MS}",
                f"--process-time-msec={PROCESS_MS}",
                "--client-name=voxtral-mlx", "--stream-name=system audio"]  # fmt: skip
        self._watch.started()
        self._parec = ChildReader(argv, self._env, "system-audio-read", self._on_samples)

    def read(self, timeout: float = 0.0) -> np.ndarray | None:
        """Everything captured so far as a new array the caller owns; waits up to ``timeout``
        s for audio. None when nothing came (or, once stopped and read out: ``finished``).
        Raises DeviceError once, after all captured audio is read, if the server went away."""
        deadline = self._clock() + timeout
        while True:
            blocks = self._queue.take()
            if blocks:
                return self._process(blocks)
            if self._stopping or not self._opened:
                self.finished = self._stopping
                return None
            if self._changed.is_set():
                self._follow_default()
            elif self._parec is None or self._parec.ended:
                self._restart()
            else:
                self._watch.check_stall()
            if self._clock() >= deadline:
                return None
            time.sleep(POLL_SECONDS)

    def poll_hint(self) -> str | None:
        return None

    def poll_stall(self) -> tuple[bool, str] | None:
        """``(True, message)`` once when capture stalls or the output is lost, ``(False,
        message)`` once when it comes back and each time a new default output is followed."""
        state = "lost" if self.lost else "stalled" if self._watch.stalled else ""
        if state != self._reported:
            was, self._reported = self._reported, state
            if state == "lost":
                return True, (f"system audio: '{self.monitor}' is gone; waiting for a default "
                              "output to listen to")  # fmt: skip
            if state == "stalled":
                return True, (f"system audio: '{self.monitor}' stopped delivering; listening "
                              "goes on when it delivers again")  # fmt: skip
            return False, f"system audio: '{self.monitor}' is {'back' if was == 'lost' else 'delivering again'}"  # fmt: skip
        return self._reports.pop(0) if self._reports else None

    @property
    def stalled(self) -> bool:
        return self._watch.stalled

    @property
    def lost(self) -> bool:
        return self._watch.lost

    @property
    def silent_seconds(self) -> float:
        return self._watch.silent_seconds() if self._opened else 0.0

    @property
    def queued_seconds(self) -> float:
        return self._queue.queued_frames / SAMPLE_RATE

    @property
    def dropped_seconds(self) -> float:
        return self._queue.dropped_frames / SAMPLE_RATE

    def stop(self) -> None:
        """End the children (each within about RELEASE_SECONDS); queued audio stays readable."""
        self._stopping = True
        children = [c for c in (self._parec, self._events) if c is not None]
        for child in children:  # both at once: stop waits for the slower, not the sum
            child.terminate()
        for child in children:
            child.end()
        self._parec = self._events = None

    def close(self) -> None:
        """Stop and forget what is queued. Safe to call more than once, and after a failed open."""
        self.stop()
        self._queue.clear()
        self.finished = True

    # ---- reader threads ---------------------------------------------------------------------
    def _on_samples(self, data: bytes) -> None:
        # Copy whole samples into the queue, nothing else (BlockQueue takes no lock).
        data = self._rest + data if self._rest else data
        whole = len(data) - len(data) % 4
        self._rest = data[whole:]
        if whole:
            block = np.frombuffer(data, np.float32, whole // 4)
            self._queue.put(block, len(block))
            self._watch.called_back()

    def _on_event(self, line: bytes) -> None:
        # "Event 'change' on server #-1": the default output may be another one now.
        if b" on server" in line:
            self._changed.set()

    # ---- internals ------------------------------------------------------------------------
    def _process(self, blocks: list[np.ndarray]) -> np.ndarray:
        self._watch.stalled = self._watch.lost = False
        out = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
        self.level_db = rms_dbfs(out)
        if is_sound(out):
            self._watch.heard()
        return out

    def _follow_default(self) -> None:
        """The server changed: record the new default output's monitor if it is another."""
        self._changed.clear()
        sink = self._default_sink()
        if f"{sink}.monitor" == self.monitor:
            return
        old = self.monitor
        if self._parec is not None:
            self._parec.end()  # its last blocks are queued before the new child's
        self._start(sink)
        self.follows += 1
        log.info("system audio follows the default output: %s -> %s", old, self.monitor)
        self._reports.append((False, f"system audio now follows the default output '{sink}'"))

    def _restart(self) -> None:
        """parec ended by itself (all it recorded is queued): the server went away
        (DeviceError) or the output vanished (lost: the current default, every
        reconnect_seconds, until one delivers)."""
        now = self._clock()
        if now < self._retry_at:
            return
        self._retry_at = now + self.reconnect_seconds
        self._why = (self._parec.end() if self._parec is not None else "") or self._why
        self._parec = None
        self._watch.lost = self._watch.stalled = True
        self._start(self._default_sink())

    def _default_sink(self) -> str:
        """The default output now; no server: the source ends with one DeviceError."""
        try:
            return pactl_default_sink(self._env)
        except DeviceError as err:
            self._stopping = True  # read() returns what is still queued, then None
            why = self._why or "it does not answer"
            raise DeviceError(f"system audio: the sound server went away ({why}); start it "
                              "again, then listen again") from err  # fmt: skip


def system_audio_source(platform: str | None = None, **kw):
    """This platform's system-audio source (``kw`` to its constructor): on macOS
    :class:`~voxtral_mlx.audio.system_mac.MacSystemAudioSource` (ScreenCaptureKit), else
    :class:`SystemAudioSource`. ``platform``: ``sys.platform`` unless given."""
    if (sys.platform if platform is None else platform) == "darwin":
        from voxtral_mlx.audio.system_mac import MacSystemAudioSource

        return MacSystemAudioSource(**kw)
    return SystemAudioSource(**kw)


__all__ = ["SystemAudioSource", "system_audio_source"]
