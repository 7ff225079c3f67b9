"""The PulseAudio command-line tools behind :class:`~voxtral_mlx.audio.system.SystemAudioSource`
(pulseaudio-utils; pipewire-pulse answers them too): the default output's name from ``pactl
info``, and :class:`ChildReader`, a child process whose output a thread hands on as it comes.
No MLX here.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable

from voxtral_mlx.errors import DeviceError
from voxtral_mlx.protocol import SAMPLE_RATE

READ_BYTES = 4 * SAMPLE_RATE // 50  # 20 ms of float32 samples per read from a child's pipe
RELEASE_SECONDS = 0.75  # longest ChildReader.end waits for a child to end before killing it


def pactl_default_sink(env: dict[str, str]) -> str:
    """The default output's name; DeviceError (one line) when no server answers."""
    try:
        r = subprocess.run(["pactl", "info"], env=env, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise DeviceError(f"system audio: pactl failed ({err})") from err
    if r.returncode:
        why = (r.stderr.strip().splitlines() or ["no answer"])[-1]
        raise DeviceError(f"system audio: no PulseAudio or PipeWire sound server ({why}); "
                          "start one (pulseaudio --start, or pipewire-pulse)")  # fmt: skip
    for line in r.stdout.splitlines():
        if line.startswith("Default Sink:"):
            name = line.split(":", 1)[1].strip()
            if name and name != "@DEFAULT_SINK@":
                return name
    raise DeviceError("system audio: the sound server has no output device to listen to")


class ChildReader:
    """One child process whose stdout a daemon thread hands to ``on_data`` as it comes (bytes,
    or whole lines with ``lines``); :meth:`end` stops and reaps it, bounded in time."""

    def __init__(self, argv: list[str], env: dict[str, str], name: str,
                 on_data: Callable[[bytes], None], lines: bool = False):  # fmt: skip
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        self._on_data, self._lines = on_data, lines
        self.thread = threading.Thread(target=self._pump, name=name, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        if self._lines:
            for line in self.proc.stdout:
                self._on_data(line)
            return
        fd = self.proc.stdout.fileno()
        while data := os.read(fd, READ_BYTES):
            self._on_data(data)

    @property
    def ended(self) -> bool:
        """The child exited and everything it wrote was handed on."""
        return not self.thread.is_alive()

    def terminate(self) -> None:
        """Ask the child to end (SIGTERM) without waiting."""
        if self.proc.poll() is None:
            self.proc.terminate()

    def end(self) -> str:
        """Terminate (kill if it lingers), reap, close the pipes; the last stderr line ("" if
        it was ended before)."""
        if self.proc.stdout.closed:
            return ""
        self.terminate()
        try:
            self.proc.wait(RELEASE_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.thread.join(RELEASE_SECONDS)  # EOF follows the exit at once
        err = self.proc.stderr.read().decode(errors="replace").strip()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return (err.splitlines() or [""])[-1]


__all__ = ["ChildReader", "RELEASE_SECONDS", "pactl_default_sink"]
