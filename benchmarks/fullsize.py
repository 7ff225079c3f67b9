"""Helpers shared by the benchmarks: timed full-size random checkpoints, synthetic audio and
tokenizer, resident memory. The random checkpoint and tokenizer are :mod:`voxtral_mlx.testing`'s.

Random weights of the real shape measure speed and memory only, never accuracy.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import voxtral_mlx  # noqa: E402,F401  (before mlx: loads OpenBLAS on Linux)
from voxtral_mlx.testing import tiny_tokenizer, write_random_checkpoint  # noqa: E402
from voxtral_mlx.text.tokenizer import Tokenizer  # noqa: E402


def write_checkpoint(folder: Path, params: dict | None = None) -> tuple[float, int]:
    """A native-layout bf16 random checkpoint (the real 4B shape unless ``params``), written with
    bounded memory: (seconds it took, bytes of its safetensors file)."""
    t0 = time.perf_counter()
    path = write_random_checkpoint(folder, params)
    return time.perf_counter() - t0, path.stat().st_size


def random_model(size: str = "full"):
    """A model of ``size`` ("full": the real 4B shape, "small": bench_stream's TINY) with random
    bfloat16 weights built in memory, fused as loading fuses them: no checkpoint on disk, for
    labs that time speed only."""
    import mlx.core as mx
    from mlx.utils import tree_map

    from voxtral_mlx.config import ModelConfig
    from voxtral_mlx.model import VoxtralRealtime
    from voxtral_mlx.model.fused import fuse_model
    from voxtral_mlx.testing.params import realtime_4b_params

    if size == "full":
        params = realtime_4b_params()
    else:
        from bench_stream import TINY

        params = TINY
    model = VoxtralRealtime(ModelConfig.from_dict(params))
    model.update(tree_map(lambda w: w.astype(mx.bfloat16), model.parameters()))
    # Projections stacked as a loaded model's are (checkpoint/weights.py): the same ops a step.
    fuse_model(model)
    mx.eval(model.parameters())
    return model


def synthetic_tokenizer(vocab_size: int = 131072) -> Tokenizer:
    """Covers every id a random model can emit (real tekken.json is not available offline)."""
    return tiny_tokenizer(vocab_size)


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3.1 * t)
    x = env * (0.2 * np.sin(2 * np.pi * 180 * t) + 0.1 * np.sin(2 * np.pi * 1200 * t))
    return (x + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def rss_gb() -> tuple[float, float]:
    """(current RSS, peak RSS since the last reset_rss_peak) in GB, from /proc."""
    fields = dict(
        line.split(":", 1)
        for line in Path("/proc/self/status").read_text().splitlines()
        if ":" in line
    )
    kb = lambda k: int(fields[k].split()[0])  # noqa: E731
    return kb("VmRSS") / 1e6, kb("VmHWM") / 1e6


def reset_rss_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
