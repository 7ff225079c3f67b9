"""What ``--dtype float32`` promises: float32 arithmetic on every device. No MLX import here.

MLX runs float32 matmuls as TF32 (10-bit mantissa) on CUDA and on M5-class Apple GPUs unless
``MLX_ENABLE_TF32=0``. At full size on an H200 that moved teacher-forced logits by up to 2.9
against transformers in float32 and changed the greedy token at 69 of 241 positions (1.6e-2 and
1 near-tie with TF32 off). MLX reads the variable when it first needs it, so this is set
before the model loads.
"""

from __future__ import annotations

import os

TF32_VARIABLE = "MLX_ENABLE_TF32"


def full_float32() -> None:
    """Make MLX keep float32 matmuls in float32 (the user's own setting of the variable wins)."""
    os.environ.setdefault(TF32_VARIABLE, "0")
