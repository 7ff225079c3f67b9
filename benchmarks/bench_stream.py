"""File transcription speed: tokens/s and real-time factor, tiny and full-size random weights.

Runs ``transcribe_file`` (the same StreamingSession path the CLI uses) on a synthetic wav and
prints one markdown table. Random weights of the real shape: the numbers are speed and memory
only, never accuracy. A synthetic tokenizer covers the full 131072-id vocabulary.

    python benchmarks/bench_stream.py [--sizes tiny,full] [--seconds 20] [--full-seconds 4]
                                      [--dtype float32|bfloat16]

On Linux, importing voxtral_mlx first loads the system OpenBLAS (see voxtral_mlx/cpu_blas.py).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# isort: off
import voxtral_mlx  # noqa: E402,F401  (before mlx: loads OpenBLAS on Linux)
import mlx.core as mx  # noqa: E402

# isort: on
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from mlx.utils import tree_flatten, tree_map  # noqa: E402

from voxtral_mlx import cpu_blas  # noqa: E402
from voxtral_mlx.config import ModelConfig, realtime_4b_params  # noqa: E402
from voxtral_mlx.model import VoxtralRealtime  # noqa: E402
from voxtral_mlx.tokenizer import AudioSettings, Tokenizer  # noqa: E402
from voxtral_mlx.transcribe import transcribe_file  # noqa: E402

TINY = {
    "dim": 256, "n_layers": 4, "head_dim": 64, "hidden_dim": 768, "n_heads": 4, "n_kv_heads": 2,
    "vocab_size": 131072, "sliding_window": 8192,
    "multimodal": {"whisper_model_args": {"encoder_args": {
        "dim": 256, "n_layers": 4, "head_dim": 64, "hidden_dim": 768, "n_heads": 4, "sliding_window": 750}}},
}  # fmt: skip


def synthetic_tokenizer(vocab_size: int) -> Tokenizer:
    names = [f"<SPECIAL_{i}>" for i in range(1000)]
    for i, name in {1: "<s>", 2: "</s>", 32: "[STREAMING_PAD]", 33: "[STREAMING_WORD]"}.items():
        names[i] = name
    pieces = [b""] * 1000 + [bytes([i]) for i in range(256)]
    pieces += [f" w{i}".encode() for i in range(vocab_size - len(pieces))]
    return Tokenizer(pieces, names, AudioSettings())


def speech_like(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 16000)) / 16000
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3.1 * t)
    x = env * (0.2 * np.sin(2 * np.pi * 180 * t) + 0.1 * np.sin(2 * np.pi * 1200 * t))
    return (x + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def build(params: dict, dtype: mx.Dtype) -> VoxtralRealtime:
    mx.random.seed(0)
    model = VoxtralRealtime(ModelConfig.from_dict(params))
    model.update(tree_map(lambda w: w.astype(dtype), model.parameters()))
    mx.eval(model.parameters())
    return model


def run(name: str, params: dict, seconds: float, dtype: mx.Dtype, folder: Path) -> list[str]:
    model = build(params, dtype)
    n_params = sum(w.size for _, w in tree_flatten(model.parameters()))
    tok = synthetic_tokenizer(model.config.vocab_size)
    wav = folder / f"{name}.wav"
    sf.write(wav, speech_like(seconds), 16000, subtype="PCM_16")
    warm = folder / "warm.wav"
    sf.write(warm, speech_like(1.0), 16000, subtype="PCM_16")
    transcribe_file(warm, model, tok)  # compile/warm caches
    t0 = time.perf_counter()
    result = transcribe_file(wav, model, tok)
    wall = time.perf_counter() - t0
    n = len(result.tokens)
    return [
        name, f"{n_params / 1e6:,.1f} M", str(dtype).removeprefix("mlx.core."), f"{seconds:g} s",
        str(n), f"{wall:.2f} s", f"{n / wall:.1f}", f"{wall / seconds:.3f}", f"{seconds / wall:.2f}x",
        f"{mx.get_peak_memory() / 1e9:.2f} GB",
    ]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="tiny,full")
    ap.add_argument("--seconds", type=float, default=20.0, help="audio length for the tiny model")
    ap.add_argument("--full-seconds", type=float, default=4.0, help="audio length for full size")
    ap.add_argument("--dtype", default=None, help="default: float32 on CPU, bfloat16 on GPU")
    args = ap.parse_args()
    on_gpu = mx.default_device() == mx.gpu
    dtype = getattr(mx, args.dtype) if args.dtype else (mx.bfloat16 if on_gpu else mx.float32)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            params = TINY if size == "tiny" else realtime_4b_params()
            seconds = args.seconds if size == "tiny" else args.full_seconds
            mx.reset_peak_memory()
            rows.append(run(size, params, seconds, dtype, Path(tmp)))
            mx.clear_cache()

    blas = cpu_blas.preload() or "MLX default"
    print(f"device {mx.default_device()}, mlx {mx.__version__}, BLAS: {blas}, "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")  # fmt: skip
    head = [
        "model",
        "params",
        "dtype",
        "audio",
        "tokens",
        "wall",
        "tokens/s",
        "RTF",
        "speed",
        "peak MLX mem",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
