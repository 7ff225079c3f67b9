"""Internal consistency of the MLX model: incremental == full, streamed == batch, windows enforced.

Parity with the PyTorch reference is in tests/reference/test_model_parity.py.
"""

import random

import mlx.core as mx
import numpy as np
import pytest

from voxtral_mlx.model.blocks import attention_mask
from voxtral_mlx.testing import tiny_params

PROMPT = [1] + [32] * 38


def _rel(a: mx.array, b: mx.array) -> float:
    """Max abs difference relative to the reference's magnitude (BLAS summation order varies)."""
    return float(mx.abs(a - b).max() / mx.maximum(mx.abs(b).max(), 1.0))


def _mel(n_tokens: int, seed: int = 0) -> mx.array:
    rng = np.random.default_rng(seed)
    return mx.array(rng.standard_normal((1, 8 * n_tokens, 128)).astype(np.float32))


def test_incremental_decoding_matches_full_forward(tiny_model):
    # 80 positions cross the 24-token decoder window many times.
    mel = _mel(80)
    ids = mx.array([PROMPT + list(range(1000, 1041))])
    full = tiny_model(ids, mel, 6)

    dec = tiny_model.decoder
    audio = tiny_model.encode(mel)
    gains = dec.ffn_gains(6)
    cache = dec.make_cache()
    x = dec.embed(ids) + audio
    rows = [dec(x[:, :39], gains, cache)]
    rows += [dec(x[:, p : p + 1], gains, cache) for p in range(39, 80)]
    inc = mx.concatenate(rows, axis=1)
    assert _rel(inc, full) < 1e-5


def test_greedy_matches_teacher_forced_argmax(tiny_model):
    mel = _mel(70, seed=1)
    out = tiny_model.greedy(mel, PROMPT, 6)
    assert len(out) == 70 - 39
    logits = tiny_model(mx.array([PROMPT + out]), mel, 6)
    assert np.argmax(np.array(logits[0, 38:69]), -1).tolist() == out
    assert len(set(out)) > 1  # a constant output would make this test vacuous


@pytest.mark.parametrize("chunks", ["ones", "twos", "random", "odd"])
def test_streaming_conv_stem_equals_batch(tiny_model, chunks):
    mel = _mel(12, seed=2)
    enc = tiny_model.encoder
    state = enc.new_conv_state()
    rng = random.Random(0)
    sizes = {
        "ones": lambda: 1,
        "twos": lambda: 2,
        "random": lambda: rng.randint(0, 17),
        "odd": lambda: 3,
    }[chunks]
    outs, i = [], 0
    while i < mel.shape[1]:
        n = sizes()
        outs.append(enc.conv_stem_step(mel[:, i : i + n], state))
        i += n
    streamed = mx.concatenate(outs, axis=1)
    batch = enc.conv_stem(mel)
    assert streamed.shape == batch.shape
    assert float(mx.abs(streamed - batch).max()) < 1e-5


def test_streaming_encoder_with_cache_equals_batch(tiny_model):
    """Four conv frames (80 ms) at a time through the rotating cache == the one-shot encoder."""
    mel = _mel(40, seed=3)  # 160 encoder frames, window 40
    enc = tiny_model.encoder
    batch = enc(mel)
    x = enc.conv_stem(mel)
    cache = enc.make_cache()
    streamed = mx.concatenate(
        [enc.transformer(x[:, s : s + 4], cache) for s in range(0, x.shape[1], 4)], axis=1
    )
    # float32 rounding only: BLAS sums 4-row and 160-row products in different orders, and
    # how depends on the CPU (1.3e-5 with OpenBLAS's Haswell kernels on an AMD EPYC).
    assert _rel(streamed, batch) < 5e-5
    # Irregular bulk chunks (file mode) through a fresh cache give the same frames too.
    cache = enc.make_cache()
    cuts = [0, 3, 50, 51, 120, 160]
    bulk = mx.concatenate(
        [enc.transformer(x[:, a:b], cache) for a, b in zip(cuts, cuts[1:], strict=False)], axis=1
    )
    assert _rel(bulk, batch) < 5e-5


