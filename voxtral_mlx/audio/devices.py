"""Input devices as PortAudio lists them: listing, choosing, rescanning, and PortAudio's errors
as one-line :class:`~voxtral_mlx.errors.DeviceError` s that say what to do. No MLX.

The ``sounddevice`` module is passed in (tests pass a fake, see :mod:`voxtral_mlx.testing`);
None means the real one (:func:`import_sounddevice`).

PortAudio lists the devices that were there when it was initialised; re-initialising it is the
only way to see one plugged in later, and must never happen under an open stream, nor while
another thread lists devices (a lost device is looked for on the transcriber's thread, the GUI
lists them on its own). :data:`PORTAUDIO_LOCK` orders these, and the count of open streams
(:func:`stream_opened` / :func:`stream_closed`, abandoned ones included until PortAudio lets go)
tells :func:`rescan_devices` when it must not run.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass

from voxtral_mlx.errors import DeviceError

LIST_WAIT_SECONDS = 1.0  # longest list_devices waits for a rescan or open on another thread

# PortAudio error codes (portaudio.h) that have a specific remedy.
_PA_INVALID_DEVICE = -9996
_PA_DEVICE_UNAVAILABLE = -9985

# Reentrant: a stream is opened (mic.py) while holding it, and opening lists devices.
PORTAUDIO_LOCK = threading.RLock()
_open_streams = 0  # streams not yet closed, abandoned ones included (see stream_release.py)


@dataclass(frozen=True)
class InputDevice:
    """One capture device as PortAudio lists it."""

    index: int
    name: str
    hostapi: str
    channels: int  # max input channels
    default_samplerate: float
    is_default: bool = False


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


def stream_opened() -> None:
    """Count a stream PortAudio has just made (call holding :data:`PORTAUDIO_LOCK`)."""
    global _open_streams
    _open_streams += 1


def stream_closed() -> None:
    """Count a stream PortAudio has let go of (call holding :data:`PORTAUDIO_LOCK`)."""
    global _open_streams
    _open_streams -= 1


def open_streams() -> int:
    """Streams made and not yet closed, abandoned ones included."""
    return _open_streams


def rescan_devices(sd=None) -> bool:
    """Let PortAudio look for devices again (a microphone plugged in after it started is
    invisible until then). Skipped while any stream is open; True if it rescanned."""
    sd = sd if sd is not None else import_sounddevice()
    with PORTAUDIO_LOCK:
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
    if not PORTAUDIO_LOCK.acquire(timeout=LIST_WAIT_SECONDS):  # never a frozen window
        raise DeviceError("the audio system is busy looking for devices: try again")
    try:
        devices = list(sd.query_devices())
        apis = list(sd.query_hostapis())
        default = _default_input_index(sd)
    except sd.PortAudioError as err:
        raise DeviceError(f"cannot list audio devices: {_pa_text(err)}") from err
    finally:
        PORTAUDIO_LOCK.release()
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


def named_device(devices: list[InputDevice], name: str) -> InputDevice:
    """The device called exactly ``name`` (a lost one is reopened only if it is the same)."""
    for device in devices:
        if device.name == name:
            return device
    raise DeviceError(f"no input device is called '{name}'")


def _names(devices: list[InputDevice], limit: int = 8) -> str:
    names = ", ".join(f"{d.index} '{d.name}'" for d in devices[:limit])
    return names + (", ..." if len(devices) > limit else "")


def permission_hint() -> str:
    """What to check when a device delivers nothing; empty except on macOS."""
    if sys.platform != "darwin":
        return ""
    return (
        "; on macOS, allow microphone access for this app (or its terminal) in "
        "System Settings > Privacy & Security > Microphone"
    )


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
    "PORTAUDIO_LOCK",
    "InputDevice",
    "import_sounddevice",
    "list_devices",
    "named_device",
    "open_error",
    "open_streams",
    "permission_hint",
    "pick_device",
    "rescan_devices",
    "stream_closed",
    "stream_opened",
]
