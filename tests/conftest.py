"""Shared test helpers: the tiny model fixture (never full size in tests), external-tool rule.

Tiny params, models, tokenizers and the fake sound device live in :mod:`voxtral_mlx.testing`."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

import voxtral_mlx  # noqa: F401  (first: on Linux it loads OpenBLAS before mlx.core)
from voxtral_mlx import testing

# Qt must never try to open a display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def tiny_model():
    """A tiny random model (fp32, evaluated) whose windows a few seconds of audio cross."""
    return testing.tiny_model()


# The apt package that provides each sound tool the live end-to-end tests use.
SOUND_TOOL_PACKAGES = {
    "pulseaudio": "pulseaudio",
    "pactl": "pulseaudio-utils",
    "paplay": "pulseaudio-utils",
    "espeak-ng": "espeak-ng",
}


def require_sound_tools(*tools: str) -> None:
    """For tests that need a sound server or espeak-ng (a PulseAudio virtual microphone).

    On Linux, where CI installs them (.ci/run), a missing tool fails the test, naming the apt
    packages: a skip there would hide a broken setup. Elsewhere (macOS) the recipe cannot run
    (PortAudio uses Core Audio, not PulseAudio), so the test skips and says why.
    """
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not sys.platform.startswith("linux"):
        detail = f"; also missing here: {', '.join(missing)}" if missing else ""
        pytest.skip(f"needs a PulseAudio virtual microphone on Linux, not {sys.platform}{detail}")
    if missing:
        packages = sorted({SOUND_TOOL_PACKAGES.get(tool, tool) for tool in missing})
        pytest.fail(f"{', '.join(missing)} not found: apt-get install {' '.join(packages)}")
