"""Does a warmed server still compile? bench_serve with every ``mx.compile``d function watched:
each run's calls with input shapes not seen before, listed with their time from the clients'
first chunk (issue 21).

python benchmarks/lab/new_shapes_lab.py BENCH_SERVE_ARGUMENTS...
    (e.g. --size tiny --batch-rows 64 --cold --seconds 10 --streams 64,64,64 --stagger 2)

A compiled function is traced again for each new shape of its inputs, and its fused kernels
are built anew. The decoder bank's compiled inputs met a new number of rows stepping as
streams' phases changed (on the CPU 51 new shapes in a first run of 64 staggered streams);
since they are computed for every bank row, after the server's warm-up
(``RowBatch.plan_rows``) a run lists none (the H200's 3-4 s stall of docs/benchmarks.md stayed:
it was not this).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# isort: off
import voxtral_mlx  # noqa: F401  (first: on Linux it loads OpenBLAS before mlx.core)
import mlx.core as mx

import bench_serve

# isort: on


class Watch:
    """Wraps ``mx.compile``: each compiled function's calls with a new signature (the shapes
    and dtypes of its array inputs) are recorded with their time."""

    def __init__(self):
        self.seen: set = set()
        self.new: list[tuple[float, str, tuple]] = []
        self.t0 = time.perf_counter()
        self.compile = mx.compile

    def __call__(self, fn, *args, **kwargs):
        compiled = self.compile(fn, *args, **kwargs)
        name = getattr(fn, "__qualname__", repr(fn))

        def call(*inputs):
            sig = (name, tuple((tuple(x.shape), str(x.dtype)) for x in inputs
                               if isinstance(x, mx.array)))  # fmt: skip
            if sig not in self.seen:
                self.seen.add(sig)
                self.new.append((time.perf_counter() - self.t0, name, sig[1]))
            return compiled(*inputs)

        return call


def main() -> None:
    watch = Watch()
    mx.compile = watch
    run_clients = bench_serve.run_clients

    def watched(n, args):
        watch.t0, watch.new = time.perf_counter(), []
        got = run_clients(n, args)
        print(f"new input shapes of compiled functions in this run: {len(watch.new)}", flush=True)
        for at, name, sig in watch.new[:30]:
            print(f"    {at - bench_serve.CLIENT_START_S:6.2f} s {name} {sig}", flush=True)
        return got

    bench_serve.run_clients = watched
    bench_serve.main()


if __name__ == "__main__":
    main()
