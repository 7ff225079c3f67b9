"""Decoder step variants side by side: full-size random decoder (no encoder, no checkpoint).

python benchmarks/lab/step_lab.py [--bits 4,8,16] [--steps 200] [--context 400]
                              [--env "default;MLX_USE_CUDA_GRAPHS=0"]

For each bit width: ms per token of a pipelined greedy loop (next step queued with
``async_eval`` before the previous token is read, as in StreamingSession) for
  op-by-op     Decoder.__call__ with mlx-lm caches (the prefill path),
  stepper      FastStepper (what StreamingSession runs after the prefill),
each before and after fusing q/k/v and gate/up (model/fused.py). "host" is the time spent
building and launching a step, "wait" the time then blocked on the previous token: a
step with wait ~ 0 is bound by the host. ``--env`` re-runs the script in a child process per
setting (``;``-separated, each ``NAME=VALUE[,NAME=VALUE]`` or ``default``) to compare MLX
backend switches such as MLX_MAX_OPS_PER_BUFFER, MLX_USE_CUDA_GRAPHS, MLX_CUDA_USE_CUDNN_SDPA.
The "op cost" row is the host time of one small elementwise op in a chain of 400 (us).
Random weights: speed only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# isort: off
import voxtral_mlx  # noqa: E402,F401
import mlx.core as mx  # noqa: E402
import mlx.nn as nn  # noqa: E402

# isort: on
from mlx.utils import tree_map  # noqa: E402

from voxtral_mlx.checkpoint.weights import quantize_predicate  # noqa: E402
from voxtral_mlx.config import ModelConfig  # noqa: E402
from voxtral_mlx.model.decoder import Decoder  # noqa: E402
from voxtral_mlx.model.fast_step import FastStepper  # noqa: E402
from voxtral_mlx.model.fused import fuse_model  # noqa: E402
from voxtral_mlx.testing import realtime_4b_params  # noqa: E402


def build(bits: int, params: dict) -> Decoder:
    mx.random.seed(0)
    dec = Decoder(ModelConfig.from_dict(params))
    dec.update(tree_map(lambda w: (w * 0.5).astype(mx.bfloat16), dec.parameters()))
    mx.eval(dec.parameters())
    if bits < 16:
        nn.quantize(
            dec, 64, bits, class_predicate=lambda p, m: quantize_predicate(f"decoder.{p}", m, 64)
        )
        mx.eval(dec.parameters())
    return dec


def timed_loop(step, first, n: int) -> tuple[float, float, float]:
    """step(previous lazy tokens) -> next lazy tokens, the next queued before the previous is
    read (as the session and the row batch run). Returns (ms per step, host ms, wait ms)."""
    pending = step(first)
    mx.async_eval(pending)
    host = wait = 0.0
    t_start = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        nxt = step(pending)
        mx.async_eval(nxt)
        t1 = time.perf_counter()
        pending.tolist()  # one or many rows
        t2 = time.perf_counter()
        host += t1 - t0
        wait += t2 - t1
        pending = nxt
    pending.tolist()  # one or many rows
    total = time.perf_counter() - t_start
    return 1e3 * total / n, 1e3 * host / n, 1e3 * wait / n


def run_variants(dec: Decoder, context: int, steps: int) -> dict[str, list[float]]:
    gains = dec.ffn_gains(6)
    mx.eval(gains)
    dim = dec.cfg.dim
    audio = (0.1 * mx.random.normal((1, context + 3 * steps + 64, dim))).astype(mx.bfloat16)
    mx.eval(audio)
    out = {}

    def prefill():
        cache = dec.make_cache()
        x = dec.embed(mx.zeros((1, context), mx.int32)) + audio[:, :context]
        mx.eval(dec(x, gains, cache))
        return cache

    for name in ("op-by-op", "stepper"):
        cache = prefill()
        pos = [context]
        if name == "op-by-op":

            def step(tok, cache=cache, pos=pos):
                x = dec.embed(tok.reshape(1, 1)) + audio[:, pos[0] : pos[0] + 1]
                pos[0] += 1
                return mx.argmax(dec(x, gains, cache)[:, -1], axis=-1)

        else:
            st = FastStepper(dec, gains)
            st.start(cache, context)

            def step(tok, st=st, pos=pos):
                x = dec.embed(tok.reshape(1, 1)) + audio[:, pos[0] : pos[0] + 1]
                pos[0] += 1
                return st.step(x)

        timed_loop(step, mx.array([0]), 30)  # warm-up (kernel JIT, compile trace)
        out[name] = [round(v, 3) for v in timed_loop(step, mx.array([0]), steps)]
        del cache
        mx.clear_cache()
    return out


def op_cost_us(n: int = 400) -> float:
    """Wall time per op of a chain of ``n`` tiny dependent adds, evaluated at once (us)."""
    x = mx.zeros((1, 3072), mx.bfloat16)
    mx.eval(x)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        y = x
        for _ in range(n):
            y = y + 1
        mx.eval(y)
        best = min(best, time.perf_counter() - t0)
    return 1e6 * best / n


def child(args) -> dict:
    params = realtime_4b_params()
    res = {"op": {"op cost": [round(op_cost_us(), 2), 0.0, 0.0]}}
    for bits in [int(b) for b in args.bits.split(",")]:
        dec = build(bits, params)
        r = {f"{k} unfused": v for k, v in run_variants(dec, args.context, args.steps).items()}
        fuse_model(dec)
        r.update({f"{k} fused": v for k, v in run_variants(dec, args.context, args.steps).items()})
        res[bits] = r
        print(f"# bits {bits} env {args.env_label}:", json.dumps(r), flush=True)
        del dec
        mx.clear_cache()
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", default="4,8,16")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--context", type=int, default=400)
    ap.add_argument("--env", default="", help="';'-separated settings; '' = this process only")
    ap.add_argument("--env-label", default="this process", help=argparse.SUPPRESS)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    if not args.env:
        res = child(args)
        if args.json:
            Path(args.json).write_text(json.dumps(res))
        return
    print(f"device {mx.default_device()}, mlx {mx.__version__}, context {args.context}, "
          f"{args.steps} steps; cells: ms/token (host ms, wait ms)")  # fmt: skip
    rows: dict[tuple, list] = {}
    settings = args.env.split(";")
    for i, setting in enumerate(settings):
        env = dict(os.environ)
        if setting != "default":
            env.update(kv.split("=", 1) for kv in setting.split(","))
        tmp = Path(f"/tmp/step_lab_{i}.json")
        cmd = [sys.executable, __file__, "--bits", args.bits, "--steps", str(args.steps),
               "--context", str(args.context), "--json", str(tmp), "--env-label", setting]  # fmt: skip
        subprocess.run(cmd, env=env, check=True)
        for bits, r in json.loads(tmp.read_text()).items():
            for variant, (ms, host, wait) in r.items():
                rows.setdefault((bits, variant), []).append(f"{ms:.2f} ({host:.2f}, {wait:.2f})")
    print("| bits | variant | " + " | ".join(settings) + " |")
    print("|---|---|" + "---|" * len(settings))
    for (bits, variant), cells in rows.items():
        print(f"| {bits} | {variant} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
