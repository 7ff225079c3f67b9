"""Audio levels: RMS in dBFS and what counts as silence. No MLX."""

from __future__ import annotations

import math

import numpy as np

SILENCE_DB = -100.0  # level reported for digital silence
SILENT_PEAK = 1e-5  # below this peak a block counts as "no audio" (digital zeros, -100 dBFS)


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level in dB relative to full scale (1.0); SILENCE_DB for empty or all-zero input."""
    if samples.size == 0:
        return SILENCE_DB
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(SILENCE_DB, 20.0 * math.log10(rms)) if rms > 0 else SILENCE_DB


def is_sound(samples: np.ndarray) -> bool:
    """Whether ``samples`` hold anything above digital silence (``SILENT_PEAK``)."""
    return bool(samples.size) and float(np.max(np.abs(samples))) > SILENT_PEAK


__all__ = ["SILENCE_DB", "SILENT_PEAK", "is_sound", "rms_dbfs"]
