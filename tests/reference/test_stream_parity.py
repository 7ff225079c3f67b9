"""Streaming equals offline equals reference.

On tiny reference models (one whose encoder and decoder windows the clip crosses many times)
with more than 20 s of audio, the token ids a StreamingSession emits are identical for any
chunking of the input, identical to our offline greedy decode, and identical to transformers'
streaming generation on the same weights.
"""

from __future__ import annotations

import random

import mlx.core as mx
import numpy as np
import pytest

from voxtral_mlx.audio.mel import log_mel, pad_for_stream
from voxtral_mlx.checkpoint import weights
from voxtral_mlx.decode.session import State, StreamingSession
from voxtral_mlx.model.fast_step import FastStepper
from voxtral_mlx.text.tokenizer import Tokenizer

from . import hf_reference as ref
from .tekken_fixture import write_tekken

SECONDS = 21.0


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return Tokenizer.from_file(write_tekken(tmp_path_factory.mktemp("tok") / "tekken.json"))


@pytest.fixture(scope="module")
def audio():
    return ref.test_audio(SECONDS, seed=3)


class Setup:
    def __init__(self, name, root, audio):
        self.torch_model = ref.build(name, seed=0)
        self.folder = ref.save_native(self.torch_model, root)
        self.model, self.cfg = weights.load(self.folder)
        self.reference = ref.reference_streaming_greedy(self.torch_model, audio, 6)


@pytest.fixture(scope="module", params=["windowed", "tiny"])
def setup(request, tmp_path_factory, audio):
    return Setup(request.param, tmp_path_factory.mktemp(request.param), audio)


def run_session(model, tokenizer, audio, sizes, step_every=1, **options):
    """Feed ``audio`` in chunks of ``sizes()`` samples, stepping after every ``step_every`` feeds."""
    session = StreamingSession(model, tokenizer, delay_ms=480, **options)
    events, i, n = [], 0, 0
    while i < len(audio):
        k = sizes()
        session.feed(audio[i : i + k])
        i += k
        n += 1
        if n % step_every == 0:
            events += session.step()
    session.close()
    while not session.done:
        events += session.step()
    return session, events


def test_reference_has_no_early_eos_and_crosses_windows(setup, audio):
    assert ref.EOS not in setup.reference
    assert len(set(setup.reference)) > 5
    n_tokens = len(audio) // 1280
    assert len(setup.reference) >= n_tokens  # one per 80 ms of audio (plus the flush)


@pytest.mark.parametrize("chunking", ["80ms", "1s", "random"])
def test_streaming_ids_equal_offline_and_reference(setup, tokenizer, audio, chunking):
    rng = random.Random(7)
    sizes = {"80ms": lambda: 1280, "1s": lambda: 16000, "random": lambda: rng.randint(1, 9000)}[
        chunking
    ]
    session, events = run_session(setup.model, tokenizer, audio, sizes)
    ids = [e.token_id for e in events]
    assert ids == session.tokens
    assert session.state is State.DONE
    mel = log_mel(pad_for_stream(audio, 32, 17))[None]
    offline = setup.model.greedy(mel, session.prompt, 6, eos_id=tokenizer.eos_id)
    assert ids == offline
    assert ids == setup.reference


def test_single_samples(setup, tokenizer, audio):
    """One sample per feed: the first 0.3 s stepped after every sample, the rest per 80 ms."""
    clip = audio[: 16000 * 6]
    session = StreamingSession(setup.model, tokenizer)
    events = []
    for i in range(len(clip)):
        session.feed(clip[i : i + 1])
        if i < 4800 or i % 1280 == 0:
            events += session.step()
    session.close()
    while not session.done:
        events += session.step()
    _, bulk = run_session(setup.model, tokenizer, clip, lambda: len(clip))
    assert [e.token_id for e in events] == [e.token_id for e in bulk]


def test_event_times_are_monotonic_and_inside_the_audio(setup, tokenizer, audio):
    _, events = run_session(setup.model, tokenizer, audio, lambda: 4000)
    starts = [e.start for e in events]
    assert starts == sorted(starts)
    assert all(0.0 <= e.start <= e.end <= SECONDS + 1e-6 for e in events)
    assert all(abs((e.end - e.start) - 0.08) < 1e-9 for e in events if e.end < SECONDS)
    # The first token describes the first 80 ms, the text lags the audio by the delay.
    assert starts[0] == 0.0


def test_tokens_emitted_as_soon_as_audio_allows(setup, tokenizer, audio):
    """Live: the token for position p comes out once p's 80 ms plus the mel look-ahead are in.

    The last mel frame of a token is centred 160 samples before its end and its STFT window
    reaches 200 past the centre: 40 samples (2.5 ms, the protocol's look-ahead) past the token.
    With a 6-token delay, after k tokens + 40 samples of real audio, k - 6 tokens are out.
    """
    session = StreamingSession(setup.model, tokenizer, delay_ms=480)
    out, fed = 0, 0
    for k in range(1, 30):
        edge = k * 1280 + 40
        session.feed(audio[fed : edge - 1])
        out += len(session.step())
        assert out == max(0, k - 7)  # one sample short: the k-th token is not ready
        session.feed(audio[edge - 1 : edge])
        out += len(session.step())
        assert out == max(0, k - 6)
        fed = edge
    assert session.state is State.PREFILLED


