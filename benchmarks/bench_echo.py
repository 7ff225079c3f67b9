"""Echo gate (voxtral_mlx.audio.echo) on simulated loudspeaker echo: what it drops and keeps.

    .venv/bin/python benchmarks/bench_echo.py [--voice-db 0] [--seed 0] [--chunk 0.1]
                                              [--min-span 0.3]

Speech is espeak-ng (several sentences and voices), resampled to 16 kHz with soxr, each sentence
peak-normalised to 0.5. The system stream plays sentences A back to back. The microphone hears
``gain`` * A through a room (none: a pure delay; "room": direct sound, early reflections within
8 ms and an exponential tail, RT60 0.25 s, direct-to-reverberant ratio 10 dB; "far": RT60 0.4 s,
DRR 3 dB) delayed by ``delay`` + ``offset`` (the offset of the two streams' starts), plus white
noise at -50 dBFS, plus, for the "keep" cases, sentences B in other voices at ``--voice-db``
relative to A's level. Word-sized spans (0.2-0.6 s) come from the energy of each clean component.
Last rows, conditions of real set-ups: the mic's noise at -40 dBFS, a loudspeaker that
saturates (0.15 tanh(x / 0.15)), the output's clock 100 ppm off the mic's.

Columns: "echo dropped": echo-only mic spans (mic = echo + noise) the gate calls echo (target
>= 95 %). "genuine kept": spans of B that the echo of A overlaps at least half the time (mic =
echo + B + noise) the gate does not call echo (target >= 95 %). "echo between B's words
dropped": in that same mic, the echo spans with B silent within 0.1 s. Then the share of B's
spans kept with no system audio (system silent) and with headphones (the system plays A, the mic
hears only B), the residual shares the threshold separates, and the cost of
:meth:`EchoGate.is_echo` on this machine (median; other work on a shared machine inflates the
tail). Each span is asked about once the mic holds 1 s past its end, as the live engine asks
when a word is final. Then the same for short words (pieces of 20-120 ms: a word of one or two
tokens, or a single instant), which the gate judges over ``--min-span`` seconds (the gate's
``min_span``) around their centre, in each room at 30 ms and each gain. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import soxr  # noqa: E402

from voxtral_mlx.audio.echo import EchoGate  # noqa: E402
from voxtral_mlx.testing.echo import PLAYED, SAID, mic_hears, speak  # noqa: E402

RATE = 16000
ROOMS = {"none": None, "room": (10.0, 0.25), "far": (3.0, 0.4)}  # DRR dB, RT60 s
DELAYS_MS, GAINS, OFFSETS_MS = (0, 30, 120, 250), (0.1, 0.3, 0.7), (-100, 100)


def drift(x: np.ndarray, ppm: float = 100.0) -> np.ndarray:
    """``x`` played by a clock ``ppm`` fast (the mic's and the output's clocks differ)."""
    y = soxr.resample(x, RATE, RATE * (1 + ppm * 1e-6)).astype(np.float32)[: x.size]
    return np.pad(y, (0, x.size - y.size))


CONDITIONS = {  # what real set-ups add to the echo (the "room" room, 30 ms)
    "noisy mic": lambda echo: echo,  # the mic's noise at -40 dBFS instead of -50
    "saturated speaker": lambda echo: 0.15 * np.tanh(echo / 0.15),
    "clock drift 100 ppm": drift,
}


def programme(clips: list[np.ndarray], gap: float, lead: float) -> np.ndarray:
    """The clips one after another, ``gap`` seconds apart, after ``lead`` seconds of silence."""
    pause = np.zeros(round(gap * RATE), np.float32)
    parts = [np.zeros(round(lead * RATE), np.float32)]
    for clip in clips:
        parts += [clip, pause]
    return np.concatenate(parts)


def word_spans(
    x: np.ndarray, floor_db: float = -30.0, lo: float = 0.2, hi: float = 0.6
) -> list[tuple[float, float]]:
    """Word-sized spans (seconds) where ``x`` is active: 10 ms frames within ``floor_db`` of the
    loudest, gaps under 60 ms bridged, runs cut into equal pieces of at most ``hi``, short ones
    widened to ``lo``."""
    frame = RATE // 100
    n = x.size // frame
    level = 10 * np.log10(np.mean(np.square(x[: n * frame].reshape(n, frame)), axis=1) + 1e-12)
    active = np.r_[False, level > level.max() + floor_db, False].astype(int)
    edges = np.flatnonzero(np.diff(active))
    runs: list[list[int]] = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if runs and a - runs[-1][1] < 6:
            runs[-1][1] = b
        else:
            runs.append([a, b])
    spans = []
    for a, b in runs:
        pieces = int(np.ceil((b - a) / 100 / hi))
        for i in range(pieces):
            s, e = (a + (b - a) * i / pieces) / 100, (a + (b - a) * (i + 1) / pieces) / 100
            widen = max(lo - (e - s), 0) / 2
            spans.append((max(s - widen, 0.0), e + widen))
    return spans


def room_response(drr_db: float, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """Direct sound, early reflections within 8 ms, an exponential tail from 8 ms; energy ratio
    of the direct sound to the rest ``drr_db``."""
    h = np.zeros(round(rt60 * RATE))
    h[0] = 1.0
    early = rng.integers(round(0.001 * RATE), round(0.008 * RATE), 4)
    h[early] += rng.uniform(-0.5, 0.5, 4)
    t = np.arange(round(0.008 * RATE), h.size)
    h[t] += rng.standard_normal(t.size) * np.exp(-6.9 * t / (rt60 * RATE))
    rest = np.sum(np.square(h[1:]))
    h[1:] *= np.sqrt(10 ** (-drr_db / 10) / rest)
    return h.astype(np.float32)


def judge(system: np.ndarray, mic: np.ndarray, spans, chunk: int, after: float = 1.0,
          min_span: float | None = None):  # fmt: skip
    """Feed both streams in ``chunk``-sample pieces, asking about each span once the mic holds
    ``after`` seconds past its end (as the live engine asks when a word is final). Returns, per
    span in order: echo?, residual share (1 when there was nothing to judge), seconds per call."""
    gate = EchoGate(RATE) if min_span is None else EchoGate(RATE, min_span=min_span)
    order = sorted(range(len(spans)), key=lambda i: spans[i][1])
    calls, residuals, costs = np.zeros(len(spans), bool), np.ones(len(spans)), []
    fed, asked = 0, 0
    while asked < len(order):
        gate.add_system(system[fed : fed + chunk])
        gate.add_mic(mic[fed : fed + chunk])
        fed += chunk
        while asked < len(order) and (
            spans[order[asked]][1] + after <= fed / RATE or fed >= mic.size
        ):
            i = order[asked]
            t0 = time.perf_counter()
            calls[i] = gate.is_echo(*spans[i])
            costs.append(time.perf_counter() - t0)
            match = gate.measure(*spans[i])
            residuals[i] = 1.0 if match is None else match.residual
            asked += 1
    return calls, residuals, costs


def active_share(span: tuple[float, float], spans: list[tuple[float, float]]) -> float:
    """Share of ``span`` covered by ``spans``."""
    covered = sum(max(0.0, min(span[1], e) - max(span[0], s)) for s, e in spans)
    return covered / (span[1] - span[0])


class Bench:
    """The simulated streams and the rows of the table."""

    def __init__(self, args: argparse.Namespace) -> None:
        rng = np.random.default_rng(args.seed)
        self.chunk = round(args.chunk * RATE)
        self.a = programme([speak(v, t) for v, t in PLAYED], gap=0.15, lead=0.5)
        voice = programme([speak(v, t) for v, t in SAID], gap=1.0, lead=1.0) * 10 ** (
            args.voice_db / 20
        )
        size = max(self.a.size, voice.size) + RATE
        self.a, self.b = (
            np.pad(self.a, (0, size - self.a.size)),
            np.pad(voice, (0, size - voice.size)),
        )
        self.noise = (rng.standard_normal(size) * 10 ** (-50 / 20)).astype(np.float32)
        self.rirs = {
            name: None if p is None else room_response(*p, rng) for name, p in ROOMS.items()
        }
        self.spans_a, self.spans_b = word_spans(self.a), word_spans(self.b)
        self.short_a = word_spans(self.a, lo=0.02, hi=0.12)
        self.short_b = word_spans(self.b, lo=0.02, hi=0.12)
        self.min_span = args.min_span
        self.costs: list[float] = []
        self.residuals: dict[str, list[np.ndarray]] = {"echo": [], "genuine": []}

    def row(self, room: str, delay_ms: int, offset_ms: int, gain: float, condition: str = "",
            short: bool = False):  # fmt: skip
        """Shares (%) of echo-only spans dropped, of overlapped B spans kept, of gaps dropped
        (``short``: of the short words)."""
        lag = (delay_ms + offset_ms) / 1000
        echo = mic_hears(self.a, gain, lag, self.rirs[room])
        echo = CONDITIONS[condition](echo) if condition else echo
        noise = self.noise * (10 ** (10 / 20) if condition == "noisy mic" else 1.0)
        spans_a, spans_b = (self.short_a, self.short_b) if short else (self.spans_a, self.spans_b)
        heard = [(s + lag, e + lag) for s, e in spans_a if s + lag >= 0]
        calls, res, cost = judge(self.a, echo + noise, heard, self.chunk, min_span=self.min_span)
        self.costs += cost
        overlapped = [sp for sp in spans_b if active_share(sp, heard) >= 0.5]
        gaps = [sp for sp in heard if active_share((sp[0] - 0.1, sp[1] + 0.1), spans_b) == 0]
        mic = echo + self.b + noise
        calls_b, res_b, cost = judge(self.a, mic, overlapped + gaps, self.chunk,
                                     min_span=self.min_span)  # fmt: skip
        self.costs += cost
        n = len(overlapped)
        if not short:
            self.residuals["echo"].append(res)
            self.residuals["genuine"].append(res_b[:n])
        return 100 * calls.mean(), 100 * (1 - calls_b[:n].mean()), 100 * calls_b[n:].mean()

    def alone(self, system: np.ndarray, short: bool = False) -> tuple[float, int]:
        """Share (%) of B's spans (``short``: short words) kept when the mic hears only B,
        and how many were called echo."""
        spans = self.short_b if short else self.spans_b
        calls, _, cost = judge(system, self.b + self.noise, spans, self.chunk,
                               min_span=self.min_span)  # fmt: skip
        self.costs += cost
        return 100 * (1 - calls.mean()), int(calls.sum())


HEADER = (
    "| room | delay ms | offset ms | gain | echo dropped % | genuine kept % |"
    " echo between B's words dropped % |\n|---|---|---|---|---|---|---|"
)


def print_table(bench: Bench, short: bool = False) -> None:
    """The grid of rooms, delays and gains, the stream offsets, the conditions, their mean
    (``short``: the short words, each room at 30 ms and each gain)."""
    print(HEADER)
    if short:
        rows = [(r, 30, 0, g, "") for r in ROOMS for g in GAINS]
    else:
        rows = [(r, d, 0, g, "") for r in ROOMS for d in DELAYS_MS for g in GAINS]
        rows += [("room", 30, o, g, "") for o in OFFSETS_MS for g in GAINS]
        rows += [("room", 30, 0, g, c) for c in CONDITIONS for g in GAINS]
    totals = []
    for room, delay, offset, gain, condition in rows:
        figures = bench.row(room, delay, offset, gain, condition, short)
        totals.append(figures)
        cells = " | ".join(f"{f:.1f}" for f in figures)
        label = f"{room}, {condition}" if condition else room
        print(f"| {label} | {delay} | {offset:+d} | {gain} | {cells} |")
    cells = " | ".join(f"**{f:.1f}**" for f in np.mean(totals, axis=0))
    print(f"| **mean of rows** | | | | {cells} |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voice-db", type=float, default=0.0, help="level of B relative to A (dB)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk", type=float, default=0.1, help="seconds per add_* call")
    parser.add_argument("--min-span", type=float, default=None,
                        help="the gate's min_span (seconds; default: the gate's own)")  # fmt: skip
    args = parser.parse_args()
    bench = Bench(args)
    print(
        f"# Echo gate: {platform.machine()}, Python {platform.python_version()},"
        f" B at {args.voice_db:+.0f} dB, min_span {args.min_span or EchoGate().min_span} s"
    )
    print(f"spans: {len(bench.spans_a)} of A (echo), {len(bench.spans_b)} of B (genuine)\n")
    print_table(bench)
    print(f"no system audio: genuine kept {bench.alone(np.zeros_like(bench.a))[0]:.1f} %")
    print(
        f"headphones (system plays A, mic hears only B): genuine kept {bench.alone(bench.a)[0]:.1f} %"
    )
    echo, genuine = (np.concatenate(bench.residuals[k]) for k in ("echo", "genuine"))
    print(
        f"residual share: echo spans p50 {np.median(echo):.3f} p95 {np.percentile(echo, 95):.3f}"
        f" max {echo.max():.3f}; genuine spans p5 {np.percentile(genuine, 5):.3f}"
        f" p50 {np.median(genuine):.3f} (threshold {EchoGate().threshold})"
    )
    print(f"\nshort words: {len(bench.short_a)} of A, {len(bench.short_b)} of B\n")
    print_table(bench, short=True)
    kept, lost = bench.alone(bench.a, short=True)
    print(f"short words, headphones: genuine kept {kept:.1f} % ({lost} called echo)")
    ms = 1000 * np.array(bench.costs)
    p50, p95 = np.percentile(ms, [50, 95])
    print(f"is_echo: median {p50:.2f} ms, p95 {p95:.2f} ms ({ms.size} calls)")


if __name__ == "__main__":
    main()
