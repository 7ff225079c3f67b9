"""Audio levels: RMS dBFS and digital silence."""

from __future__ import annotations

import numpy as np
import pytest

from voxtral_mlx.audio.levels import SILENT_PEAK, is_sound, rms_dbfs


def tone(seconds: float, amp: float) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (amp * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)


def test_rms_dbfs():
    assert rms_dbfs(np.zeros(10, np.float32)) == -100.0
    assert rms_dbfs(np.ones(10, np.float32)) == pytest.approx(0.0)
    assert rms_dbfs(tone(1.0, amp=1.0)) == pytest.approx(-3.01, abs=0.01)


def test_is_sound_means_above_digital_silence():
    assert not is_sound(np.zeros(0, np.float32)) and not is_sound(np.zeros(10, np.float32))
    assert not is_sound(np.full(10, SILENT_PEAK, np.float32))
    assert is_sound(np.array([0.0, -2 * SILENT_PEAK], np.float32))
