"""How many live streams can one server keep in real time? (issue 21)

python benchmarks/bench_serve.py [--size tiny|small|full] [--bits 4|16] [--streams 1,8,16,32,64]
                                 [--seconds 20] [--chunk-ms 40] [--batch-rows N] [--dir DIR]
                                 [--memory] [--cold] [--client-procs 4] [--stagger S]
                                 [--tokens-per-turn N[,N...]] [--end-tokens N[,N...]]

The server (``voxtral_mlx.serve``: the app under uvicorn, the StreamHub on its MLX thread) runs
in this process on a loopback port; the clients run in ``--client-procs`` child processes
(asyncio WebSocket clients speaking vLLM's realtime protocol, one event loop a process), so
they do not share the server's interpreter, and one loop's queue of sends and receives is not
counted as the server's latency. For each N, N clients connect together and each sends
``--seconds`` of speech-like audio in ``--chunk-ms`` chunks at the speed it is spoken (starts
staggered over one chunk, or over ``--stagger`` seconds: clients arriving one after another
rather than in one instant; tokens/s then counts the stagger's wall time too). For every
token, two latencies:

- from the arrival of the chunk that completed the audio it describes to its delta, minus the
  stream's delay (480 ms). With 40 ms chunks that includes one chunk's wait: a token's last
  mel frame reads 2.5 ms of the audio after it (tests/reference/test_stream_parity.py), which
  comes in the next chunk, 40 ms later;
- the server's own: from the arrival of the chunk that held the last sample the token needs
  (its end, the delay and that look-ahead) to its delta: the earliest it can be computed.

Each over every token, and over the tokens after each stream's first 2 s (the streams all
start in one instant: their starts are a burst). Also, over the streams, the time from a
stream's final commit to its ``transcription.done`` (its last words: the right padding of its
end decoded). A stream is in real time when its latency does not grow: its last tenth of
tokens has a p95 within 0.5 s of its first tenth's. Tokens per second: every stream's decoder
steps over the wall time.

Random weights: speed only (each stream's exactness is tests/serve's job). ``--batch-rows N``
steps up to N rows at once even where the device's kernels round rows differently (faster,
may change words: the server's opt-in ``--batch-rows``). ``--memory``: random bfloat16 weights
built in memory instead of a checkpoint written to ``--dir`` (``--bits`` is ignored).
``--cold``: no untimed run at the largest N first, so the first N streams meet the server just
as it started (its warm-up done: ``RowBatch.plan_rows``). ``--tokens-per-turn N``: tokens a
stream decodes in one hub turn at most (the hub's default: ``hub.TOKENS_PER_TURN``, with banks
``BANK_TOKENS_PER_TURN``). ``--end-tokens N``: on a GPU, tokens of a stream's end the front
bank computes a run (``front_bank.END_TOKENS_PER_RUN``). Either may be a list, taken in turn
by the runs of ``--streams`` (``--streams 64,64,64,64 --tokens-per-turn 3,2``: A, B, A, B on one
server, warmed alike; single runs on a GPU vary by about 15 ms at the p95). Turns over 100 ms
are listed with where they went: the front bank's run, the decoder's rounds (how many, how
long), MLX's cache cleared (``rows.CLEAR_CACHE_EVERY``), Python's garbage collections and
MLX's cache of freed buffers before and after; each run lists MLX CUDA's kernels compiled in
it (new files in its PTX cache).
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SR, DELAY = 16000, 0.48
LOOK_AHEAD = 40  # samples past a token's end (and delay) that its last mel frame reads
LEAD_S = 0.5  # wall time counted before the first chunk (as when one process ran them all)
CLIENT_START_S = 2.0  # from launching the client processes to their first chunk
SLOW_TURN_S = 0.1  # a turn this long is listed with its time in the run (after the clients start)
# A turn still running after this long has every thread's Python stack written down
# (faulthandler: its own C thread, so even an MLX call holding the GIL is caught in the act).
STALL_S = 0.2
STEADY_AFTER = 2.0  # s of a stream's audio: its tokens after that are "steady" (started)


# ---- the clients (child process) ------------------------------------------------------------
async def one_client(url: str, audio, chunk: int, start: float, out: list,
                     finals: list) -> None:  # fmt: skip
    import websockets

    try:
        await _one_client(url, audio, chunk, start, out, finals)
    except websockets.ConnectionClosed:  # dropped by the server (too slow): counted, not fatal
        out.append(None)


async def _one_client(url: str, audio, chunk: int, start: float, out: list,
                      finals: list) -> None:  # fmt: skip
    import websockets

    from voxtral_mlx.serve.protocol import encode_pcm16

    async with websockets.connect(f"ws://{url}/v1/realtime", max_size=None) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "session.update", "model": ""}))
        await ws.send('{"type": "input_audio_buffer.commit"}')
        arrived: list[float] = []
        final_sent: list[float] = []

        async def sender() -> None:
            await asyncio.sleep(max(0.0, start - time.perf_counter()))
            t0 = time.perf_counter()
            for k, i in enumerate(range(0, len(audio), chunk)):
                await asyncio.sleep(max(0.0, t0 + (k + 1) * chunk / SR - time.perf_counter()))
                arrived.append(time.perf_counter())
                piece = encode_pcm16(audio[i : i + chunk])
                await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": piece}))
            await ws.send('{"type": "input_audio_buffer.commit", "final": true}')
            final_sent.append(time.perf_counter())

        task = asyncio.create_task(sender())
        lat = []
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == "error":  # dropped by the server: counted as behind
                task.cancel()
                out.append(None)
                return
            if event["type"] != "transcription.delta":
                if event["type"] == "transcription.done" and final_sent:
                    finals.append(time.perf_counter() - final_sent[0])
                break
            now = time.perf_counter()
            end = round(event["end"] * SR)
            k = max(0, -(-end // chunk) - 1)  # the chunk completing its audio
            need = -(-(end + round(DELAY * SR) + LOOK_AHEAD) // chunk) - 1  # its last sample's
            if need < len(arrived) and end <= len(audio):
                lat.append((now - arrived[k] - DELAY, event["end"], now - arrived[need]))
        await task
        out.append(lat)


async def clients(url: str, first: int, n: int, of: int, seconds: float, chunk_ms: float,
                  start_at: float, stagger: float = 0.0) -> dict:  # fmt: skip
    """Clients ``first .. first+n-1`` of ``of``, client ``i`` starting ``i / of`` of a chunk
    (or of ``stagger`` seconds, if longer) after ``start_at`` (``time.time()``: the same
    instant for every client process)."""
    from fullsize import speech_like

    chunk = int(chunk_ms * SR / 1000)
    audio = speech_like(seconds + 1)[: int(seconds * SR)]
    out: list = []
    finals: list[float] = []
    t0 = time.perf_counter() + (start_at - time.time())
    spread = max(chunk / SR, stagger)
    await asyncio.gather(*(one_client(url, audio, chunk, t0 + (i / of) * spread, out, finals)
                           for i in range(first, first + n)))  # fmt: skip
    return {"out": out, "finals": finals, "end": time.time()}


def summary(out: list, n: int, seconds: float, wall: float, finals: list) -> dict:
    """The table's figures from every client's latencies (None: dropped) and the times from
    each final commit to its ``transcription.done`` (``finals``)."""
    dropped = sum(lat is None for lat in out)
    timed = [lat for lat in out if lat]
    nan = [float("nan")]
    every = sorted(x for lat in timed for x, _, _ in lat) or nan
    steady = sorted(x for lat in timed for x, end, _ in lat if end > STEADY_AFTER) or nan
    own = sorted(y for lat in timed for _, _, y in lat) or nan
    own_steady = sorted(y for lat in timed for _, end, y in lat if end > STEADY_AFTER) or nan
    behind = dropped
    for lat in ([x for x, _, _ in lat] for lat in timed):
        tenth = max(1, len(lat) // 10)
        if pct(sorted(lat[-tenth:])) - pct(sorted(lat[:tenth])) > 0.5:
            behind += 1
    steps = n * (seconds * SR / 1280 + 1 + 11)
    return {"n": n, "p50": statistics.median(every), "p95": pct(every), "max": every[-1],
            "steady_p50": statistics.median(steady), "steady_p95": pct(steady),
            "own_p50": statistics.median(own), "own_p95": pct(own), "own_max": own[-1],
            "own_steady_p95": pct(own_steady), "behind": behind, "dropped": dropped,
            "done_p50": statistics.median(finals or nan), "done_p95": pct(sorted(finals) or nan),
            "tokens_s": steps / wall}  # fmt: skip


def pct(xs: list, q: float = 0.95) -> float:
    return xs[int(q * (len(xs) - 1))]


# ---- the server (this process) ----------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=["tiny", "small", "full"], default="tiny")
    ap.add_argument("--bits", type=int, choices=[4, 16], default=4)
    ap.add_argument("--streams", default="1,8,16,32,64")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--chunk-ms", type=float, default=40.0)
    ap.add_argument("--batch-rows", type=int, default=None)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--cold", action="store_true",
                    help="no untimed run first: the first N streams meet the server as started")  # fmt: skip
    ap.add_argument("--client-procs", type=int, default=4,
                    help="processes the clients run in (one event loop each)")  # fmt: skip
    ap.add_argument("--stagger", type=float, default=0.0,
                    help="seconds over which the clients start (default: one chunk)")  # fmt: skip
    ap.add_argument("--tokens-per-turn", default=None,
                    help="N, or N,M,...: taken in turn by the runs of --streams")  # fmt: skip
    ap.add_argument("--end-tokens", default=None,
                    help="N, or N,M,...: taken in turn by the runs of --streams")  # fmt: skip
    ap.add_argument("--client", default=None, help=argparse.SUPPRESS)  # url: run clients
    ap.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        got = asyncio.run(clients(args.client, args.first, args.count, int(args.streams),
                                  args.seconds, args.chunk_ms, args.start_at, args.stagger))  # fmt: skip
        print(json.dumps(got))
        return

    # isort: off
    import voxtral_mlx  # noqa: F401  (first: on Linux it loads OpenBLAS before mlx.core)
    import mlx.core as mx
    from bench_files import model_loader

    # isort: on

    from voxtral_mlx.decode import front_bank
    from voxtral_mlx.serve.server import favour_latency, make_server

    counts = [int(x) for x in args.streams.split(",")]
    per_turn = [int(x) for x in (args.tokens_per_turn or "0").split(",")]
    end_tokens = [int(x) for x in (args.end_tokens or "0").split(",")]
    wall0 = time.time()  # the driver cache's entries are listed from here
    load, tok, name = model_loader(args, "voxtral-serve-")

    default_end = front_bank.END_TOKENS_PER_RUN
    favour_latency()  # as ``voxtral_mlx serve`` does
    server, hub = make_server(load, port=8765, max_streams=max(counts), batch_rows=args.batch_rows)
    default_turn = hub._max_tokens
    turns = TurnClock(hub)
    t0 = time.perf_counter()
    hub.start()
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started or not hub.ready.is_set():
        time.sleep(0.05)
    print(f"device {mx.default_device()}, mlx {mx.__version__}, {args.size} model "
          f"({name}), {args.seconds:.0f} s per stream in {args.chunk_ms:.0f} ms chunks, "
          f"rows per step: {args.batch_rows or 'exact'}, clients starting over "
          f"{args.stagger or args.chunk_ms / 1000:g} s; the server was ready "
          f"{time.perf_counter() - t0:.1f} s after start (model, kernels, bank shapes)"
          + (f"; cuDNN's log {log} bytes" if (log := cudnn_log_size()) is not None else ""),
          flush=True)  # fmt: skip
    if not args.cold:
        # Untimed, over the whole length, at the largest N: MLX CUDA compiles kernels for
        # every new cache length and row count (a server's first minutes at a new load).
        run_clients(max(counts), args)
    print("| streams | tokens a turn (an end's a run) | after its audio, beyond the delay: p50 / p95 / max (ms) | after the first 2 s: p50 / p95 (ms) | the server's own, from the chunk with its last needed sample: p50 / p95 / max (ms) | own, after the first 2 s: p95 (ms) | done after the final commit: p50 / p95 (ms) | streams falling behind (dropped) | tokens/s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    notes = []
    for i, n in enumerate(counts):
        # Both are read afresh every turn (hub) and every bank run (front bank).
        hub._max_tokens = per_turn[i % len(per_turn)] or default_turn
        front_bank.END_TOKENS_PER_RUN = end_tokens[i % len(end_tokens)] or default_end
        turns.clear()
        r = run_clients(n, args)
        notes.append(f"{n} streams: {turns.report()}")
        print(f"| {n} | {hub._max_tokens} ({front_bank.END_TOKENS_PER_RUN}) | {1000 * r['p50']:.0f} / {1000 * r['p95']:.0f} / {1000 * r['max']:.0f} | "
              f"{1000 * r['steady_p50']:.0f} / {1000 * r['steady_p95']:.0f} | "
              f"{1000 * r['own_p50']:.0f} / {1000 * r['own_p95']:.0f} / {1000 * r['own_max']:.0f} | "
              f"{1000 * r['own_steady_p95']:.0f} | "
              f"{1000 * r['done_p50']:.0f} / {1000 * r['done_p95']:.0f} | "
              f"{r['behind']} ({r['dropped']}) | {r['tokens_s']:.0f} |", flush=True)  # fmt: skip
    print("\nThe hub's turns that had work (audio in, a step of every stream, events out):")
    print("\n".join(notes))
    print("\nThe CUDA driver's kernel cache (time from the server's start):")
    print(driver_cache_listing(wall0))
    server.should_exit = True
    hub.stop()
    hub.join(30)


class TurnClock:
    """The wall time of the hub's turns that did work (its thread only), to set beside
    ``lab/hub_lab.py``'s (the hub without the network, the event loop and the clients), the
    turns over ``SLOW_TURN_S`` with their time from the clients' first chunk and where it went
    (the front bank's run; the decoder's rounds, how many and how long), and the front bank's
    leaves (a member far behind the others catching up alone)."""

    def __init__(self, hub):
        import mlx.core as mx

        from voxtral_mlx.decode.front_bank import FrontBank
        from voxtral_mlx.decode.rows import RowBatch

        self.clear()  # the turns' times, the slow ones, leaves and clears, the clocks
        self.stack_file = tempfile.TemporaryFile("w+")
        # This turn's front bank run (s), decoder rounds, their s, MLX cache clears (s),
        # Python's garbage collections (s; any thread's: they stop every thread), and MLX's
        # cache of freed buffers before and after it (bytes: the allocator may free it when
        # it needs room, as slow as a clear).
        self.parts = [0.0, 0, 0.0, 0.0, 0.0, 0, 0]
        inner, leave = hub._turn, FrontBank.leave
        run, round_, clear = FrontBank.run, RowBatch._round, mx.clear_cache

        def turn():
            self.parts = [0.0, 0, 0.0, 0.0, 0.0, mx.get_cache_memory(), 0]
            t = time.perf_counter()
            self.stack_file.seek(0)
            self.stack_file.truncate()
            faulthandler.dump_traceback_later(STALL_S, file=self.stack_file)
            busy = inner()
            faulthandler.cancel_dump_traceback_later()
            took = time.perf_counter() - t
            if took > STALL_S:
                self.stacks.append((t - self.start, self.hub_stack()))
            self.parts[6] = mx.get_cache_memory()
            if busy:
                self.times.append(took)
            if took > SLOW_TURN_S:
                self.slow.append((t - self.start, took, self.parts))
            return busy

        def timed_run(bank):
            t = time.perf_counter()
            run(bank)
            self.parts[0] += time.perf_counter() - t

        def timed_round(batch, budget, events):
            t = time.perf_counter()
            stepped = round_(batch, budget, events)
            self.parts[1] += stepped
            self.parts[2] += time.perf_counter() - t
            return stepped

        def timed_clear():  # RowBatch's every CLEAR_CACHE_EVERY rounds
            t = time.perf_counter()
            clear()
            self.parts[3] += time.perf_counter() - t
            self.clears += 1

        gc_start = [0.0]

        def timed_gc(phase, info):
            if phase == "start":
                gc_start[0] = time.perf_counter()
            else:
                self.parts[4] += time.perf_counter() - gc_start[0]

        def counted_leave(bank, pipe):
            self.leaves += 1
            return leave(bank, pipe)

        hub._turn = turn
        FrontBank.leave, FrontBank.run, RowBatch._round = counted_leave, timed_run, timed_round
        mx.clear_cache = timed_clear
        gc.callbacks.append(timed_gc)

    def clear(self) -> None:
        self.log_at = cudnn_log_size()
        self.times, self.slow, self.start = [], [], time.perf_counter()
        self.stacks: list[tuple[float, str]] = []  # turns over STALL_S: the hub thread's stack
        self.wall_start = time.time()
        self.leaves = self.clears = 0

    def report(self) -> str:
        import mlx.core as mx

        t = sorted(self.times)
        if not t:
            return "none"
        wall = time.perf_counter() - self.start
        slow = ", ".join(f"{1000 * took:.0f} ms at {at - CLIENT_START_S:.1f} s (front "
                         f"{1000 * front:.0f} ms, {rounds} rounds {1000 * decoder:.0f} ms"
                         + (f", the cache cleared: {1000 * cleared:.0f} ms" if cleared else "")
                         + (f", garbage collected: {1000 * gc_s:.0f} ms" if gc_s > 0.01 else "")
                         + f", MLX cache {cache0 / 1e9:.1f} -> {cache1 / 1e9:.1f} GB"
                         + ")" for at, took, (front, rounds, decoder, cleared, gc_s, cache0, cache1)
                         in self.slow[:20])  # fmt: skip
        return (f"{len(t) / wall:.0f}/s, mean {1000 * sum(t) / len(t):.1f} ms, p95 "
                f"{1000 * pct(t):.1f} ms, the thread {100 * sum(t) / wall:.0f} % in them; front "
                f"bank leaves {self.leaves}; MLX cache clears {self.clears}; MLX memory now: active "
                f"{mx.get_active_memory() / 1e9:.1f} GB, cache {mx.get_cache_memory() / 1e9:.1f} "
                f"GB, peak {mx.get_peak_memory() / 1e9:.1f} GB; turns over {1000 * SLOW_TURN_S:.0f} ms: "
                f"{slow or 'none'}{self.new_kernels(mx.__version__)}"
                + (f"; cuDNN's log, bytes {self.log_at}-{cudnn_log_size()}"
                   if self.log_at is not None else "")
                + "".join(f"\n  the hub thread {STALL_S:g} s into the turn at "
                          f"{at - CLIENT_START_S:.1f} s (innermost first): {stack}"
                          for at, stack in self.stacks[:8]))  # fmt: skip

    def hub_stack(self) -> str:
        """The MLX thread's frames from faulthandler's dump of this turn: ``file:line (function)``
        from the innermost, joined by " < "."""
        self.stack_file.seek(0)
        me = f"{threading.get_ident():#018x}"
        frames, mine = [], False
        for line in self.stack_file.read().splitlines():
            if line.startswith(("Thread ", "Current thread ")):
                mine = me in line
            elif mine and line.strip().startswith("File "):
                where = line.strip()[5:].replace('"', "")
                name, _, rest = where.partition(", line ")
                number, _, function = rest.partition(" in ")
                frames.append(f"{Path(name).name}:{number} ({function})")
        return " < ".join(frames[:10]) or "not caught (the turn ended first)"

    def new_kernels(self, version: str) -> str:
        """Kernels compiled since the run began, with their time from the clients' first chunk,
        seen as new files in two disk caches (a kernel compiled on another run of this machine
        is read from there, not compiled): MLX CUDA's own (NVRTC; ``MLX_PTX_CACHE_DIR``, else
        ``<tmp>/mlx/<version>/ptx``) and the CUDA driver's (PTX compiled for this GPU, cuDNN's
        runtime-built attention kernels among them; ``CUDA_CACHE_PATH``, else
        ``~/.nv/ComputeCache``). Empty where neither folder exists (off CUDA)."""
        import os

        caches = {"MLX": os.environ.get("MLX_PTX_CACHE_DIR")
                  or Path(tempfile.gettempdir(), "mlx", version, "ptx"),
                  "driver": driver_cache_folder()}  # fmt: skip
        out = ""
        for label, folder in caches.items():
            if not Path(folder).is_dir():
                continue
            # A long module name is cut into folders (MLX's get_ptx_path): joined again here.
            new = sorted((f.stat().st_mtime - self.wall_start - CLIENT_START_S,
                          "".join(f.relative_to(folder).parts), f)
                         for f in Path(folder).rglob("*")
                         if f.is_file() and f.stat().st_mtime >= self.wall_start)  # fmt: skip
            listed = ", ".join(f"{name[:70]} at {at:.1f} s"
                               + (f" [{kernel_names(f)}]" if label == "driver" else "")
                               for at, name, f in new[:12])  # fmt: skip
            out += f"; {label} kernels compiled ({folder}): {len(new)}" + (f" ({listed})" if listed else "")  # fmt: skip
        return out


def cudnn_log_size() -> int | None:
    """The length of cuDNN frontend's log (``CUDNN_FRONTEND_LOG_FILE``, with
    ``CUDNN_FRONTEND_LOG_INFO=1``), to find the attention graphs built during a run: None
    when there is no such log."""
    import os

    name = os.environ.get("CUDNN_FRONTEND_LOG_FILE")
    if not name or name in ("stdout", "stderr") or not Path(name).is_file():
        return None
    return Path(name).stat().st_size


def kernel_names(entry: Path, most: int = 3) -> str:
    """The kernels a CUDA driver cache entry holds (the ``.text.<kernel>`` sections of the
    compiled code inside it), the first ``most`` of them cut to 90 characters: which library's
    PTX the driver had to compile for this GPU."""
    import re

    try:
        data = entry.read_bytes()
    except OSError:
        return "unreadable"
    # The sections' names; else (compressed or of another layout) whatever mangled names show.
    for pattern in (rb"\.text\.([A-Za-z0-9_$.]{6,})", rb"_Z[A-Za-z0-9_]{12,}"):
        names = list(dict.fromkeys(m.decode("ascii", "replace")
                                   for m in re.findall(pattern, data)))  # fmt: skip
        if names:
            break
    shown = " | ".join(n[:90] for n in names[:most])
    return f"{len(names)} kernels: {shown}" if names else f"{len(data)} bytes, no names"


def driver_cache_folder() -> Path:
    """The CUDA driver's cache of kernels it compiled from PTX: ``CUDA_CACHE_PATH``, else
    ``~/.nv/ComputeCache``."""
    import os

    return Path(os.environ.get("CUDA_CACHE_PATH") or Path.home() / ".nv" / "ComputeCache")


def driver_cache_listing(since: float) -> str:
    """Every entry of the CUDA driver's cache (``driver_cache_folder``) written from ``since``
    (epoch s) on, oldest first, with its time from then, size and kernels: what the server
    compiled from PTX while it started and while clients ran."""
    folder = driver_cache_folder()
    if not folder.is_dir():
        return "no CUDA driver cache here"
    entries = sorted((f.stat().st_mtime, f) for f in folder.rglob("*") if f.is_file())
    lines = [f"{len(entries)} entries in {folder}, of them written after the server's start:"]
    for at, f in entries:
        if at >= since:
            lines.append(f"  {at - since:7.1f} s  {f.stat().st_size / 1e3:7.0f} kB  "
                         f"{f.relative_to(folder)}  {kernel_names(f, 6)}")  # fmt: skip
    return "\n".join(lines)


def run_clients(n: int, args) -> dict:
    """N clients in ``--client-procs`` processes (one asyncio loop each), started together."""
    procs = max(1, min(args.client_procs, n))
    start_at = time.time() + CLIENT_START_S  # every process imported and connected by then
    children = []
    for p in range(procs):
        first, last = p * n // procs, (p + 1) * n // procs
        cmd = [sys.executable, __file__, "--client", "127.0.0.1:8765", "--streams", str(n),
               "--first", str(first), "--count", str(last - first), "--start-at", repr(start_at),
               "--seconds", str(args.seconds), "--chunk-ms", str(args.chunk_ms),
               "--stagger", str(args.stagger)]  # fmt: skip
        children.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True))  # fmt: skip
    out, finals, end = [], [], start_at
    for child in children:
        stdout, stderr = child.communicate()
        if child.returncode:
            raise SystemExit(f"the clients failed: {stderr.strip()[-2000:]}")
        got = json.loads(stdout.strip().splitlines()[-1])
        out += got["out"]
        finals += got["finals"]
        end = max(end, got["end"])
    return summary(out, n, args.seconds, end - start_at + LEAD_S, finals)


if __name__ == "__main__":
    main()
