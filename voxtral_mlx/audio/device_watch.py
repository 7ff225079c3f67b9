"""What a capture device's consumer tells the user about it: silent, stalled, lost, back. No MLX.

A :class:`DeviceWatch` keeps the times a :class:`~voxtral_mlx.audio.mic.MicSource` needs (when
the stream started, when PortAudio last called back, when sound last came) and words the
one-line reports, each once: a hint when the device delivers only silence, a stall when it
delivers nothing, a loss when it is gone, and its return.
"""

from __future__ import annotations

from collections.abc import Callable

from voxtral_mlx.audio.devices import permission_hint
from voxtral_mlx.errors import DeviceError


class DeviceWatch:
    """Silence, stall and loss of one device. :meth:`called_back` runs on PortAudio's callback
    thread (one float written); everything else on the consumer's thread. ``stalled``: no
    callback for ``stall_after_seconds``, or lost; ``lost``: PortAudio ended the stream."""

    def __init__(self, clock: Callable[[], float], hint_after_seconds: float,
                 stall_after_seconds: float):  # fmt: skip
        self._clock = clock
        self.hint_after_seconds, self.stall_after_seconds = hint_after_seconds, stall_after_seconds
        self.stalled = self.lost = False
        self._hinted = False
        self._reported = ""  # the state poll_stall last reported: "", "stalled" or "lost"
        self._opened_at = self._heard_at = 0.0
        self._callback_at: float | None = None

    def started(self) -> None:
        """A stream was just opened: nothing called back or heard on it yet."""
        self._opened_at = self._heard_at = self._clock()
        self._callback_at = None

    def called_back(self) -> None:
        self._callback_at = self._clock()

    def heard(self) -> None:
        """Sound came (not only digital silence): a new quiet spell may get its hint."""
        self._heard_at, self._hinted = self._clock(), False

    def quiet_for(self) -> float:
        """Seconds since the last callback (since the stream started, before any)."""
        last = self._callback_at if self._callback_at is not None else self._opened_at
        return self._clock() - last

    def check_stall(self) -> None:
        """No callback for stall_after_seconds: stalled (CoreAudio may never report an unplug;
        a suspended PulseAudio source resumes the same stream). A callback ends it."""
        self.stalled = self.quiet_for() >= self.stall_after_seconds

    def silent_seconds(self) -> float:
        """Seconds since the last block that was not silence."""
        return max(0.0, self._clock() - self._heard_at)

    def poll_hint(self, name: str) -> str | None:
        """A one-line hint, once per quiet spell, when the device delivered nothing but silence
        for ``hint_after_seconds``. A device that delivers nothing at all is a stall, reported
        once by :meth:`poll_stall` (not twice, a hint first)."""
        now = self._clock()
        if self._hinted or now - self._heard_at < self.hint_after_seconds:
            return None
        if self._callback_at is None or now - self._callback_at >= self.hint_after_seconds:
            return None
        self._hinted = True
        return f"'{name}' delivers only silence: check that it is not muted" + permission_hint()

    def poll_stall(self, name: str) -> tuple[bool, str] | None:
        """``(True, message)`` once when the device stops delivering or is lost,
        ``(False, message)`` once when it delivers again; None when nothing changed."""
        state = "lost" if self.lost else "stalled" if self.stalled else ""
        if state == self._reported:
            return None
        was, self._reported = self._reported, state
        if state == "lost":
            return True, (f"Device lost: microphone '{name}' is gone (unplugged?); waiting "
                          "for it to come back (or choose another microphone)")  # fmt: skip
        if state == "stalled":
            return True, str(stall_error(name)) + "; listening goes on when it delivers again"
        if was == "lost":
            return False, f"'{name}' is back: listening goes on"
        return False, f"'{name}' delivers audio again"


def stall_error(name: str) -> DeviceError:
    """A device that stopped delivering, with what to do about it."""
    return DeviceError(
        f"microphone '{name}' stopped delivering audio (unplugged, or taken by another "
        f"app?): reconnect it or choose another input device{permission_hint()}"
    )


__all__ = ["DeviceWatch", "stall_error"]
