"""Helpers shared by the benchmarks: full-size random checkpoints, synthetic audio and tokenizer.

Random weights of the real shape measure speed and memory only, never accuracy.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# isort: off
import voxtral_mlx  # noqa: E402,F401  (before mlx: loads OpenBLAS on Linux)
import mlx.core as mx  # noqa: E402

# isort: on
import numpy as np  # noqa: E402

from voxtral_mlx.checkpoint import weights  # noqa: E402
from voxtral_mlx.checkpoint.safetensors_io import write_streaming  # noqa: E402
from voxtral_mlx.config import ModelConfig, realtime_4b_params  # noqa: E402
from voxtral_mlx.model import VoxtralRealtime  # noqa: E402
from voxtral_mlx.text.tokenizer import AudioSettings, Tokenizer  # noqa: E402


def random_weight(name: str, shape: tuple[int, ...]) -> mx.array:
    """Random values of a plausible scale: norms near 1, matrices ~ N(0, 1/fan_in)."""
    if len(shape) == 1:
        scale = 0.02 * mx.random.normal(shape)
        return 1.0 + scale if "norm" in name else scale
    fan_in = shape[-1] * (shape[1] if len(shape) == 3 else 1)
    return mx.random.normal(shape) * fan_in**-0.5


def write_checkpoint(folder: Path, params: dict | None = None) -> tuple[float, int]:
    """A native-layout bf16 checkpoint (params.json + consolidated.safetensors), bounded memory."""
    params = params or realtime_4b_params()
    folder.mkdir(parents=True, exist_ok=True)
    mx.random.seed(0)
    # Built lazily and never evaluated: only its parameter names and shapes are used.
    model = VoxtralRealtime(ModelConfig.from_dict(params))
    t0 = time.perf_counter()
    tensors = weights.native_tensors(model, mx.bfloat16, init=random_weight)
    write_streaming(folder / "consolidated.safetensors", tensors)
    (folder / "params.json").write_text(json.dumps(params, indent=2))
    return time.perf_counter() - t0, (folder / "consolidated.safetensors").stat().st_size


def synthetic_tokenizer(vocab_size: int = 131072) -> Tokenizer:
    """Covers every id a random model can emit (real tekken.json is not available offline)."""
    names = [f"<SPECIAL_{i}>" for i in range(1000)]
    for i, name in {1: "<s>", 2: "</s>", 32: "[STREAMING_PAD]", 33: "[STREAMING_WORD]"}.items():
        names[i] = name
    pieces = [b""] * 1000 + [bytes([i]) for i in range(256)]
    pieces += [f" w{i}".encode() for i in range(vocab_size - len(pieces))]
    return Tokenizer(pieces, names, AudioSettings())


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
