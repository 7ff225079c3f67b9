"""Batch log_mel vs transformers' VoxtralRealtimeFeatureExtractor (the numeric reference).

The extractor is called directly on audio padded here with ``pad_for_stream`` (not through the
processor, whose offline path round-trips through PCM16 and moves quiet bins by up to 1e-2;
oracle.md section 6.1). transformers returns ``[1, 128, T]``; ours is ``[T, 128]``.

Tolerance 1e-4 is the float32 noise floor: in bins just above the log floor of loud frames, any
float32 STFT is ~1e-4 from the exact (float64) value. transformers' own torch.stft is 8e-5 off
for the 0.5-amplitude chirp below and 1.6e-4 off at 0.9 amplitude, so louder narrow-band test
signals are checked against a float64 computation instead (test_loud_chirp_*).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import VoxtralRealtimeFeatureExtractor

from voxtral_mlx.audio import load_audio, log_mel, mel_filters, pad_for_stream

SPEECH = Path(__file__).parents[1] / "data" / "speech_en_22k.flac"
TOL = 1e-4


@pytest.fixture(scope="module")
def extractor() -> VoxtralRealtimeFeatureExtractor:
    return VoxtralRealtimeFeatureExtractor()


def reference_mel(extractor, padded: np.ndarray) -> np.ndarray:
    out = extractor(padded, sampling_rate=16000, return_tensors="np").input_features
    assert out.shape[:2] == (1, 128)
    return out[0].T


def _noise() -> np.ndarray:
    return (np.random.default_rng(0).standard_normal(16000 * 2) * 0.3).astype(np.float32)


def _loud_noise() -> np.ndarray:  # clipped at full scale: the loudest possible bins
    return np.clip(np.random.default_rng(1).standard_normal(16000) * 2, -1, 1).astype(np.float32)


def _chirp() -> np.ndarray:  # 50 Hz -> 7.95 kHz: sweeps every mel filter
    t = np.arange(16000 * 2) / 16000
    return (0.5 * np.sin(2 * np.pi * (50 * t + (7900 / 4) * t**2))).astype(np.float32)


def _silence() -> np.ndarray:
    return np.zeros(16000, np.float32)


def _speech() -> np.ndarray:
    return load_audio(SPEECH)


SIGNALS = {
    "noise": _noise,
    "loud_noise": _loud_noise,
    "chirp": _chirp,
    "silence": _silence,
    "speech": _speech,
}


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_log_mel_matches_transformers(extractor, name):
    padded = pad_for_stream(SIGNALS[name]())
    want = reference_mel(extractor, padded)
    got = np.array(log_mel(padded))
    assert got.shape == want.shape == (len(padded) // 160, 128)
    assert np.abs(got - want).max() <= TOL


@pytest.mark.parametrize("n", [201, 1000, 16000 + 77])
def test_unpadded_odd_lengths_match(extractor, n):
    """Reflect padding at both edges and the frame count for lengths that are not whole hops."""
    x = np.random.default_rng(n).uniform(-0.5, 0.5, n).astype(np.float32)
    want = reference_mel(extractor, x)
    got = np.array(log_mel(x))
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= TOL


def float64_log_mel(padded: np.ndarray) -> np.ndarray:
    """The same recipe in float64 numpy: the exact value float32 implementations approximate."""
    x = np.pad(padded.astype(np.float64), 200, mode="reflect")
    n_frames = len(padded) // 160
    frames = x[np.arange(n_frames)[:, None] * 160 + np.arange(400)]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    log_spec = np.log10(np.maximum(power @ mel_filters(128).astype(np.float64), 1e-10))
    return (np.maximum(log_spec, 1.5 - 8.0) + 4.0) / 4.0


def test_loud_chirp_is_as_close_to_exact_as_transformers(extractor):
    t = np.arange(16000 * 2) / 16000
    padded = pad_for_stream((0.9 * np.sin(2 * np.pi * (50 * t + 1000 * t**2))).astype(np.float32))
    exact = float64_log_mel(padded)
    ours = np.abs(np.array(log_mel(padded)) - exact).max()
    theirs = np.abs(reference_mel(extractor, padded) - exact).max()
    assert theirs > TOL  # the reference itself misses 1e-4 here: float32 rounding, not a bug
    assert ours <= max(theirs, TOL) * 1.25, (ours, theirs)


def test_filters_and_window_match(extractor):
    np.testing.assert_allclose(mel_filters(128), extractor.mel_filters, rtol=0, atol=1e-7)
    from voxtral_mlx.mel import _constants

    window = np.array(_constants(128)[0])
    np.testing.assert_allclose(window, torch.hann_window(400).numpy(), rtol=0, atol=1e-6)
