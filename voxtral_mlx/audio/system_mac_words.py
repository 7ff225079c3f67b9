"""What macOS system audio tells users: where screen-recording permission is granted, and one
DeviceError line per ScreenCaptureKit error. Pure Python (tested anywhere); no MLX.

Pane names: macOS 15 calls the pane "Screen & System Audio Recording", macOS 13 and 14 "Screen
Recording". Error codes: SCStreamErrorCode in ScreenCaptureKit's SCError.h (as PyObjC's tests
spell them). Sources: docs/macos-system-audio.md.
"""

from __future__ import annotations

import platform

from voxtral_mlx.errors import DeviceError

# SCStreamErrorCode values worded for users.
USER_DECLINED, NO_DISPLAY_LIST, NO_CAPTURE_SOURCE = -3801, -3814, -3815
USER_STOPPED, AUDIO_FAILED, SYSTEM_STOPPED = -3817, -3818, -3821


def macos_version() -> tuple[int, ...]:
    """This Mac's version, e.g. (15, 3); () elsewhere."""
    try:
        return tuple(int(part) for part in platform.mac_ver()[0].split(".") if part)
    except ValueError:
        return ()


def permission_pane(version: tuple[int, ...]) -> str:
    """The Privacy & Security pane that grants screen (and its audio) recording: renamed in
    macOS 15; the newest name when the version is unknown."""
    return "Screen Recording" if version and version < (15,) else "Screen & System Audio Recording"


def permission_remedy(pane: str) -> str:
    # Apple's ScreenCaptureKit sample: after permission is granted, the app restarts to capture.
    return (f"allow this app (or the terminal it runs in) in System Settings > Privacy & "
            f"Security > {pane}, then restart it")  # fmt: skip


def silence_hint(pane: str) -> str:
    """The hint for a capture that has delivered nothing but silence since it started."""
    return f"system audio delivers only silence: if something is playing, {permission_remedy(pane)}"


def capture_error(code: int, description: str, pane: str) -> DeviceError:
    """One DeviceError line for a ScreenCaptureKit error (an SCStreamErrorCode)."""
    if code == USER_DECLINED:
        why = f"macOS did not allow recording the screen and its audio: {permission_remedy(pane)}"
    elif code == USER_STOPPED:
        why = "the recording was stopped from the menu bar; listen again to go on"
    elif code in (NO_DISPLAY_LIST, NO_CAPTURE_SOURCE):
        why = ("there is no display to capture (it carries the computer's audio: is the lid "
               "closed?); listen again once a display is on")  # fmt: skip
    elif code == SYSTEM_STOPPED:
        why = "macOS stopped the capture; listen again to go on"
    elif code == AUDIO_FAILED:
        why = f"macOS could not start capturing the computer's audio ({description}); listen again"
    else:
        why = (f"ScreenCaptureKit failed ({description}, code {code}); if this app may not record "
               f"yet, {permission_remedy(pane)}")  # fmt: skip
    return DeviceError(f"system audio: {why}")


__all__ = ["capture_error", "macos_version", "permission_pane", "permission_remedy", "silence_hint"]
