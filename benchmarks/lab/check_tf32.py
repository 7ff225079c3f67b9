"""Does ``--dtype float32`` compute in float32 on this GPU? TF32 on against off, one process each.

python benchmarks/lab/check_tf32.py

Runs a float32 matmul of the decoder's width in child processes: MLX's default, with
``voxtral_mlx.env.full_float32()`` called before MLX is imported (what the CLI does), and
with the variable set only after MLX has run a matmul. Prints the largest error against a
float64 product. TF32 keeps 10 mantissa bits (~1e-3 relative); float32 ~1e-6.
"""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import os, sys
sys.path.insert(0, {root!r})
when = {when!r}
if when == "before":
    from voxtral_mlx.env import full_float32
    full_float32()
import mlx.core as mx
import numpy as np
rng = np.random.default_rng(0)
a, b = rng.standard_normal((64, 3072)), rng.standard_normal((3072, 3072))
exact = a @ b
if when == "after":
    mx.eval(mx.array(a, mx.float32) @ mx.array(b, mx.float32))
    os.environ["MLX_ENABLE_TF32"] = "0"
got = np.array(mx.array(a, mx.float32) @ mx.array(b, mx.float32), np.float64)
print(f"{{np.abs(got - exact).max() / np.abs(exact).max():.2e}}", mx.default_device())
"""


def main() -> None:
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    print("| MLX_ENABLE_TF32 | max relative error vs float64 | device |")
    print("|---|---|---|")
    for when, label in (("never", "unset (MLX default)"), ("before", "0, set before MLX starts (the CLI)"),
                        ("after", "0, set after MLX ran a matmul")):  # fmt: skip
        out = subprocess.run([sys.executable, "-c", CHILD.format(root=root, when=when)],
                             capture_output=True, text=True)  # fmt: skip
        err, _, device = (out.stdout.strip() or out.stderr.strip()[-200:]).partition(" ")
        print(f"| {label} | {err} | {device} |", flush=True)


if __name__ == "__main__":
    main()