def test_encoder_window_is_enforced(tiny_model):
    """Past the window, output must differ from full-causal attention and equal an explicit mask."""
    mel = _mel(30, seed=4)  # 120 encoder frames > window 40
    enc = tiny_model.encoder
    windowed = enc(mel)
    x = enc.conv_stem(mel)
    n = x.shape[1]
    q, k = np.arange(n)[:, None], np.arange(n)[None]
    explicit = mx.array((k <= q) & (k > q - 40))
    h = x
    for layer in enc.layers:
        h = layer(h, explicit)
    assert float(mx.abs(enc.norm(h) - windowed).max()) < 1e-4
    h = x
    for layer in enc.layers:
        h = layer(h, "causal")
    full = enc.norm(h)
    assert float(mx.abs(full[:, :40] - windowed[:, :40]).max()) < 1e-4  # inside the window: equal
    assert float(mx.abs(full[:, 40:] - windowed[:, 40:]).max()) > 1e-3  # beyond it: not


def test_mask_helper_semantics():
    m = np.array(attention_mask(6, None, 3))
    expected = np.array([[k <= q and k > q - 3 for k in range(6)] for q in range(6)])
    assert (m == expected).all()
    assert attention_mask(6, None, None) == "causal"
    assert attention_mask(1, None, None) is None


def test_bfloat16_forward_runs_and_stays_close():
    """bf16 weights and activations: the encoder stays within a few percent of fp32.

    (Logits of this deliberately chaotic random decoder drift more; bf16 drift against the
    reference at realistic init is reported by tests/reference/test_model_parity.py.)
    """
    from mlx.utils import tree_map

    from voxtral_mlx.config import ModelConfig
    from voxtral_mlx.model import VoxtralRealtime

    mx.random.seed(1)
    tiny_model = VoxtralRealtime(ModelConfig.from_dict(tiny_params()))  # default (small) init
    mel = _mel(45, seed=5)
    ref = tiny_model.encode(mel)
    tiny_model.update(tree_map(lambda w: w.astype(mx.bfloat16), tiny_model.parameters()))
    out = tiny_model.encode(mel.astype(mx.bfloat16))
    assert out.dtype == mx.bfloat16
    rel = float(mx.abs(out.astype(mx.float32) - ref).max() / mx.abs(ref).max())
    assert rel < 0.05
    ids = mx.array([PROMPT + [1000] * 6])
    assert bool(mx.isfinite(tiny_model(ids, mel.astype(mx.bfloat16), 6)).all())


def test_tiny_params_used():
    assert tiny_params(dim=128)["dim"] == 128


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("window", [24, 30, 8192])
def test_stepper_matches_cached_decoder(window, fused):
    """FastStepper (ring buffers, few kernels per token) == mlx-lm caches, step by step, for a
    window smaller than the prompt (24), one the stream wraps (30), and an unbounded one;
    with the model's own layers and with q/k/v and gate/up fused."""
    from mlx.utils import tree_map

    from voxtral_mlx.config import ModelConfig
    from voxtral_mlx.model import VoxtralRealtime
    from voxtral_mlx.model.fast_step import FastStepper
    from voxtral_mlx.model.fused import fuse_model

    mx.random.seed(0)
    model = VoxtralRealtime(ModelConfig.from_dict(tiny_params(sliding_window=window)))
    model.update(tree_map(lambda w: w * 3.0, model.parameters()))
    dec = model.decoder
    gains = dec.ffn_gains(6)
    x = mx.random.normal((1, 100, 64))
    ref_cache, cache = dec.make_cache(), dec.make_cache()
    dec(x[:, :39], gains, ref_cache)
    ref = [
        int(mx.argmax(dec(x[:, p : p + 1], gains, ref_cache)[:, -1], axis=-1).item())
        for p in range(39, 100)
    ]
    if fused:
        fuse_model(model)
        assert "wqkv" in dec.layers[0].attention and "w13" in dec.layers[0].feed_forward
    dec(x[:, :39], gains, cache)
    stepper = FastStepper(dec, gains)
    stepper.start(cache, 39)
    fast = [int(stepper.step(x[:, p : p + 1]).item()) for p in range(39, 100)]
    assert fast == ref and len(set(ref)) > 3
