"""Live transcription: steady-state lag and the latency from a chunk's arrival to its token.

Plays synthetic speech-like audio in real time (``IteratorSource(realtime=True)``: each 20 ms
chunk becomes readable when it would have been spoken, like a microphone callback) through the
``LiveTranscriber`` the CLI and GUI use, with a random-weight checkpoint of the chosen size
loaded on the transcriber's thread, and prints one markdown table row. Random weights of the
real shape: speed only, never accuracy.

    python benchmarks/bench_live.py [--size tiny|full] [--bits 16|8|4] [--seconds 60]
                                    [--delay-ms 480] [--chunk-ms 20] [--dtype D] [--dir DIR]

- lag: ``MeterEvent.lag`` (about 10 a second): seconds of audio received but not yet
  transcribed beyond the delay; steady state = after the first ``--warmup`` seconds.
- latency: for every token decoded while audio was playing, the wall time from the arrival of
  the chunk that completed the audio it needs (its own 80 ms plus the delay) to the event that
  carried it. What a listener waits for a word is this plus the delay.
- ``--dir``: keep the (full-size: 8.9 GB bf16, ~2.6 GB 4-bit) checkpoints there and reuse them.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# isort: off
import voxtral_mlx  # noqa: E402,F401  (before mlx: loads OpenBLAS on Linux)
import mlx.core as mx  # noqa: E402

# isort: on
import numpy as np  # noqa: E402
from bench_stream import TINY  # noqa: E402
from fullsize import speech_like, synthetic_tokenizer, write_checkpoint  # noqa: E402

from voxtral_mlx import env
from voxtral_mlx.checkpoint import weights  # noqa: E402
from voxtral_mlx.live.engine import IteratorSource, LiveTranscriber  # noqa: E402
from voxtral_mlx.live.events import (  # noqa: E402
    ErrorEvent,
    MeterEvent,
    Status,
    StatusEvent,
    TextEvent,
)

SAMPLE_RATE = 16000
TOKEN_S = 0.08


def checkpoint(root: Path, size: str, bits: int) -> Path:
    """A random-weight model folder of ``size`` (reused when ``root`` already holds it)."""
    native = root / f"{size}-native"
    if not (native / "params.json").is_file():
        write_checkpoint(native, TINY if size == "tiny" else None)
    if bits == 16:
        return native
    from voxtral_mlx.checkpoint.convert import convert

    folder = root / f"{size}-q{bits}"
    if not (folder / "params.json").is_file():
        convert(native, folder, bits=bits)
    return folder


class Collector:
    def __init__(self):
        self.events = []
        self.listening = threading.Event()

    def __call__(self, event):
        self.events.append(event)
        if isinstance(event, StatusEvent) and event.status is Status.LISTENING:
            self.listening.set()


def run(folder: Path, dtype: mx.Dtype, seconds: float, delay_ms: int, chunk_ms: float):
    tok = synthetic_tokenizer()
    chunk = round(SAMPLE_RATE * chunk_ms / 1000)
    audio = speech_like(seconds)
    source = IteratorSource(
        (audio[i : i + chunk] for i in range(0, len(audio), chunk)), realtime=True, name="bench"
    )
    got = Collector()
    live = LiveTranscriber(lambda: (weights.load(folder, dtype=dtype)[0], tok), source,
                           delay_ms=delay_ms, on_event=got, autosave=False)  # fmt: skip
    t0 = time.monotonic()
    live.start()
    live.join()
    errors = [e.message for e in got.events if isinstance(e, ErrorEvent)]
    if errors:
        raise SystemExit(f"live transcription failed: {errors[0]}")
    loaded = next(e.at for e in got.events if isinstance(e, StatusEvent) and e.status is Status.LISTENING)  # fmt: skip
    stopped = got.events[-1].at
    played = source.due(len(audio))  # when the last sample arrived
    return got.events, source, chunk, loaded - t0, stopped - played


def latencies(events, source, chunk: int, delay_s: float, warmup: float, played: float):
    """Per token: event time - arrival of the chunk completing the audio it needs."""
    out = []
    for e in events:
        if not isinstance(e, TextEvent) or e.at > played or not e.n_tokens:
            continue
        for k in range(e.n_tokens):  # one token per 80 ms, the last one ending at e.end
            end = e.end - (e.n_tokens - 1 - k) * TOKEN_S
            if end < warmup:
                continue
            needed = round((end + delay_s) * SAMPLE_RATE)  # samples it needs in
            arrived = source.due(math.ceil(needed / chunk) * chunk)
            out.append(e.at - arrived)
    return np.array(out)


def stats(x: np.ndarray, scale: float = 1.0, unit: str = "s") -> str:
    if not len(x):
        return "n/a"
    p50, p95 = np.percentile(x, [50, 95]) * scale
    return f"{p50:.3f} / {p95:.3f} / {x.max() * scale:.3f} {unit}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=["tiny", "full"], default="tiny")
    ap.add_argument("--bits", type=int, choices=[16, 8, 4], default=16)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds left out of steady state")
    ap.add_argument("--delay-ms", type=int, default=480)
    ap.add_argument("--chunk-ms", type=float, default=20.0)
    ap.add_argument("--dtype", default=None, help="default: float32 on CPU, bfloat16 on GPU")
    ap.add_argument("--dir", default=None, help="keep and reuse checkpoints here")
    args = ap.parse_args()
    dtype = getattr(mx, args.dtype) if args.dtype else weights.default_dtype()
    root = Path(args.dir or tempfile.mkdtemp(prefix="voxtral-live-bench-"))
    folder = checkpoint(root, args.size, args.bits)

    events, source, chunk, load_s, drain_s = run(
        folder, dtype, args.seconds, args.delay_ms, args.chunk_ms
    )
    played = source.due(source.samples_read)
    meters = [e for e in events if isinstance(e, MeterEvent)]
    lag = np.array([m.lag for m in meters if args.warmup <= m.audio_seconds and m.at <= played])
    lat = latencies(events, source, chunk, args.delay_ms / 1000, args.warmup, played)
    tokens = sum(e.n_tokens for e in events if isinstance(e, TextEvent))

    blas = env.preload() or "MLX default"
    print(f"device {mx.default_device()}, mlx {mx.__version__}, BLAS: {blas}; model {folder}")
    head = ["model", "bits", "dtype", "delay", "audio", "load", "lag p50 / p95 / max",
            "arrival->token p50 / p95 / max", "tokens", "drain after end"]  # fmt: skip
    row = [
        args.size, str(args.bits), str(dtype).removeprefix("mlx.core."), f"{args.delay_ms} ms",
        f"{args.seconds:g} s ({args.chunk_ms:g} ms chunks)", f"{load_s:.2f} s", stats(lag),
        stats(lat, 1000, "ms"), str(tokens), f"{drain_s:.2f} s",
    ]  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    print("| " + " | ".join(row) + " |")
    print(
        f"(steady state: after {args.warmup:g} s; {len(lag)} lag samples, {len(lat)} tokens timed)"
    )


if __name__ == "__main__":
    main()
