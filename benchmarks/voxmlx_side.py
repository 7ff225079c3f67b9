"""voxmlx 0.0.2 (the existing MLX port) timed on the same weights, for a side-by-side row.

Facts only: we import its modules and call its own model, loader, quantizer and cache; no code
of it is copied here. Its package ``__init__`` imports mistral-common (tokenizer) and its audio
module imports soundfile; where those are not installed (the GPU machine) harmless stand-ins
are registered, since neither is used on the timed paths.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import types

import mlx.core as mx


def _missing(name: str) -> bool:
    return name not in sys.modules and importlib.util.find_spec(name) is None


def _stub_missing() -> None:
    if _missing("mistral_common"):
        for name in (
            "mistral_common",
            "mistral_common.tokens",
            "mistral_common.tokens.tokenizers",
            "mistral_common.tokens.tokenizers.base",
            "mistral_common.tokens.tokenizers.tekken",
        ):
            sys.modules[name] = types.ModuleType(name)  # fmt: skip
        sys.modules["mistral_common.tokens.tokenizers.base"].SpecialTokenPolicy = object
        sys.modules["mistral_common.tokens.tokenizers.tekken"].Tekkenizer = object
    for name in ("soundfile", "sounddevice"):
        if _missing(name):
            sys.modules[name] = types.ModuleType(name)


def available() -> bool:
    return importlib.util.find_spec("voxmlx") is not None


def load(folder, bits: int | None):
    """voxmlx's own loader on a native folder; then its own quantizer (group 64) if ``bits``."""
    _stub_missing()
    from voxmlx import convert, weights

    model, config = weights.load_model(folder)
    if bits:
        convert._quantize_model(model, group_size=64, bits=bits)
        mx.eval(model.parameters())
    return model


def decoder_step_ms(model, n_prefix: int = 39, n_steps: int = 200, context: int = 800) -> float:
    """Mean decoder step (ms) in voxmlx's own double-buffered greedy loop shape, cache ~context."""
    from voxmlx.cache import RotatingKVCache

    lm = model.language_model
    t_cond = model.time_embedding(mx.array([6], dtype=mx.float32))
    cache = [RotatingKVCache(8192) for _ in lm.layers]
    audio = mx.random.normal((context + n_steps + 1, lm.norm.weight.shape[0])).astype(
        lm.norm.weight.dtype
    )
    ids = mx.zeros((1, context), mx.int32)
    logits = model.decode((lm.embed(ids)[0] + audio[:context])[None], t_cond, "causal", cache)
    mx.eval(logits)

    def step(tok, pos):
        emb = lm.embed(tok.reshape(1, 1))[0, 0]
        return mx.argmax(
            model.decode((audio[pos] + emb)[None, None], t_cond, None, cache)[0, -1:], axis=-1
        ).squeeze()

    y = mx.argmax(logits[0, -1:], axis=-1).squeeze()
    mx.async_eval(y)
    times = []
    for pos in range(context, context + n_steps):
        t0 = time.perf_counter()
        nxt = step(y, pos)
        mx.async_eval(nxt)
        y.item()
        y = nxt
        times.append(time.perf_counter() - t0)
    skip = min(20, n_steps // 4)
    return 1e3 * sum(times[skip:]) / len(times[skip:])


def encoder_ms(model, mel_t128) -> float:
    """voxmlx's offline encode (mel [128, T]) of the given mel, ms (after one warm-up)."""
    mel = mx.array(mel_t128.T)
    mx.eval(model.encode(mel[:, :800]))
    t0 = time.perf_counter()
    mx.eval(model.encode(mel))
    return 1e3 * (time.perf_counter() - t0)
