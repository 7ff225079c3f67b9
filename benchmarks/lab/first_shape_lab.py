"""What a bank call of a shape the process has not run yet costs, and where (issue 21).

python benchmarks/lab/first_shape_lab.py [--size small|full]

hub_lab.py saw front bank calls and decoder bank steps of a new shape (rows, tokens a row,
slots) take seconds on MLX CUDA. Here, with the model built in memory (random bfloat16), the
production calls (``encode_rows`` over RowRings with the adapter; ``FastStepper.step_bank``
over a LaneBank) run in a fixed order of shapes, each twice: the host time to build and queue
the graph (a compiled function traces and compiles here) and the time until the device is
done. Run it with ``MLX_DISABLE_COMPILE=1`` to see what compiling adds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=["small", "full"], default="small")
    args = ap.parse_args()

    # isort: off
    import voxtral_mlx  # noqa: F401  (first: on Linux it loads OpenBLAS before mlx.core)
    import mlx.core as mx
    from compile_lab import once
    from fullsize import random_model

    # isort: on
    from voxtral_mlx.decode.audio_pipeline import LIVE_BLOCK
    from voxtral_mlx.model.encoder_ring import RowRings
    from voxtral_mlx.model.encoder_rows import encode_rows
    from voxtral_mlx.model.fast_step import FastStepper
    from voxtral_mlx.model.lane_bank import LaneBank

    model = random_model(args.size)
    enc, dec, ea = model.encoder, model.decoder, model.encoder.args
    dt = mx.bfloat16
    stepper = FastStepper.for_delay(dec, 6)
    print(f"device {mx.default_device()}, mlx {mx.__version__}, {args.size}")
    print("| call | shape | host ms (build + queue) | total ms |")
    print("|---|---|---|---|")

    def run(label, fn):
        host, total, _ = once(mx, fn)
        print(f"| {label} | {1000 * host:.1f} | {1000 * total:.1f} |", flush=True)

    rings = {}
    for rows, k in [(64, 1), (64, 1), (16, 1), (16, 1), (16, 2), (16, 2), (64, 2), (32, 1),
                    (8, 1), (8, 16)]:  # fmt: skip
        if rows not in rings:
            rings[rows] = RowRings(len(enc.layers), 1, ea.sliding_window, LIVE_BLOCK,
                                   ea.kv_heads, ea.head_dim, dt)  # fmt: skip
            rings[rows].grow(rows)
        r = rings[rows]
        x = (mx.random.normal((rows, 4 * k, ea.dim)) * 0.5).astype(dt)
        mx.eval(x)

        def call(r=r, x=x, rows=rows):
            r.offsets = [37] * rows
            return [model.adapter(encode_rows(enc, r, x, [True] * rows))] + r.ks + r.vs

        run(f"encoder | {rows} rows, {k} tokens", call)
    banks = {}
    for rows, slots in [(64, 1024), (64, 1024), (16, 1024), (16, 1024), (16, 2048), (16, 2048),
                        (64, 2048), (32, 1024)]:  # fmt: skip
        key = (rows, slots)
        if key not in banks:
            banks[key] = LaneBank.of(dec)
            banks[key].grow(rows, slots)
        bank = banks[key]
        xd = (mx.random.normal((rows, 1, dec.cfg.dim)) * 0.5).astype(dt)
        mx.eval(xd)

        def step(bank=bank, xd=xd, rows=rows, slots=slots):
            bank.pos = [slots // 2] * rows
            return [stepper.step_bank(bank, xd, [True] * rows)] + bank.ks + bank.vs

        run(f"decoder | {rows} rows, {slots} slots", step)


if __name__ == "__main__":
    main()
