"""The encoder's fixed-shape ring cache (live blocks) computes what the rotating cache does."""

import mlx.core as mx
import numpy as np
import pytest

from voxtral_mlx.decode.audio_pipeline import LIVE_BLOCK, AudioPipeline
from voxtral_mlx.model.encoder_ring import RingCache

from .test_model import _mel, _rel


@pytest.mark.parametrize(("block", "cuts"), [
    (4, None),  # the microphone's 80 ms blocks
    (16, [0, 4, 20, 28, 32, 48, 52, 68, 84, 100, 104, 120, 136, 152, 160]),  # a server's turns
])  # fmt: skip
def test_ring_streaming_equals_batch(tiny_model, block, cuts):
    """Blocks of whole tokens through the ring, across the window many times (160 frames,
    window 40), give the one-shot encoder's frames within the bound of any two chunkings
    (tests/model/test_model.py), and attention always gets the same number of keys."""
    mel = _mel(40, seed=5)
    enc = tiny_model.encoder
    batch = enc(mel)
    x = enc.conv_stem(mel)
    cuts = cuts or list(range(0, x.shape[1] + 1, block))
    cache = enc.make_cache(block)
    assert all(isinstance(c, RingCache) for c in cache)
    shapes, out = set(), []
    for a, b in zip(cuts, cuts[1:], strict=False):
        out.append(enc.transformer(x[:, a:b], cache))
        shapes.add(cache[0].keys.shape)
    assert len(shapes) == 1 and next(iter(shapes))[2] == enc.args.sliding_window + block - 1
    assert _rel(mx.concatenate(out, axis=1), batch) < 5e-5


def test_ring_mask_is_the_sliding_window():
    """Query q sees exactly positions q - window < k <= q, wherever they lie in the ring."""
    window, block = 6, 4
    ring = RingCache(window, block)
    k = mx.zeros((1, 1, block, 2))
    for _ in range(7):  # 28 positions: the ring (9 slots) wraps three times
        for n in (4, 2, 1):
            mask = np.array(ring.make_mask(n))
            last = ring.offset + n - 1
            held = [last - (last - s) % ring.slots for s in range(ring.slots)]
            for j in range(n):
                q = ring.offset + j
                seen = sorted(p for p, m in zip(held, mask[j], strict=True) if m)
                assert seen == list(range(max(0, q - window + 1), q + 1))
            ring.update_and_fetch(k[:, :, :n], k[:, :, :n])


def test_ring_refuses_a_block_larger_than_it_holds():
    with pytest.raises(ValueError, match="larger than the ring"):
        RingCache(8, 4).make_mask(8)


def test_live_pipeline_uses_the_ring_and_files_do_not(tiny_model):
    """Live-sized blocks get the ring; file blocks keep the rotating cache (bulk attention
    over hundreds of queries, whose few shapes cuDNN caches anyway)."""
    live = AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK)
    assert isinstance(live.enc_cache[0], RingCache)
    assert live.enc_cache[0].block == LIVE_BLOCK
    assert not isinstance(AudioPipeline(tiny_model, 32, 17).enc_cache[0], RingCache)


def test_live_and_file_pipelines_give_the_same_embeddings(tiny_model):
    """The same audio pushed in 40 ms pieces (live, ring) and at once (file) gives the same
    embeddings within the chunking bound."""
    rng = np.random.default_rng(1)
    audio = (0.1 * rng.standard_normal(16000 * 6)).astype(np.float32)
    live = AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK)
    for s in range(0, len(audio), 640):
        live.push(audio[s : s + 640])
    live.finish()
    whole = AudioPipeline(tiny_model, 32, 17)
    whole.push(audio)
    whole.finish()
    assert live.available == whole.available
    n = live.available
    assert _rel(live.embeddings(0, n), whole.embeddings(0, n)) < 5e-5


class _Shapes:
    """Record the input shapes of the ops MLX CUDA builds graphs or plans for, per shape."""

    def __init__(self, monkeypatch):
        self.seen: dict[str, set] = {"attention": set(), "conv": set(), "fft": set()}
        self._wrap(monkeypatch, mx.fast, "scaled_dot_product_attention", "attention")
        self._wrap(monkeypatch, mx, "conv1d", "conv")
        self._wrap(monkeypatch, mx.fft, "rfft", "fft")

    def _wrap(self, monkeypatch, owner, name, kind):
        inner = getattr(owner, name)

        def recorded(*args, **kwargs):
            mask = kwargs.get("mask")
            self.seen[kind].add(
                tuple(a.shape for a in args if isinstance(a, mx.array))
                + ((mask.shape,) if isinstance(mask, mx.array) else ())
            )
            return inner(*args, **kwargs)

        monkeypatch.setattr(owner, name, recorded)


def test_a_live_stream_has_few_shapes_however_its_audio_is_sliced(tiny_model, monkeypatch):
    """A server's turns hand a stream 40 ms pieces in irregular bunches: attention, the conv
    stem and the FFT still see pieces of 1, 2, 4 ... tokens only (MLX CUDA builds a cuDNN
    graph or an FFT plan per shape: new shapes all the time made a live stream's encoder cost
    ~880 ms per second of audio on an H200)."""
    rng = np.random.default_rng(2)
    audio = (0.1 * rng.standard_normal(16000 * 8)).astype(np.float32)
    shapes = _Shapes(monkeypatch)
    live = AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK)
    s = 0
    while s < len(audio):
        n = 640 * int(rng.integers(1, 9))  # 1 to 8 pieces of 40 ms in one turn
        live.push(audio[s : s + n])
        s += n
    live.finish()
    sizes = (LIVE_BLOCK // 4).bit_length()  # pieces of 1, 2, 4 ... tokens up to the block
    for kind, per_size in (("attention", 1), ("conv", 2), ("fft", 1)):  # two convs in the stem
        assert 0 < len(shapes.seen[kind]) <= sizes * per_size, (kind, shapes.seen[kind])
    # The same audio as one bulk push (a file) meets other shapes: the bound is the ring's doing.
    bulk = _Shapes(monkeypatch)
    whole = AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK)
    whole.push(audio)
    whole.finish()
    assert _rel(live.embeddings(0, live.available), whole.embeddings(0, whole.available)) < 5e-5
    assert bulk.seen["attention"] <= shapes.seen["attention"]
