"""Does a row's result depend on how many rows share the call? Op by op, on this device.

python benchmarks/lab/check_row_invariance.py

A batch of files is exactly each file alone only if every op of a decoder step gives a row
the same bits whatever the other rows are. For each op of the step (4-bit and 8-bit packed
linear, bfloat16 and float32 dense linear, attention over a cache), row 0's output with B
rows, in both layouts (``[1, B, K]`` one matrix, ``[B, 1, K]`` batch), is compared with B = 1
and B = 2. Prints the largest absolute difference (0 = bit-identical).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# isort: off
import voxtral_mlx  # noqa: E402,F401  (first: on Linux it loads OpenBLAS before mlx.core)
import mlx.core as mx  # noqa: E402

# isort: on

K, N = 3072, 9216  # the decoder's width and its fused q/k/v output
ROWS = (1, 2, 4, 8, 16, 64)


def linear_ops():
    mx.random.seed(0)
    w = mx.random.normal((N, K)) * 0.02
    ops = {}
    for bits in (4, 8):
        q, s, b = mx.quantize(w.astype(mx.bfloat16), group_size=64, bits=bits)
        ops[f"{bits}-bit packed linear"] = (
            lambda x, q=q, s=s, b=b, bits=bits: mx.quantized_matmul(
                x, q, s, b, transpose=True, group_size=64, bits=bits
            ),
            mx.bfloat16,
        )
    for dt in (mx.bfloat16, mx.float32):
        wt = w.astype(dt)
        ops[f"{dt} dense linear".replace("mlx.core.", "")] = (lambda x, wt=wt: x @ wt.T, dt)
    return ops


def row0(op, dtype, b: int, layout: str) -> mx.array:
    mx.random.seed(1)
    x = mx.random.normal((max(ROWS), K)).astype(dtype)[:b]  # row 0 is the same for every b
    x = x.reshape(1, b, K) if layout == "one matrix" else x.reshape(b, 1, K)
    y = op(x)
    return y[0, 0].astype(mx.float32)


def attention_row0(b: int, dtype) -> mx.array:
    mx.random.seed(2)
    n = max(ROWS)
    q = mx.random.normal((n, 32, 1, 128)).astype(dtype)[:b]
    k = mx.random.normal((n, 8, 700, 128)).astype(dtype)[:b]
    v = mx.random.normal((n, 8, 700, 128)).astype(dtype)[:b]
    return mx.fast.scaled_dot_product_attention(q, k, v, scale=128**-0.5)[0].astype(mx.float32)


def main() -> None:
    print(f"device {mx.default_device()}, mlx {mx.__version__}")
    print("| op | layout | " + " | ".join(f"{b} rows vs 1 / vs 2" for b in ROWS[1:]) + " |")
    print("|---|---|" + "---|" * (len(ROWS) - 1))
    for name, (op, dtype) in linear_ops().items():
        for layout in ("one matrix", "batch"):
            ref1, ref2 = row0(op, dtype, 1, layout), row0(op, dtype, 2, layout)
            cells = []
            for b in ROWS[1:]:
                r = row0(op, dtype, b, layout)
                d1 = mx.abs(r - ref1).max().item()
                d2 = mx.abs(r - ref2).max().item()
                cells.append(f"{d1:.1e} / {d2:.1e}")
            print(f"| {name} | {layout} | " + " | ".join(cells) + " |", flush=True)
    for dtype in (mx.bfloat16, mx.float32):
        ref1, ref2 = attention_row0(1, dtype), attention_row0(2, dtype)
        cells = [
            f"{mx.abs(attention_row0(b, dtype) - ref1).max().item():.1e} / "
            f"{mx.abs(attention_row0(b, dtype) - ref2).max().item():.1e}"
            for b in ROWS[1:]
        ]
        print(f"| attention, 700 keys, {dtype} | batch | ".replace("mlx.core.", "")
              + " | ".join(cells) + " |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
