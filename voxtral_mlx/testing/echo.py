"""Simulated loudspeaker echo, one copy for the echo gate's tests and benchmark and the live
engine's two-source tests: what a microphone hears of the computer's audio."""

from __future__ import annotations

from voxtral_mlx.protocol import SAMPLE_RATE


def mic_hears(system, gain: float, lag: float, room=None):
    """``system`` (16 kHz float32) as the mic hears it: through ``room`` (an impulse response,
    or None), ``gain`` times as loud, ``lag`` seconds later (may be < 0: the streams' clocks
    may be offset either way). Float32, the length of ``system``."""
    import numpy as np  # here: this package's modules import only the stdlib at load

    wet = np.convolve(system, room)[: system.size] if room is not None else system
    shift = round(lag * SAMPLE_RATE)
    out = np.zeros_like(system)
    if shift >= 0:
        out[shift:] = wet[: system.size - shift]
    else:
        out[:shift] = wet[-shift:]
    return (gain * out).astype(np.float32)
