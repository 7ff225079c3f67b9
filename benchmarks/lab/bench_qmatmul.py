"""One quantized linear of the decoder's shape, by number of input rows and by method.

python benchmarks/lab/bench_qmatmul.py [--bits 4] [--rows 1,2,4,8,16,64,256] [--shape 3072x18432]

Why: a batched decoder step multiplies a few rows (one per piece of a file) by each packed
weight. MLX's CUDA backend sends one row to a vector kernel and several rows to a tiled
matrix kernel (CUTLASS, compiled on first use, 30-40 s per row tile); how the rows are laid
out decides how well that kernel does (model/packed.py). This times, after a warm-up:

- ``[rows, K]`` and ``[rows, 1, K]``: MLX's own choice of kernel for the rows as one matrix,
  and as a batch of one-row matrices (the batched decoder's layout);
- ``per row``: one vector-kernel call per row (reads the weights once per row);
- ``dequantize + matmul``: the weight expanded to the activation dtype, then a dense matmul.

Prints ms per call (median of ``--repeat``) and the first call's time (kernel compiles).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# isort: off
import voxtral_mlx  # noqa: E402,F401  (first: on Linux it loads OpenBLAS before mlx.core)
import mlx.core as mx  # noqa: E402

# isort: on
import numpy as np  # noqa: E402


def methods(w, s, b, bits, group):
    def qmm(x):
        return mx.quantized_matmul(x, w, s, b, transpose=True, group_size=group, bits=bits)

    def batched(x):  # the batched decoder's layout: B rows of one token each
        return qmm(x[:, None, :])

    def per_row(x):
        return mx.concatenate([qmm(x[i : i + 1]) for i in range(x.shape[0])])

    def dequant(x):
        return x @ mx.dequantize(w, s, b, group_size=group, bits=bits).T

    return {"[rows, K]": qmm, "[rows, 1, K]": batched, "per row": per_row,
            "dequantize + matmul": dequant}  # fmt: skip


def time_call(f, x, repeat: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    mx.eval(f(x))
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        mx.eval(f(x))
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times)), first


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--group-size", type=int, default=64)
    ap.add_argument("--rows", default="1,2,4,8,16,64,256")
    ap.add_argument("--shape", default="3072x18432", help="in x out (the decoder's fused w1/w3)")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    k, n = (int(v) for v in args.shape.split("x"))
    dtype = mx.bfloat16 if mx.default_device() == mx.gpu else mx.float32
    w, s, b = mx.quantize(
        mx.random.normal((n, k)).astype(dtype) * k**-0.5, group_size=args.group_size, bits=args.bits
    )
    mx.eval(w, s, b)
    fns = methods(w, s, b, args.bits, args.group_size)
    print(f"device {mx.default_device()}, mlx {mx.__version__}, {args.bits}-bit group "
          f"{args.group_size}, {k} -> {n}, {dtype}")  # fmt: skip
    print("| rows | " + " | ".join(f"{m} ms (first call s)" for m in fns) + " |")
    print("|---" * (len(fns) + 1) + "|")
    for rows in (int(r) for r in args.rows.split(",")):
        x = mx.random.normal((rows, k)).astype(dtype)
        cells = []
        for f in fns.values():
            ms, first = time_call(f, x, args.repeat)
            cells.append(f"{ms:.3f} ({first:.1f})")
        print(f"| {rows} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
