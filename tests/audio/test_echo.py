"""EchoGate: mic spans that are the system audio played back are echo; speech into the mic is not.

The signals are synthetic "voices": bursts (word-sized, 0.2-0.5 s) of a harmonic tone with a
wandering pitch plus coloured noise, so they have speech's pitch periodicity (what makes lag
search hard) and its pauses; two seeds give two independent voices. The figures on real speech
(espeak-ng) are benchmarks/bench_echo.py's.
"""

from __future__ import annotations

import numpy as np
import pytest

from voxtral_mlx.audio.echo import EchoGate
from voxtral_mlx.testing.echo import PLAYED, SAID, mic_hears, speak

RATE = 16000


def voice(seconds: float, seed: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """A speech-like signal (peak ~0.5) and the spans (seconds) of its word-sized bursts."""
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE)
    pitch = 100 + 80 * np.abs(np.sin(np.cumsum(rng.normal(0, 2e-4, n)) + rng.uniform(0, 3)))
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 12))
    noise = np.convolve(rng.standard_normal(n), np.exp(-np.arange(40) / 8), "same") / 8
    envelope, spans, t = np.zeros(n), [], round(rng.uniform(0.1, 0.3) * RATE)
    while t < n - RATE // 2:
        on = round(rng.uniform(0.2, 0.5) * RATE)
        envelope[t : t + on] = np.hanning(on) ** 0.5 * rng.uniform(0.4, 1.0)
        spans.append((t / RATE, (t + on) / RATE))
        t += on + round(rng.uniform(0.05, 0.25) * RATE)
    x = (tone + noise) * envelope
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32), spans


def noise(size: int, seed: int = 9, db: float = -50.0) -> np.ndarray:
    """White noise at ``db`` dBFS (RMS), the mic's own."""
    return (np.random.default_rng(seed).standard_normal(size) * 10 ** (db / 20)).astype(np.float32)


def gate_with(system: np.ndarray | None, mic: np.ndarray, chunk: int = 1600, **kw) -> EchoGate:
    gate = EchoGate(RATE, **kw)
    for i in range(0, mic.size, chunk):
        if system is not None:
            gate.add_system(system[i : i + chunk])
        gate.add_mic(mic[i : i + chunk])
    return gate


def shifted(spans, lag: float):
    return [(s + lag, e + lag) for s, e in spans]


SYSTEM, SYSTEM_SPANS = voice(12.0, seed=1)
USER, USER_SPANS = voice(12.0, seed=2)
ROOM = np.r_[1.0, np.zeros(30), 0.4, np.zeros(60), -0.25, np.zeros(200), 0.1].astype(np.float32)


@pytest.mark.parametrize(
    ("gain", "lag", "room", "noise_db"),
    [(0.3, 0.12, None, -50), (0.1, 0.0, None, -50), (0.7, 0.25, ROOM, -50), (0.1, 0.1, ROOM, -40)],
)
def test_echo_only_spans_are_echo(gain, lag, room, noise_db):
    mic = mic_hears(SYSTEM, gain, lag, room) + noise(SYSTEM.size, db=noise_db)
    gate = gate_with(SYSTEM, mic)
    decisions = [gate.is_echo(s, e) for s, e in shifted(SYSTEM_SPANS, lag)]
    assert all(decisions), decisions


def overlapped_user_spans(lag: float):
    """The user's bursts that the echo overlaps at least half the time."""
    echo = shifted(SYSTEM_SPANS, lag)
    share = [sum(max(0.0, min(e, b) - max(s, a)) for a, b in echo) / (e - s) for s, e in USER_SPANS]
    return [span for span, part in zip(USER_SPANS, share, strict=True) if part >= 0.5]


@pytest.mark.parametrize(("gain", "lag"), [(0.3, 0.03), (0.7, 0.12)])
def test_speech_over_the_echo_is_kept(gain, lag):
    mic = mic_hears(SYSTEM, gain, lag) + USER + noise(SYSTEM.size)
    gate = gate_with(SYSTEM, mic)
    spans = overlapped_user_spans(lag)
    assert len(spans) >= 8
    decisions = [gate.is_echo(s, e) for s, e in spans]
    assert not any(decisions), decisions


