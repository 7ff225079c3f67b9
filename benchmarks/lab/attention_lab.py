"""What the banks' masked attention costs per shape: the first call and the steady one (issue 21).

python benchmarks/lab/attention_lab.py [--layers 32]

On MLX CUDA a masked attention of several queries runs in cuDNN, which builds a graph for
every new shape (rows, queries, slots); hub_lab.py showed such first calls taking seconds in
the middle of a server's streams. For the front bank's encoder attention (``[rows, 32 heads,
4k frames, 814 slots]``, head dim 64) and the decoder bank's (``[rows, 8 kv heads, 4 grouped
queries, slots]``, head dim 128): the first call's time, the steady time of ``--layers`` calls
(a call's layers), fused (``mx.fast.scaled_dot_product_attention`` with an additive mask) and
composed (two matmuls and a softmax, as MLX's own fallback computes it), and the fused
attention with the queries padded to 64 frames (one shape for every k). First, at 64 rows:
attention over every row against over some rows' caches gathered first (a turn has tokens for
some rows only). Random bfloat16 data.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def composed(q, k, v, scale, mask):
    import mlx.core as mx

    scores = (q * scale) @ k.swapaxes(-1, -2) + mask
    return mx.softmax(scores, axis=-1, precise=True) @ v


def fused(q, k, v, scale, mask):
    import mlx.core as mx

    return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mask)


def case(fn, rows, heads, n, slots, dim, layers, pad_to=None, subset=None):
    """(first call ms, steady ms of ``layers`` calls) for one shape; ``subset``: only that
    many rows (every other one) attend, their caches gathered first."""
    import mlx.core as mx

    def make():
        q = mx.random.normal((rows, heads, n, dim)).astype(mx.bfloat16)
        k = mx.random.normal((rows, heads, slots, dim)).astype(mx.bfloat16)
        v = mx.random.normal((rows, heads, slots, dim)).astype(mx.bfloat16)
        seen = mx.random.uniform(shape=(rows, 1, n, slots)) < 0.9
        seen[..., 0] = True
        mask = mx.where(seen, 0.0, -mx.inf).astype(mx.bfloat16)
        mx.eval(q, k, v, mask)
        return q, k, v, mask

    q, k, v, mask = make()

    pick = mx.array(list(range(0, rows, 2))[: subset or 0] or [0])

    def call():
        if subset is not None:
            return fn(q[pick], k[pick], v[pick], dim**-0.5, mask[pick])
        if pad_to is None:
            return fn(q, k, v, dim**-0.5, mask)
        qp = mx.pad(q, [(0, 0), (0, 0), (0, pad_to - n), (0, 0)])
        mp = mx.pad(mask, [(0, 0), (0, 0), (0, pad_to - n), (0, 0)])
        return fn(qp, k, v, dim**-0.5, mp)[:, :, :n]

    t = time.perf_counter()
    mx.eval(call())
    first = 1000 * (time.perf_counter() - t)
    for _ in range(2):
        mx.eval([call() for _ in range(layers)])
    times = []
    for _ in range(7):
        t = time.perf_counter()
        mx.eval([call() for _ in range(layers)])
        times.append(1000 * (time.perf_counter() - t))
    return first, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=32)
    args = ap.parse_args()
    # isort: off
    import voxtral_mlx  # noqa: F401  (first: OpenBLAS before mlx.core on Linux)
    import mlx.core as mx

    # isort: on

    print(f"device {mx.default_device()}, mlx {mx.__version__}, {args.layers} calls a pass")
    shapes = [("encoder", r, 32, n, 814, 64) for r in (16, 64) for n in (4, 8, 64)]
    shapes += [("decoder", r, 8, 4, s, 128) for r in (16, 64) for s in (1024, 2048, 8192)]
    # A turn has a token for some rows only (~27 of 64 at 64 streams on the H200): attention
    # over those rows' caches gathered (a copy of each) against over every row.
    print("| attention | rows | of them with a token | every row, steady ms | those rows "
          "gathered first, steady ms |")  # fmt: skip
    print("|---|---|---|---|---|")
    for name, heads, n, slots, dim in [("encoder", 32, 4, 814, 64), ("decoder", 8, 4, 1024, 128),
                                       ("decoder", 8, 4, 8192, 128)]:  # fmt: skip
        for some in (16, 32):
            every = case(fused, 64, heads, n, slots, dim, args.layers)[1]
            gathered = case(fused, 64, heads, n, slots, dim, args.layers, subset=some)[1]
            print(f"| {name} ({slots} slots) | 64 | {some} | {every:.2f} | {gathered:.2f} |",
                  flush=True)  # fmt: skip
    print()
    print("| attention | rows | queries | slots | fused first / steady ms | composed first / "
          "steady ms | fused, queries padded to 64: first / steady ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, rows, heads, n, slots, dim in shapes:
        f = case(fused, rows, heads, n, slots, dim, args.layers)
        c = case(composed, rows, heads, n, slots, dim, args.layers)
        p = case(fused, rows, heads, n, slots, dim, args.layers, 64) if n < 64 else None
        pad = f"{p[0]:.0f} / {p[1]:.2f}" if p else "-"
        print(f"| {name} | {rows} | {n} | {slots} | {f[0]:.0f} / {f[1]:.2f} | "
              f"{c[0]:.0f} / {c[1]:.2f} | {pad} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
