"""Where the computer's audio comes from on this system, and why not where it cannot.

Linux: :class:`~voxtral_mlx.audio.system.SystemAudioSource` (PulseAudio's or PipeWire's pactl and
parec); macOS 13+: :class:`~voxtral_mlx.audio.system_mac.MacSystemAudioSource`
(ScreenCaptureKit through PyObjC, looked for with ``find_spec``, not imported: the source
imports it when it opens); elsewhere none. Neither imports mlx.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable
from typing import Any

PULSE_TOOLS = ("pactl", "parec")


def system_audio_missing() -> str:
    """Why this system has no computer-audio source, in one line ("": it has one)."""
    if sys.platform == "darwin":
        return _mac_missing()
    if not sys.platform.startswith("linux"):
        return "Computer audio is not available on this system"
    if any(shutil.which(tool) is None for tool in PULSE_TOOLS):
        return ("Computer audio needs PulseAudio's or PipeWire's pactl and parec: "
                "install pulseaudio-utils")  # fmt: skip
    return ""


def _mac_missing() -> str:
    """macOS: ScreenCaptureKit's audio (macOS 13+) through PyObjC (:mod:`voxtral_mlx.audio.
    system_mac`); looked for without importing it (slow, and the source imports it itself)."""
    from voxtral_mlx.audio.system_mac_words import macos_version

    version = macos_version()
    if version and version < (13,):
        return "Computer audio needs macOS 13 or later"
    if importlib.util.find_spec("ScreenCaptureKit") is None:
        return ("Computer audio on macOS needs PyObjC's ScreenCaptureKit: "
                "pip install pyobjc-framework-ScreenCaptureKit")  # fmt: skip
    return ""


def system_audio_factory() -> Callable[[], Any] | None:
    """What makes this system's computer-audio source (None: there is none,
    :func:`system_audio_missing` says why): SystemAudioSource on Linux, MacSystemAudioSource
    (ScreenCaptureKit) on macOS."""
    if system_audio_missing():
        return None
    if sys.platform == "darwin":
        from voxtral_mlx.audio.system_mac import MacSystemAudioSource

        return MacSystemAudioSource
    from voxtral_mlx.audio.system import SystemAudioSource

    return SystemAudioSource


__all__ = ["PULSE_TOOLS", "system_audio_factory", "system_audio_missing"]
