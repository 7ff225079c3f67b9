"""Batched decoding (the long-file path): time per decoder step and per token by batch size.

python benchmarks/bench_batch.py MODEL_FOLDER [--batches 1,4,8,16] [--seconds 6]

Loads a model folder with the app's loader (its dtype and packing for this device), then
decodes ``B`` different clips of ``--seconds`` each as one batch (voxtral_mlx/decode/batch.py)
and prints one row per ``B``: batched steps, wall ms per step (encoder included, as in a file),
ms per token, and the speed-up per token over ``B = 1``. Random weights: speed only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# isort: off
import voxtral_mlx  # noqa: E402,F401  (first: on Linux it loads OpenBLAS before mlx.core)
import mlx.core as mx  # noqa: E402

# isort: on
from fullsize import speech_like, synthetic_tokenizer  # noqa: E402

from voxtral_mlx.checkpoint import weights  # noqa: E402
from voxtral_mlx.decode.batch import BatchDecoder  # noqa: E402
from voxtral_mlx.model import packed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--batches", default="1,4,8,16")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--mlx-layout", action="store_true",
                    help="packed layers get the rows as MLX's batch layout, not one matrix "
                         "(model/packed.py), to measure the difference")  # fmt: skip
    args = ap.parse_args()
    t0 = time.perf_counter()
    model, _ = weights.load(args.folder, dtype=weights.default_dtype())
    if args.mlx_layout:
        packed.install(model, one_matrix=False)
    print(f"device {mx.default_device()}, mlx {mx.__version__}, {args.folder}: "
          f"loaded in {time.perf_counter() - t0:.1f} s, packed rows as {'a batch' if args.mlx_layout else 'one matrix'}",
          flush=True)  # fmt: skip
    bd = BatchDecoder(model, synthetic_tokenizer())
    print("| rows | batched steps | ms per step | ms per token | speed-up per token | "
          "first batch of this size (s) | peak MLX memory |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    base = None
    weights_gb = mx.get_active_memory() / 1e9
    for b in [int(x) for x in args.batches.split(",")]:
        # First a short batch of this size: a backend may compile kernels per shape (MLX
        # CUDA's quantized matmul for several rows did, 30-40 s); its time is shown apart.
        t0 = time.perf_counter()
        bd.decode([speech_like(2.0, seed=50 + i) for i in range(b)])
        first = time.perf_counter() - t0
        clips = [speech_like(args.seconds, seed=i) for i in range(b)]
        mx.clear_cache()
        mx.reset_peak_memory()
        steps0 = bd.steps
        t0 = time.perf_counter()
        rows = bd.decode(clips)
        wall = time.perf_counter() - t0
        steps = bd.steps - steps0
        tokens = sum(len(r) for r in rows)
        per_token = 1e3 * wall / tokens
        base = base or per_token
        print(f"| {b} | {steps} | {1e3 * wall / steps:.2f} | {per_token:.2f} | "
              f"{base / per_token:.2f}x | {first:.1f} | {mx.get_peak_memory() / 1e9:.2f} GB "
              f"(weights {weights_gb:.2f}) |", flush=True)  # fmt: skip
        mx.clear_cache()


if __name__ == "__main__":
    main()
