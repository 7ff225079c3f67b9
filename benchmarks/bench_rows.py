"""Many rows, one step (decode/rows.py): what a second and a fourth row cost, and how soon a
draft and a final token follow their audio.

python benchmarks/bench_rows.py [--size tiny|small|full] [--bits 4|16] [--seconds 12]
                                [--rows 1,2,4] [--paced 20] [--sources 1|2] [--dir DIR]

Table 1, cost: R rows (delays 2400, 240, 480, 960 ms, in that order) on one source (one feed:
the encoder runs once), on R sources (a feed each) and, with 4 in ``--rows``, 4 rows on 2
sources (final and draft rows on the microphone and the computer's audio).
Per 80 ms of audio: the wall time of everything (encoders, prefills, steps); the decoder step
once every row runs (rows on one source stand at one position and share a lane); "extra per
row" is what each row beyond the first adds to that step, as a share of the one-row step; the
slowest step that held a prefill (a row's prompt through the decoder: the one stall a live
draft sees, when the final row starts). Every configuration runs once, untimed, over the whole
audio before any is timed (kernel compiles for every shape).

Table 2, latency (``--paced`` seconds, real time): audio arrives in ``--chunk-ms`` chunks at the
speed it is spoken (20 ms: a typical audio callback), two rows (final 2400 ms, draft 240 ms) on
one source (``--sources 2``: on each of two); for every token, the time from the arrival of the audio it describes to its event,
minus its row's delay: what the front end's look-ahead and the compute add.

Random weights: speed only. Exactness of every row is tests/reference/test_rows.py's job.
"""

from __future__ import annotations

import argparse
import bisect
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# isort: off
import voxtral_mlx  # noqa: E402,F401  (first: on Linux it loads OpenBLAS before mlx.core)
import mlx.core as mx  # noqa: E402

# isort: on
from bench_files import model_folder  # noqa: E402
from fullsize import speech_like  # noqa: E402

from voxtral_mlx.checkpoint import weights  # noqa: E402
from voxtral_mlx.decode.rows import RowBatch  # noqa: E402

DELAYS = [2400, 240, 480, 960]
SR, TOKEN = 16000, 1280


INEXACT = {"on": False}  # --inexact: batch every row even where the device rounds rows differently


