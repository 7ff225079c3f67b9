"""What many streams starting at once cost the hub's thread (issue 21): the burst of a server's
first clients, piece by piece.

python benchmarks/lab/start_lab.py [--size tiny|small|full] [--streams 64] [--batch-rows 64]
                                   [--bits 4 --dir DIR]

Random bfloat16 weights of the size built in memory (float32 on the CPU), or with ``--bits 4``
a 4-bit checkpoint of random weights written to ``--dir`` (kept: a second run loads it) and
loaded as the server loads it; a SessionGroup as the server makes it
(live blocks, ``--batch-rows`` banks), warmed as the server warms it (``plan_rows``) and after one
stream has run (every kernel compiled). Then, timed, for N new streams together (ms, the
device waited for after each piece): the sessions made, 0.6 s of audio pushed to each, the
first step (the front bank joins and computes, the rows prefilled), the next steps.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

SR = 16000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=["tiny", "small", "full"], default="tiny")
    ap.add_argument("--streams", type=int, default=64)
    ap.add_argument("--batch-rows", type=int, default=64)
    ap.add_argument("--bits", type=int, choices=[4, 16], default=16)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    args.memory = args.bits == 16

    # isort: off
    import voxtral_mlx  # noqa: F401  (first: on Linux it loads OpenBLAS before mlx.core)
    import mlx.core as mx
    from fullsize import speech_like
    from bench_files import model_loader

    # isort: on
    from voxtral_mlx.decode import decoder_bank, front_bank, rows
    from voxtral_mlx.decode.audio_pipeline import LIVE_BLOCK
    from voxtral_mlx.decode.session import SessionGroup, StreamingSession
    from voxtral_mlx.model.encoder_ring import RowRings

    load, _, name = model_loader(args, "voxtral-start-")
    model, tok = load()
    # MLX's CPU backend computes bfloat16 far slower
    if args.memory and mx.default_device() == mx.cpu:
        from mlx.utils import tree_map

        model.update(tree_map(lambda w: w.astype(mx.float32), model.parameters()))
    group = SessionGroup(model, tok, LIVE_BLOCK, max_rows=args.batch_rows,
                         bank_rows=args.batch_rows)  # fmt: skip
    group.batch.plan_rows(args.batch_rows)
    audio = speech_like(3.0)
    spent: dict[str, list] = {}

    def timed(owner, name, label):
        inner = getattr(owner, name)

        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return inner(*a, **k)
            finally:
                spent.setdefault(label, []).append(time.perf_counter() - t)

        setattr(owner, name, wrapper)

    timed(front_bank.FrontBank, "join", "front bank joins")
    timed(front_bank.FrontBank, "_grow", "front bank grows")
    timed(RowRings, "put", "ring copies into the bank")
    timed(front_bank.FrontBank, "_call", "front bank calls")
    timed(rows.RowBatch, "_prefill", "prefills")
    timed(decoder_bank.DecoderBank, "_join_all", "decoder bank joins (a step's)")
    timed(StreamingSession, "__init__", "sessions made")

    def streams(n: int, seconds: float, report: bool) -> None:
        spent.clear()
        pieces: list[tuple[str, float]] = []
        t = time.perf_counter()
        group.batch.make_room(n)  # as the server's hub does for streams starting together
        made = [StreamingSession(model, tok, None, group=group) for _ in range(n)]
        mx.synchronize()
        pieces.append(("make the sessions", time.perf_counter() - t))
        piece = SR // 25
        for k in range(int(seconds * 25)):
            t = time.perf_counter()
            for s in made:
                s.push(audio[k * piece : (k + 1) * piece])
            group.step(12)
            for s in made:
                s.take()
            mx.synchronize()
            pieces.append((f"turn {k} (40 ms of audio each)", time.perf_counter() - t))
        for s in made:
            s.close()
        while not all(s.done for s in made):
            group.step(12)
        for s in made:
            group.remove(s)
        if report:
            for label, took in pieces:
                if took > 0.005 or label.startswith("make"):
                    print(f"| {label} | {1000 * took:.1f} |")
            for label, times in spent.items():
                print(f"| in all: {label} ({len(times)}) | {1000 * sum(times):.1f} |")

    streams(3, 1.0, False)  # every kernel once
    print(f"device {mx.default_device()}, mlx {mx.__version__}, {args.size} ({name}), {args.streams} "
          f"streams starting together, banks of {args.batch_rows}")  # fmt: skip
    print("| piece | ms |\n|---|---|")
    streams(args.streams, 1.2, True)


if __name__ == "__main__":
    main()
