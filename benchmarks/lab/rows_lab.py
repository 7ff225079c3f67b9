"""What a second row costs in one decoder step, and where: full-size random decoder, fused.

python benchmarks/lab/rows_lab.py [--bits 4,16] [--steps 200] [--context 400]

ms per step (host ms, wait ms) of a pipelined loop (as the row batch runs it) for:
  1 row                      one lane, the delay gain folded into the FFN norm (today's step)
  2 rows, one delay          one lane of two rows (the norm as one group)
  2 rows, two delays         one lane, rows of two delays (a norm per delay group + concat)
  2 rows, two lanes          two delays, each row its own lane (an attention op per lane)
  4 rows, two delays         one lane, 2 + 2
  1 / 2 rows, gain after norm  the variant ``rms_norm(h, w) * gains`` (gains a [rows, 1, dim]
                             stack): one more multiply for one row, no groups for many
Random weights: speed only (no exactness is checked here; tests/reference/test_rows.py does).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# isort: off
import voxtral_mlx  # noqa: E402,F401
import mlx.core as mx  # noqa: E402

# isort: on
from step_lab import build, timed_loop  # noqa: E402

from voxtral_mlx.model.fast_step import FastStepper  # noqa: E402
from voxtral_mlx.model.fused import fuse_model  # noqa: E402
from voxtral_mlx.model.lanes import Lane  # noqa: E402
from voxtral_mlx.testing import realtime_4b_params  # noqa: E402


def lanes_for(dec, steppers: list[FastStepper], context: int, audio) -> list[Lane]:
    out = []
    for st in steppers:
        x = dec.embed(mx.zeros((1, context), mx.int32)) + audio[:1, :context]
        lane, _ = st.prefill_lane(x)
        out.append(lane)
    return out


def gain_after_norm(dec, steppers: list[FastStepper]) -> list:
    """Layer halves computing ``rms_norm(h, w) * gains`` (gains stacked per row)."""
    eps = dec.cfg.norm_eps
    out = []
    for i, layer in enumerate(dec.layers):
        g = mx.stack([s.gains[i] for s in steppers])[:, None, :]
        w = layer.ffn_norm.weight

        def post(x, attn, att=layer.attention, ffn=layer.feed_forward, g=g, w=w):
            h = x + att.output(attn)
            return h + ffn(mx.fast.rms_norm(h, w, eps) * g)

        out.append((steppers[0]._halves[i][0], mx.compile(post)))
    return out


def run(dec, context: int, steps: int) -> dict:
    dim = dec.cfg.dim
    audio = (0.1 * mx.random.normal((4, context + 3 * steps + 64, dim))).astype(mx.bfloat16)
    mx.eval(audio)
    slow, fast = FastStepper.for_delay(dec, 30), FastStepper.for_delay(dec, 3)
    variants = {
        "1 row": ([slow], "one"),
        "2 rows, one delay": ([slow, slow], "one"),
        "2 rows, two delays": ([slow, fast], "one"),
        "2 rows, two lanes": ([slow, fast], "own"),
        "4 rows, two delays": ([slow, slow, fast, fast], "one"),
        "1 row, gain after norm": ([slow], "after"),
        "2 rows, gain after norm": ([slow, fast], "after"),
    }
    out = {}
    for name, (steppers, how) in variants.items():
        lanes = lanes_for(dec, steppers, context, audio)
        if how in ("one", "after"):
            parts = [(Lane.merge(lanes) if len(lanes) > 1 else lanes[0], steppers)]
        else:
            parts = [(lane, [st]) for lane, st in zip(lanes, steppers, strict=True)]
        rows = len(steppers)
        pos = [context]
        halves = gain_after_norm(dec, steppers) if how == "after" else None

        def step(tok, parts=parts, pos=pos, rows=rows, halves=halves):
            x = dec.embed(tok.reshape(rows, 1)) + audio[:rows, pos[0] : pos[0] + 1]
            pos[0] += 1
            if halves is None:
                return slow.step_lanes(parts, x)
            saved = slow._halves_for
            slow._halves_for = lambda _: halves  # the variant's layer halves for this step
            try:
                return slow.step_lanes(parts, x)
            finally:
                slow._halves_for = saved

        first = mx.zeros((rows,), mx.int32)
        timed_loop(step, first, 30)  # warm-up: kernel compiles, traces
        out[name] = timed_loop(step, first, steps)
        mx.clear_cache()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", default="4,16")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--context", type=int, default=400)
    args = ap.parse_args()
    print(f"device {mx.default_device()}, mlx {mx.__version__}, context {args.context}, "
          f"{args.steps} steps; cells: ms per step (host ms, wait ms)")  # fmt: skip
    results = {}
    for bits in [int(b) for b in args.bits.split(",")]:
        dec = build(bits, realtime_4b_params())
        fuse_model(dec)
        results[bits] = run(dec, args.context, args.steps)
        del dec
        mx.clear_cache()
    print("| variant | " + " | ".join(f"{b}-bit" for b in results) + " |")
    print("|---|" + "---|" * len(results))
    for name in next(iter(results.values())):
        cells = [f"{r[name][0]:.2f} ({r[name][1]:.2f}, {r[name][2]:.2f})" for r in results.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