def run_rows(model, tok, audio, rows: int, sources: int) -> tuple[float, float, float]:
    """``rows`` rows on ``sources`` sources (a feed each, the same audio; each source's rows
    take the delays from the start of DELAYS: 2 rows on 2 sources are two final rows, 4 rows on
    2 sources a final and a draft row each, the microphone and the computer's audio with
    drafts) fed ``audio`` 80 ms at a time: (ms per 80 ms of audio for everything, ms per
    batched decoder step once every row runs, ms of the slowest prefill)."""
    cap = 64 if INEXACT["on"] else None  # None: exact_rows measures the cap
    batch = RowBatch(model, tok, encoder_block=4, max_rows=cap)  # live-sized encoder blocks
    delays = DELAYS[: rows // sources]
    feeds = [batch.add_feed(delays) for _ in range(sources)]
    made = [batch.add_row(feed, d) for feed in feeds for d in delays]
    steady_s, steady_steps, prefill_s = 0.0, 0, 0.0
    t0 = time.perf_counter()
    for s in range(0, len(audio), TOKEN):  # 80 ms at a time, as live audio comes
        for feed in feeds:
            feed.push(audio[s : s + TOKEN])
        before = [r.lane is not None for r in made]
        t1 = time.perf_counter()
        events = batch.step()
        took = time.perf_counter() - t1
        if not all(before):  # a row prefilled (and caught up) in this step
            prefill_s = max(prefill_s, took)
        elif len({r.pos for r in made}) == 1 or len(delays) == 1:  # every row steps each round
            steady_s += took
            steady_steps += sum(1 for row, _ in events if row is made[0])
    wall = time.perf_counter() - t0
    for feed in feeds:
        batch.finish(feed)
    while not all(r.done for r in batch.rows):
        batch.step()
    per_audio = 1000 * wall / (len(audio) / TOKEN)
    return per_audio, 1000 * steady_s / max(1, steady_steps), 1000 * prefill_s


def cost_table(model, tok, audio, counts: list[int]) -> None:
    configs = [(rows, 1) for rows in counts] + [(rows, rows) for rows in counts if rows > 1]
    configs += [(4, 2)] if 4 in counts else []  # the mic and the computer's audio, with drafts
    for rows, sources in configs:  # untimed, whole length: kernel compiles for every shape
        run_rows(model, tok, audio, rows, sources)
    caps = RowBatch(model, tok)._rows_per_step(max(counts))
    print(f"rows per step: {'all (inexact)' if INEXACT['on'] else f'up to {caps} (exact_rows)'}")
    print("| rows | sources | all work per 80 ms of audio (ms) | decoder step, all rows (ms) | extra per row (% of a one-row step) | slowest prefill step (ms) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    base = None
    for rows, sources in configs:
        per, step, prefill = run_rows(model, tok, audio, rows, sources)
        base = step if rows == 1 else base
        extra = "-" if rows == 1 else f"{100 * (step - base) / base / (rows - 1):.0f} %"
        print(f"| {rows} | {'one' if sources == 1 else sources} | {per:.2f} | {step:.2f} | {extra} | {prefill:.0f} |", flush=True)  # fmt: skip


def latency_table(model, tok, audio, chunk: int, sources: int = 1) -> None:
    """Final 2400 ms + draft 240 ms on each of ``sources`` sources (2: the microphone and the
    computer's audio, the same audio here), audio paced in real time."""
    batch = RowBatch(model, tok, encoder_block=4)
    feeds = [batch.add_feed([2400, 240]) for _ in range(sources)]
    rows = {}
    for i, feed in enumerate(feeds):
        tag = "" if sources == 1 else f"source {i + 1}: "
        rows[f"{tag}final 2400 ms"] = batch.add_row(feed, 2400)
        rows[f"{tag}draft 240 ms"] = batch.add_row(feed, 240)
    run_rows(model, tok, audio, 2 * sources, sources)  # untimed: kernel compiles for every shape
    ends, arrived = [], []  # each chunk's last sample + 1, and when it arrived
    late: dict[str, list[float]] = {k: [] for k in rows}
    start = time.perf_counter()
    for s in range(0, len(audio), chunk):
        wait = start + (s + chunk) / SR - time.perf_counter()  # spoken in real time
        if wait > 0:
            time.sleep(wait)
        for feed in feeds:
            feed.push(audio[s : s + chunk])
        ends.append(min(s + chunk, len(audio)))
        arrived.append(time.perf_counter())
        for row, e in batch.step():
            now, end = time.perf_counter(), round(e.end * SR)
            k = bisect.bisect_left(ends, end)  # the chunk that brought the token's audio
            if k < len(arrived):
                name = next(n for n, r in rows.items() if r is row)
                late[name].append(now - arrived[k] - row.protocol.delay_ms / 1000)
    print(f"| row | tokens | after its audio, beyond the delay: mean / p95 / max (ms), {1000 * chunk / SR:.0f} ms chunks |")  # fmt: skip
    print("|---|---|---|")
    for name, xs in late.items():
        xs = sorted(xs)
        p95 = xs[int(0.95 * (len(xs) - 1))]
        print(f"| {name} | {len(xs)} | {1000 * statistics.mean(xs):.1f} / {1000 * p95:.1f} / {1000 * xs[-1]:.1f} |")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=["tiny", "small", "full"], default="tiny")
    ap.add_argument("--bits", type=int, choices=[4, 16], default=4)
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--rows", default="1,2,4")
    ap.add_argument(
        "--paced", type=float, default=20.0, help="seconds of real-time audio (0: skip)"
    )
    ap.add_argument(
        "--chunk-ms", type=float, default=20.0, help="paced audio arrives in chunks of this"
    )
    ap.add_argument(
        "--sources", type=int, default=1, help="paced: final+draft rows on each of N sources"
    )
    ap.add_argument("--dir", default=None, help="keep model folders here between runs")
    ap.add_argument("--inexact", action="store_true", help="batch all rows (what exactness costs)")
    args = ap.parse_args()
    INEXACT["on"] = args.inexact
    root = Path(args.dir or tempfile.mkdtemp(prefix="voxtral-rows-"))
    root.mkdir(parents=True, exist_ok=True)
    folder, tok = model_folder(args, root)
    model, _ = weights.load(folder, dtype=weights.default_dtype())
    audio = speech_like(max(args.seconds, args.paced) + 1)
    print(f"device {mx.default_device()}, mlx {mx.__version__}, {args.size} model ({folder.name}), "
          f"{args.seconds:.0f} s of audio", flush=True)  # fmt: skip
    cost_table(model, tok, audio[: int(args.seconds * SR)], [int(x) for x in args.rows.split(",")])
    if args.paced:
        chunk = int(args.chunk_ms * SR / 1000)
        latency_table(model, tok, audio[: int(args.paced * SR)], chunk, args.sources)


if __name__ == "__main__":
    main()