def test_the_mic_alone_is_kept():
    mic = USER + noise(USER.size)
    no_system = gate_with(None, mic)
    silent_system = gate_with(np.zeros_like(USER), mic)
    headphones = gate_with(SYSTEM, mic)  # the computer plays, the mic does not hear it
    for gate in (no_system, silent_system, headphones):
        assert not any(gate.is_echo(s, e) for s, e in USER_SPANS)
    assert silent_system.measure(*USER_SPANS[3]).residual == 1.0


def test_ready_once_both_streams_hold_the_span_and_its_context():
    gate = EchoGate(RATE)  # context 0.3 s after the span; the system may run 0.2 s late
    gate.add_mic(np.zeros(RATE * 2, np.float32))
    gate.add_system(np.zeros(RATE * 2, np.float32))
    assert gate.ready(1.4) and not gate.ready(1.8)
    gate.add_mic(np.zeros(RATE, np.float32))
    assert not gate.ready(1.8)  # the system audio is not there yet
    gate.add_system(np.zeros(RATE // 2, np.float32))
    assert gate.ready(1.8)


@pytest.mark.parametrize("mic", [np.zeros_like(SYSTEM), noise(SYSTEM.size, db=-40)])
def test_silence_or_only_noise_in_the_mic_is_not_echo(mic):
    gate = gate_with(SYSTEM, mic)
    assert gate.measure(*SYSTEM_SPANS[4]) is None
    assert not gate.is_echo(*SYSTEM_SPANS[4])


@pytest.mark.parametrize("lag", [-0.18, -0.1, 0.0, 0.03, 0.25, 0.45])
def test_lags_in_the_search_range_are_found(lag):
    gate = gate_with(SYSTEM, mic_hears(SYSTEM, 0.3, lag) + noise(SYSTEM.size))
    for start, end in shifted(SYSTEM_SPANS, lag)[2:6]:
        match = gate.measure(start, end)
        assert match.lag == pytest.approx(lag, abs=0.001)
        assert match.residual < 0.1


def test_a_lag_beyond_the_search_range_is_not_echo():
    gate = gate_with(SYSTEM, mic_hears(SYSTEM, 0.3, 0.8) + noise(SYSTEM.size), max_delay=0.5)
    assert not any(gate.is_echo(s, e) for s, e in shifted(SYSTEM_SPANS, 0.8)[2:8])


def test_short_spans_are_widened_and_reversed_spans_refused():
    gate = gate_with(SYSTEM, mic_hears(SYSTEM, 0.3, 0.1) + noise(SYSTEM.size))
    start, end = shifted(SYSTEM_SPANS, 0.1)[3]
    middle = (start + end) / 2
    assert gate.is_echo(middle, middle)
    with pytest.raises(ValueError):
        gate.measure(end, start)


def test_history_is_capped_in_a_long_run():
    gate = EchoGate(RATE, history=3.0)
    held = gate.nbytes
    mic = np.tile(mic_hears(SYSTEM, 0.3, 0.1) + noise(SYSTEM.size), 10)  # 2 minutes
    system = np.tile(SYSTEM, 10)
    for i in range(0, system.size, 1000):
        gate.add_system(system[i : i + 1000])
        gate.add_mic(mic[i : i + 1000])
    assert gate.nbytes == held <= 2 * 2 * 3 * RATE * 4
    now = system.size / RATE
    assert gate.measure(now - 60, now - 59.5) is None  # long gone
    recent = [(s + 108.1, e + 108.1) for s, e in SYSTEM_SPANS]
    recent = [(s, e) for s, e in recent if s >= now - 2.4 and e <= now - 0.5]
    assert recent and all(gate.is_echo(s, e) for s, e in recent)  # the last 3 s still judged
    at_once = gate_with(system, mic, chunk=system.size, history=3.0)  # no compaction
    edges = [(now - 3.1 + t, now - 2.8 + t) for t in np.arange(0.0, 3.0, 0.25)]
    np.testing.assert_array_equal(figures(gate, edges), figures(at_once, edges))


def test_forget_keeps_later_decisions():
    mic = mic_hears(SYSTEM, 0.3, 0.2) + USER + noise(SYSTEM.size)
    spans = [span for span in shifted(SYSTEM_SPANS, 0.2) + USER_SPANS if span[0] >= 6.0]
    spans += [(6.0, 6.0), (6.02, 6.08)]  # short: widened to min_span, partly before 6.0
    whole = gate_with(SYSTEM, mic)
    trimmed = gate_with(SYSTEM, mic)
    trimmed.forget(6.0)
    np.testing.assert_array_equal(figures(trimmed, spans), figures(whole, spans))
    assert trimmed.measure(1.0, 1.4) is None


def figures(gate: EchoGate, spans) -> np.ndarray:
    """(lag, residual, level) per span, NaN where there was nothing to judge."""
    matches = [gate.measure(s, e) for s, e in spans]
    return np.array([(m.lag, m.residual, m.level_db) if m else (np.nan,) * 3 for m in matches])


@pytest.mark.parametrize("history", [30.0, 5.0])  # 5 s: the buffer is compacted while fed
def test_decisions_do_not_depend_on_chunk_sizes(history):
    mic = mic_hears(SYSTEM, 0.5, 0.07, ROOM) + USER + noise(SYSTEM.size)
    spans = [
        span for span in shifted(SYSTEM_SPANS, 0.07) + USER_SPANS if span[0] > 12 - history + 0.5
    ]
    # Spans judged as they are (0.2-0.5 s): this mic is dense with the user's voice, and the
    # default min_span (0.3 s) widens the shortest echo span into it (then not echo).
    kw = {"history": history, "min_span": 0.1}
    reference = figures(gate_with(SYSTEM, mic, chunk=SYSTEM.size, **kw), spans)
    assert set(reference[:, 1] <= 0.25) == {True, False}  # both kinds of span are asked about
    rng = np.random.default_rng(3)
    for chunk in (1, 137, 1600, 4096):
        gate = EchoGate(RATE, **kw)
        count = SYSTEM.size // chunk + 1
        cut_mic, cut_system = (np.cumsum(rng.integers(1, 2 * chunk + 1, count)) for _ in range(2))
        pieces = zip(np.split(mic, cut_mic), np.split(SYSTEM, cut_system), strict=True)
        for part_mic, part_system in pieces:
            gate.add_mic(part_mic)
            gate.add_system(part_system)
        np.testing.assert_array_equal(figures(gate, spans), reference, err_msg=f"chunk {chunk}")


def test_short_words_into_a_mic_with_headphones_are_kept():
    """Headphones: the computer plays espeak-ng sentences, the mic hears only the user's
    (others, other voices). Pieces of 60 ms every 20 ms of the user's speech (a word of one
    token, or a single instant, is short) are judged over ``min_span`` (0.3 s): none is echo,
    the least residual share well above the threshold. Judged over 0.1 s, the fit of 4 weights
    a bin on so few frames absorbed 2 of these by chance (the gate dropped a genuine word)."""
    from tests.conftest import require_sound_tools

    require_sound_tools("espeak-ng")
    played = np.concatenate([speak(*line) for line in PLAYED[:3]])
    said = np.concatenate([speak(*line) for line in SAID[:3]])
    size = max(played.size, said.size) + RATE
    played, said = np.pad(played, (0, size - played.size)), np.pad(said, (0, size - said.size))
    frames = said[: size // 160 * 160].reshape(-1, 160)  # 10 ms
    level = 10 * np.log10(np.mean(np.square(frames), axis=1) + 1e-12)
    active = level > level.max() - 30
    pieces = [(i / 100, i / 100 + 0.06) for i in range(0, active.size - 6, 2) if active[i : i + 6].all()]  # fmt: skip
    assert len(pieces) > 200
    gate = gate_with(played, said + noise(size))
    shares = [m.residual for m in (gate.measure(s, e) for s, e in pieces) if m is not None]
    assert len(shares) == len(pieces)
    assert not any(gate.is_echo(s, e) for s, e in pieces)
    assert min(shares) > 2 * gate.threshold, min(shares)
