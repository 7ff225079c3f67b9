"""Where a server's time goes: the StreamHub alone, no network (issue 21).

python benchmarks/lab/hub_lab.py [--size tiny|small|full] [--bits 4|16] [--streams 1,4,16]
                                 [--seconds 10] [--chunk-ms 40] [--batch-rows N] [--dir DIR]
                                 [--memory] [--profile] [--plain-encoder] [--stall S]
                                 [--slow-ms MS] [--clear-every ROUNDS]

N streams get ``--chunk-ms`` of speech-like audio each at the speed it is spoken, appended
from one feeder thread straight into the hub (what the server's connections do). Per N: the
hub's time per second of audio in the encoder (``Feed.push``, which evaluates the embeddings),
in the front bank (``FrontBank.run``, ``--batch-rows``) and in decoder steps (``RowBatch.step``
without the bank), how often each bank ran and for how many rows, the latency after a token's audio arrived beyond the
delay (as bench_serve.py measures it through the network), and the EOS tokens (each one
restarts its stream's state: a prefill and the left padding encoded again).

``--memory``: random bfloat16 weights built in memory (no checkpoint written; ``--bits`` is
ignored). ``--profile``: where the hub's thread spends the last N's run, sampled (``Sampler``).
``--plain-encoder``: front bank calls run the encoder op by op (``RowRings.layers``) instead
of ``encode_rows``' compiled graph, to compare. Calls over ``SLOW_S`` are listed with their
shapes (a kernel compiled for a shape the device had not seen shows as one slow call).
``--stall S``: the hub's thread sleeps S seconds once, 2 s into each timed run (``Stall``).
``--clear-every N``: MLX's buffer cache is cleared every N decoder rounds instead of
``rows.CLEAR_CACHE_EVERY`` (before 2026-12-02 it counted tokens: with 64 rows, every ~8 rounds).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

SR = 16000
SLOW_S = 0.2  # a call this long is listed with its shape (a kernel compiled for a new shape?)
SHAPES = {  # label -> the shape of a call, from its arguments
    "fcall": lambda a: f"{len(a[1])} rows, {sum(a[1])} active, {a[2] if len(a) > 2 else 1} tokens",
    "dstep": lambda a: f"{len(a[2])} rows, {len(a[1])} stepping, slots {a[0].bank.slots}",
    "prefill": lambda a: f"{len(a[1])} rows",
    "fgrow": lambda a: f"to {a[1]} rows",
    "fjoin": lambda a: "",
    "djoin": lambda a: "",
    "turn": lambda a: "",
}


class Clock:
    """Wall time spent inside wrapped methods, and how often they ran (hub thread only)."""

    def __init__(self):
        self.spent: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.rows: dict[str, int] = {}
        self.slow: list[str] = []  # calls over SLOW_S: "label s (shape)"
        self.seen: set[str] = set()  # "label shape" of every call so far (a new one is marked)
        self.turns: list[float] = []  # each turn's wall time, the current run
        self.slow_s = SLOW_S
        self.t0 = time.perf_counter()

    def wrap(self, owner, name: str, label: str, rows=None) -> None:
        """``rows(args)``: how many rows the call computes for (summed as ``rows[label]``)."""
        inner = getattr(owner, name)

        def timed(*a, **k):
            t = time.perf_counter()
            shape = f"{label} {SHAPES[label](a)}" if label in SHAPES else None
            new = shape is not None and shape not in self.seen
            if new:
                self.seen.add(shape)
            self.calls[label] = self.calls.get(label, 0) + 1
            if rows is not None:
                self.rows[label] = self.rows.get(label, 0) + rows(a)
            try:
                return inner(*a, **k)
            finally:
                took = time.perf_counter() - t
                self.spent[label] = self.spent.get(label, 0.0) + took
                if label == "turn":
                    self.turns.append(took)
                if took > self.slow_s and shape is not None:
                    at = t - self.t0
                    self.slow.append(f"{label} {took:.2f} s at {at:.1f} s ({SHAPES[label](a)}"
                                     f"{', first of its shape' if new else ''})")  # fmt: skip

        setattr(owner, name, timed)

    def clear(self) -> None:
        self.t0 = time.perf_counter()
        self.turns.clear()
        self.slow.clear()
        self.spent.clear()
        self.calls.clear()
        self.rows.clear()

    def per_call(self, label: str, wall: float) -> str:
        """calls/s, rows per call and ms per call of ``label``."""
        n = self.calls.get(label, 0)
        if not n:
            return "-"
        rows = self.rows.get(label, 0) / n
        return f"{n / wall:.0f}/s x {rows:.1f} rows, {1000 * self.spent.get(label, 0) / n:.1f} ms"


class Sampler:
    """Where the hub's thread is, sampled every ``interval`` s from another thread once ``on``:
    its innermost project line (own time: MLX calls that wait for the device, such as
    ``tolist`` and ``eval``, release the GIL and are seen at their line) and every project
    function on its stack (cumulative). cProfile on Python 3.12 profiles every thread."""

    def __init__(self, thread: threading.Thread, interval: float = 0.001):
        self.on, self.thread, self.interval = False, thread, interval
        self.samples = 0
        self.own: dict[str, int] = {}
        self.within: dict[str, int] = {}
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        root = str(Path(__file__).resolve().parents[2])
        while self.thread.is_alive():
            time.sleep(self.interval)
            frame = sys._current_frames().get(self.thread.ident) if self.on else None
            if frame is None:
                continue
            self.samples += 1
            own, seen = None, set()
            while frame is not None:
                code = frame.f_code
                if code.co_filename.startswith(root):
                    name = f"{Path(code.co_filename).stem}.{code.co_name}"
                    own = own or f"{name}:{frame.f_lineno}"
                    seen.add(name)
                frame = frame.f_back
            self.own[own] = self.own.get(own, 0) + 1
            for name in seen:
                self.within[name] = self.within.get(name, 0) + 1

    def report(self, lines: int) -> None:
        n = max(1, self.samples)
        for title, counts in (("own (innermost project line)", self.own),
                              ("cumulative (project functions)", self.within)):  # fmt: skip
            print(f"\nThe hub's thread, the last run, {self.samples} samples, {title}:")
            for name, k in sorted(counts.items(), key=lambda kv: -kv[1])[:lines]:
                print(f"{100 * k / n:5.1f} %  {name}")


def run(hub, n: int, seconds: float, chunk_ms: float, clock: Clock, eos: int) -> dict:
    from fullsize import speech_like

    chunk = int(chunk_ms * SR / 1000)
    audio = speech_like(seconds + 1)[: int(seconds * SR)]
    delay = hub.delay_ms / 1000
    arrived: list[list[float]] = [[] for _ in range(n)]
    lat: list[list[float]] = [[] for _ in range(n)]
    done = threading.Semaphore(0)
    counts = {"eos": 0, "errors": 0}

    def on_event(i):
        def handle(kind, payload):
            now = time.perf_counter()
            if kind == "tokens":
                for e in payload:
                    counts["eos"] += e.token_id == eos
                    k = max(0, -(-round(e.end * SR) // chunk) - 1)
                    if k < len(arrived[i]) and e.end * SR <= len(audio):
                        lat[i].append(now - arrived[i][k] - delay)
            elif kind in ("done", "error"):
                counts["errors"] += kind == "error"
                done.release()

        return handle

    streams = [hub.open(on_event(i)) for i in range(n)]
    clock.clear()
    t0 = time.perf_counter()
    pieces = range(0, len(audio), chunk)
    for k, s in enumerate(pieces):
        for i, stream in enumerate(streams):
            when = t0 + (k + 1 + i / n) * chunk / SR
            time.sleep(max(0.0, when - time.perf_counter()))
            arrived[i].append(time.perf_counter())
            stream.append(audio[s : s + chunk])
    for stream in streams:
        stream.finish()
    for _ in streams:
        done.acquire()
    wall = time.perf_counter() - t0
    every = sorted(x for xs in lat for x in xs)
    per_s = n * seconds
    return {
        "n": n,
        "p50": statistics.median(every),
        "p95": every[int(0.95 * (len(every) - 1))],
        "max": every[-1],
        "enc": 1000 * clock.spent.get("enc", 0) / per_s,
        "bank": 1000 * clock.spent.get("bank", 0) / per_s,
        "dec": 1000 * (clock.spent.get("dec", 0) - clock.spent.get("bank", 0)) / per_s,
        "turns": clock.spent.get("turn", 0) / wall,
        "eos": counts["eos"],
        "errors": counts["errors"],
        "calls": f"front bank {clock.per_call('fcall', wall)}, leaves {clock.calls.get('leave', 0)}"
        f"; decoder bank {clock.per_call('dstep', wall)}; lanes {clock.per_call('lanes', wall)}"
        f"; {per_turn(clock)}",
    }


class Stall:
    """The hub's thread sleeps ``seconds`` once, at its first turn 2 s from now (as a kernel
    compiled for a new shape, or a busy device, would hold it): how fast do the streams
    catch up? (On the 2-core CPU, tiny model, 16 streams: a 3 s stall was caught up within
    2 s, in calls of 16, 4 and 2 tokens.)"""

    def __init__(self, hub, seconds: float):
        self.hub, self.seconds, self.at = hub, seconds, time.perf_counter() + 2.0
        self.inner = hub._turn

        def turn():
            if self.at is not None and time.perf_counter() >= self.at:
                self.at = None
                time.sleep(self.seconds)
            return self.inner()

        hub._turn = turn

    def undo(self) -> None:
        self.hub._turn = self.inner


def per_turn(clock: Clock) -> str:
    """A turn's wall time and where it went: the front bank's run, the decoder's rounds
    (launching steps and reading their tokens back: the wait for the device), the rest
    (audio in, events out)."""
    turns = clock.calls.get("turn", 0)
    if not turns:
        return "no turns"
    ms = {k: 1000 * clock.spent.get(k, 0) / turns for k in ("turn", "bank", "round", "dlaunch")}
    rest = ms["turn"] - ms["bank"] - ms["round"]
    t = sorted(clock.turns) or [0.0]
    p95 = 1000 * t[int(0.95 * (len(t) - 1))]
    return (f"turns of {ms['turn']:.1f} ms (p95 {p95:.1f}): front bank {ms['bank']:.1f}, decoder rounds "
            f"{ms['round']:.1f} (launches {ms['dlaunch']:.1f}), the rest {rest:.1f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=["tiny", "small", "full"], default="small")
    ap.add_argument("--bits", type=int, choices=[4, 16], default=4)
    ap.add_argument("--streams", default="1,4,16")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--chunk-ms", type=float, default=40.0)
    ap.add_argument("--batch-rows", type=int, default=None)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--slow-ms", type=float, default=1000 * SLOW_S,
                    help="list the calls (turns, bank calls, joins, prefills) slower than this")  # fmt: skip
    ap.add_argument("--plain-encoder", action="store_true",
                    help="front bank calls run the encoder op by op, not compiled (A/B)")  # fmt: skip
    ap.add_argument("--stall", type=float, default=0.0,
                    help="the hub's thread sleeps this long once, 2 s into each timed run")  # fmt: skip
    ap.add_argument("--clear-every", type=int, default=None,
                    help="rounds between MLX cache clears (rows.CLEAR_CACHE_EVERY; A/B)")  # fmt: skip
    args = ap.parse_args()

    # isort: off
    import voxtral_mlx  # noqa: F401  (first: on Linux it loads OpenBLAS before mlx.core)
    import mlx.core as mx
    from bench_files import model_loader

    # isort: on
    from voxtral_mlx.decode.decoder_bank import DecoderBank
    from voxtral_mlx.decode.front_bank import FrontBank
    from voxtral_mlx.decode.row import Feed
    from voxtral_mlx.decode.rows import RowBatch
    from voxtral_mlx.serve.hub import StreamHub

    load, tok, name = model_loader(args, "voxtral-hub-")
    if args.clear_every:
        from voxtral_mlx.decode import rows

        rows.CLEAR_CACHE_EVERY = args.clear_every
    if args.plain_encoder:
        from voxtral_mlx.decode import front_bank

        def plain(encoder, rings, x, active):
            return encoder.transformer(x, rings.layers(active, x.shape[1]))

        front_bank.encode_rows = plain

    counts = [int(x) for x in args.streams.split(",")]
    clock = Clock()
    clock.wrap(Feed, "push", "enc")
    clock.wrap(RowBatch, "step", "dec")
    clock.wrap(FrontBank, "run", "bank")
    clock.wrap(StreamHub, "_turn", "turn")
    clock.wrap(FrontBank, "_call", "fcall", lambda a: sum(a[1]))
    clock.wrap(FrontBank, "leave", "leave")
    clock.wrap(DecoderBank, "_step", "dstep", lambda a: len(a[1]))
    clock.wrap(RowBatch, "_step_group", "lanes", lambda a: sum(len(m) for _, m in a[1]))
    clock.wrap(RowBatch, "_round", "round")
    clock.wrap(RowBatch, "_prefill", "prefill")
    clock.wrap(RowBatch, "_launch", "dlaunch")
    clock.wrap(FrontBank, "_grow", "fgrow")
    clock.wrap(FrontBank, "join", "fjoin")
    clock.wrap(DecoderBank, "_join_all", "djoin")
    clock.slow_s = args.slow_ms / 1000

    hub = StreamHub(load, max_streams=max(counts), batch_rows=args.batch_rows)
    hub.start()
    profiler = Sampler(hub._thread) if args.profile else None
    hub.ready.wait()
    if hub.error:
        raise SystemExit(hub.error)
    print(f"device {mx.default_device()}, mlx {mx.__version__}, {args.size} ({name}), "
          f"{args.seconds:.0f} s per stream in {args.chunk_ms:.0f} ms chunks, rows per step: "
          f"{args.batch_rows or 'exact'}", flush=True)  # fmt: skip
    run(hub, max(counts), args.seconds, args.chunk_ms, clock, tok.eos_id)  # warm every shape
    print("| streams | latency p50 / p95 / max (ms) | encoder / bank / decoder ms per s of audio | "
          "hub busy | EOS | dropped |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    calls = []
    for i, n in enumerate(counts):
        if profiler is not None and i == len(counts) - 1:
            profiler.on = True
        stall = Stall(hub, args.stall) if args.stall else None
        r = run(hub, n, args.seconds, args.chunk_ms, clock, tok.eos_id)
        if stall is not None:
            stall.undo()
        print(f"| {n} | {1000 * r['p50']:.0f} / {1000 * r['p95']:.0f} / {1000 * r['max']:.0f} | "
              f"{r['enc']:.1f} / {r['bank']:.1f} / {r['dec']:.1f} | {100 * r['turns']:.0f} % | {r['eos']} | "
              f"{r['errors']} |", flush=True)  # fmt: skip
        calls.append(f"{n} streams: {r['calls']}")
        if clock.slow:
            calls.append(f"  calls over {clock.slow_s} s: " + "; ".join(clock.slow[:60]))
        clock.slow.clear()
    print("\nCalls in the hub's thread, per second of wall time:")
    print("\n".join(calls))
    if profiler is not None:
        profiler.report(25)
    hub.stop()
    hub.join(30)


if __name__ == "__main__":
    main()