def test_delay_setting(setup, tokenizer, audio):
    s = StreamingSession(setup.model, tokenizer, delay_ms=160)
    assert len(s.prompt) == 1 + 32 + 2 and s.n_delay == 2
    from voxtral_mlx.errors import VoxtralError

    for bad in (0, 100, 2480):
        with pytest.raises(VoxtralError, match="multiple of 80"):
            StreamingSession(setup.model, tokenizer, delay_ms=bad)


def test_feed_from_another_thread(setup, tokenizer, audio):
    import threading

    session = StreamingSession(setup.model, tokenizer)

    def producer():
        for i in range(0, 16000 * 4, 1000):
            session.feed(audio[i : i + 1000])
        session.close()

    t = threading.Thread(target=producer)
    t.start()
    events = []
    while not session.done:
        events += session.step()
    t.join()
    _, bulk = run_session(setup.model, tokenizer, audio[: 16000 * 4], lambda: 64000)
    assert [e.token_id for e in events] == [e.token_id for e in bulk]


def test_leading_silence_shifts_times(tokenizer, audio, tmp_path_factory):
    """0.96 s of silence in front: the same tokens come out, each exactly 0.96 s later.

    0.96 s is 12 whole tokens (a 1 s shift would move the audio half a token against the 80 ms
    grid, and a random-weight model then emits different tokens, so nothing could be matched).
    Uses the windowed model: like a trained model, its output depends on recent audio only, so
    the two runs re-synchronise; a random model with unbounded attention keeps the start in
    view and drifts. Word times are built from these token times (tests/text/test_transcript.py).
    """
    torch_model = ref.build("windowed", seed=0)
    model, _ = weights.load(ref.save_native(torch_model, tmp_path_factory.mktemp("shift")))
    clip = audio[: 16000 * 12]
    _, plain = run_session(model, tokenizer, clip, lambda: 16000)
    shifted_audio = np.concatenate([np.zeros(12 * 1280, np.float32), clip])
    _, shifted = run_session(model, tokenizer, shifted_audio, lambda: 16000)
    assert len(shifted) == len(plain) + 12
    pairs = list(zip(plain, shifted[12:], strict=True))
    same = [(a, b) for a, b in pairs if a.token_id == b.token_id]
    assert len(same) >= 0.9 * len(pairs)
    assert all(abs(b.start - a.start - 0.96) < 1e-9 for a, b in pairs)


@pytest.mark.parametrize("n", [1, 40])
def test_eos_mid_stream_restarts_on_the_untranscribed_audio(
    tokenizer, audio, tmp_path_factory, monkeypatch, n
):
    """EOS at decoder position p: a fresh session continues from the audio the last token had
    not yet covered, ``(p + 1 - 32 - delay) * 1280`` samples in; its tokens and times are those
    of a new session on that audio, shifted by where it starts. EOS as the prefill's token
    (n = 1) and from a single-token step (n = 40: position 38 + 39 = 77)."""
    model, _ = weights.load(
        ref.save_native(ref.build("windowed", seed=0), tmp_path_factory.mktemp("eos"))
    )
    clip = audio[: 16000 * 8]
    # EOS forced as the n-th emitted token: the prefill's (n = 1) or a later step's.
    name = "prefill_lane" if n == 1 else "step_lanes"
    original, calls = getattr(FastStepper, name), []

    def forced(self, *args, **kwargs):
        calls.append(1)
        out = original(self, *args, **kwargs)
        if len(calls) != max(1, n - 1):
            return out
        eos = mx.array([tokenizer.eos_id])
        return (out[0], eos) if name == "prefill_lane" else eos

    monkeypatch.setattr(FastStepper, name, forced)
    session, events = run_session(model, tokenizer, clip, lambda: 16000)
    monkeypatch.undo()
    ids = [e.token_id for e in events]
    assert ids[n - 1] == tokenizer.eos_id and session.done
    p = 38 + (n - 1)
    start = (p + 1 - 32 - 6) * 1280
    _, fresh = run_session(model, tokenizer, clip[start:], lambda: 16000)
    after = events[n:]
    assert [e.token_id for e in after] == [e.token_id for e in fresh]
    assert all(
        abs(a.start - (b.start + start / 16000)) < 1e-9 for a, b in zip(after, fresh, strict=True)
    )
    assert after and after[-1].end <= 8.0 + 1e-9


def test_stepper_grows_past_its_first_capacity(setup, tokenizer, audio, monkeypatch):
    """Ring capacity grows in chunks until the window; force many growths with a tiny chunk."""
    from voxtral_mlx.model import lanes

    _, plain = run_session(setup.model, tokenizer, audio[: 16000 * 8], lambda: 16000)
    monkeypatch.setattr(lanes, "GROW", 8)
    _, grown = run_session(setup.model, tokenizer, audio[: 16000 * 8], lambda: 16000)
    assert [e.token_id for e in grown] == [e.token_id for e in plain]
