"""Random models, tokenizers and checkpoint folders: the tests' tiny model, the self-tests'
tiny checkpoint (instead of the 8.9 GB download) and the benchmarks' full-size random one.

Module-level imports are stdlib only (the packaged app's launcher imports this before anything
heavy); MLX is imported by the functions that need it and runs on the calling thread.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voxtral_mlx.protocol import DEFAULT_DELAY_MS
from voxtral_mlx.testing.params import realtime_4b_params, tiny_params

if TYPE_CHECKING:
    import mlx.core as mx

    from voxtral_mlx.model import VoxtralRealtime
    from voxtral_mlx.text.tokenizer import Tokenizer

NUM_SPECIAL, WORDS = 1000, 64  # tekken: 1000 specials, 256 single bytes, then WORDS words
SPECIALS = {1: "<s>", 2: "</s>", 32: "[STREAMING_PAD]", 33: "[STREAMING_WORD]"}
RANDOM_NOTE = "a tiny random model, no download: its words are random, not a transcription"


def _pieces(words: int) -> list[bytes]:
    """The ids after the specials: byte fallback, then words " w0", " w1"..."""
    return [bytes([i]) for i in range(256)] + [f" w{i}".encode() for i in range(words)]


def tekken_dict(words: int = WORDS) -> dict:
    """A minimal tekken.json: the realtime specials, byte fallback, then ``words`` words."""
    pieces = _pieces(words)
    return {
        "config": {"default_vocab_size": len(pieces) + NUM_SPECIAL,
                   "default_num_special_tokens": NUM_SPECIAL},
        "special_tokens": [{"rank": r, "token_str": s, "is_control": True} for r, s in SPECIALS.items()],
        "vocab": [{"rank": i, "token_bytes": base64.b64encode(p).decode(), "token_str": None}
                  for i, p in enumerate(pieces)],
        "audio": {"sampling_rate": 16000, "frame_rate": 12.5, "transcription_delay_ms": DEFAULT_DELAY_MS},
    }  # fmt: skip


def tiny_tokenizer(vocab_size: int = NUM_SPECIAL + 256 + WORDS) -> Tokenizer:
    """The :func:`tekken_dict` vocabulary as a Tokenizer of ``vocab_size`` ids, without a file
    (the benchmarks need one covering every id a random full-size model can emit)."""
    from voxtral_mlx.text.tokenizer import AudioSettings, Tokenizer

    names = [SPECIALS.get(i, f"<SPECIAL_{i}>") for i in range(NUM_SPECIAL)]
    pieces = [b""] * NUM_SPECIAL + _pieces(vocab_size - NUM_SPECIAL - 256)
    return Tokenizer(pieces, names, AudioSettings())


def tiny_model(seed: int = 0, **params: Any) -> VoxtralRealtime:
    """A tiny random model (:func:`tiny_params` with ``params`` overrides), fp32 and evaluated."""
    import mlx.core as mx
    from mlx.utils import tree_map

    from voxtral_mlx.config import ModelConfig
    from voxtral_mlx.model import VoxtralRealtime

    mx.random.seed(seed)
    model = VoxtralRealtime(ModelConfig.from_dict(tiny_params(**params)))
    # Larger than the default init, so outputs vary with the input and the decoder emits words
    # rather than only padding.
    model.update(tree_map(lambda w: w * 3.0, model.parameters()))
    mx.eval(model.parameters())
    return model


def write_tiny_checkpoint(folder: Path, seed: int = 0) -> Path:
    """A random tiny model folder (:func:`tiny_model` with a :func:`tekken_dict` tokenizer) that
    ``weights.load`` and ``Tokenizer.from_file`` read. No array outlives the call."""
    from voxtral_mlx.checkpoint import weights

    weights.save(tiny_model(seed, vocab_size=NUM_SPECIAL + 256 + WORDS), folder)
    (Path(folder) / "tekken.json").write_text(json.dumps(tekken_dict()), encoding="utf-8")
    return Path(folder)


def random_weight(name: str, shape: tuple[int, ...]) -> mx.array:
    """Random values of a plausible scale: norms near 1, matrices ~ N(0, 1/fan_in)."""
    import mlx.core as mx

    if len(shape) == 1:
        scale = 0.02 * mx.random.normal(shape)
        return 1.0 + scale if "norm" in name else scale
    fan_in = shape[-1] * (shape[1] if len(shape) == 3 else 1)
    return mx.random.normal(shape) * fan_in**-0.5


def write_random_checkpoint(folder: Path, params: dict | None = None) -> Path:
    """A native-layout bf16 checkpoint (params.json + consolidated.safetensors) of random weights
    (:func:`random_weight`), the real 4B shape unless ``params``; one tensor in memory at a time.
    Measures speed and memory only, never accuracy. Returns the safetensors file."""
    import mlx.core as mx

    from voxtral_mlx.checkpoint.layouts import native_tensors
    from voxtral_mlx.checkpoint.safetensors_io import write_streaming
    from voxtral_mlx.config import ModelConfig
    from voxtral_mlx.model import VoxtralRealtime

    params = params or realtime_4b_params()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mx.random.seed(0)
    # Built lazily and never evaluated: only its parameter names and shapes are used.
    model = VoxtralRealtime(ModelConfig.from_dict(params))
    tensors = native_tensors(model, mx.bfloat16, init=random_weight)
    write_streaming(folder / "consolidated.safetensors", tensors)
    (folder / "params.json").write_text(json.dumps(params, indent=2))
    return folder / "consolidated.safetensors"
