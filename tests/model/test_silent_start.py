"""The silent start (decode/silent_start.py): a live pipeline's first tokens, computed once per
model and copied, give every stream exactly what computing them itself gives."""

import mlx.core as mx
import numpy as np

from voxtral_mlx.decode import silent_start
from voxtral_mlx.decode.audio_pipeline import LIVE_BLOCK, AudioPipeline


def _audio(seed: int, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32)


def _run(pipe: AudioPipeline, audio: np.ndarray) -> AudioPipeline:
    for s in range(0, len(audio), 640):
        pipe.push(audio[s : s + 640])
    pipe.finish()
    return pipe


def _computed(model, right: int = 17) -> AudioPipeline:
    """A pipeline that computes its own start (no snapshot known)."""
    saved = dict(silent_start._starts)
    silent_start._starts.clear()
    try:
        return AudioPipeline(model, 32, right, LIVE_BLOCK)
    finally:
        silent_start._starts.clear()
        silent_start._starts.update(saved)


def test_copied_starts_equal_computed_ones_and_stay_apart(tiny_model, monkeypatch):
    first = AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK)  # computes it, or copies it
    calls = []
    inner = tiny_model.encoder.transformer
    monkeypatch.setattr(tiny_model.encoder, "transformer", lambda *a, **k: (calls.append(1),
                        inner(*a, **k))[1])  # fmt: skip
    copied = [AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK) for _ in range(2)]
    assert calls == [] and copied[0].available == first.available > 0  # no encoder call
    own = _computed(tiny_model)
    assert calls  # computing it does call the encoder
    assert own.available == copied[0].available
    # Two copies fed different audio (their rings written in place) and a pipeline that
    # computed its own start: each equals the same audio through a computed start, exactly.
    a, b = _audio(1, 3.0), _audio(2, 2.2)
    _run(copied[0], a)
    _run(copied[1], b)
    fresh = _run(AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK), a)
    for pipe, audio in ((copied[0], a), (copied[1], b), (fresh, a)):
        ref = _run(_computed(tiny_model), audio)
        assert pipe.available == ref.available
        n = pipe.available
        assert mx.array_equal(pipe.embeddings(0, n), ref.embeddings(0, n)).item()


def test_a_copied_start_keeps_its_own_right_padding(tiny_model):
    AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK)
    longer = _run(AudioPipeline(tiny_model, 32, 25, LIVE_BLOCK), _audio(3, 1.0))
    ref = _run(_computed(tiny_model, 25), _audio(3, 1.0))
    assert longer.available == ref.available
    assert longer.available == _run(AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK),
                                    _audio(3, 1.0)).available + 8  # fmt: skip


def test_file_pipelines_compute_their_start_with_their_audio(tiny_model):
    assert AudioPipeline(tiny_model, 32, 17).available == 0
