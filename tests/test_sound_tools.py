"""The rule for tests that need a sound server or espeak-ng (tests/conftest.py): fail on Linux
when a tool is missing, naming the apt packages; skip with the reason on macOS."""

from __future__ import annotations

import shutil
import sys

import pytest

from .conftest import require_sound_tools

TOOLS = ("pulseaudio", "pactl", "paplay", "espeak-ng")


def _pretend(monkeypatch, platform: str, present: set[str]) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(
        shutil, "which", lambda tool: f"/usr/bin/{tool}" if tool in present else None
    )


def test_linux_with_every_tool_runs(monkeypatch):
    _pretend(monkeypatch, "linux", set(TOOLS))
    require_sound_tools(*TOOLS)  # neither skips nor fails


def test_linux_missing_tool_fails_naming_the_packages(monkeypatch):
    _pretend(monkeypatch, "linux", {"pulseaudio", "pactl"})
    with pytest.raises(pytest.fail.Exception) as info:
        require_sound_tools(*TOOLS)
    assert str(info.value) == (
        "paplay, espeak-ng not found: apt-get install espeak-ng pulseaudio-utils"
    )


@pytest.mark.parametrize("present", [set(), set(TOOLS)])
def test_macos_skips_with_the_reason(monkeypatch, present):
    _pretend(monkeypatch, "darwin", present)
    with pytest.raises(
        pytest.skip.Exception, match="PulseAudio virtual microphone on Linux"
    ) as info:
        require_sound_tools(*TOOLS)
    assert ("missing here: pulseaudio" in str(info.value)) == (not present)
