"""What the live tests (and the GUI's) share: speech, a tiny random checkpoint (the ``folder``
fixture) and a tokenizer for it, a loader that records its thread, an event recorder, and the
offline tokens a live take must give."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_map

from voxtral_mlx.audio.files import load_audio
from voxtral_mlx.audio.mel import log_mel, pad_for_stream
from voxtral_mlx.checkpoint import weights
from voxtral_mlx.config import ModelConfig
from voxtral_mlx.decode.session import StreamingSession
from voxtral_mlx.live.engine import LiveTranscriber
from voxtral_mlx.live.events import Status, StatusEvent
from voxtral_mlx.model import VoxtralRealtime
from voxtral_mlx.testing import tiny_params
from voxtral_mlx.text.tokenizer import AudioSettings, Tokenizer

SPEECH = load_audio(Path(__file__).parents[1] / "data" / "speech_en_22k.flac")


def make_tokenizer() -> Tokenizer:
    """40 specials (the realtime ids) and 1060 text pieces, a third starting a word, so the
    tiny random model writes plenty of words."""
    names = [f"<SPECIAL_{i}>" for i in range(40)]
    for i, name in {1: "<s>", 2: "</s>", 32: "[STREAMING_PAD]", 33: "[STREAMING_WORD]"}.items():
        names[i] = name
    pieces = [b""] * 40 + [f"{' ' if i % 3 == 0 else ''}w{i}".encode() for i in range(1060)]
    return Tokenizer(pieces, names, AudioSettings())


TOK = make_tokenizer()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    mx.random.seed(0)
    model = VoxtralRealtime(ModelConfig.from_dict(tiny_params()))
    model.update(tree_map(lambda w: w * 3.0, model.parameters()))
    mx.eval(model.parameters())
    return weights.save(model, tmp_path_factory.mktemp("live") / "m")


class Loader:
    """Loads the tiny checkpoint on the calling (transcriber) thread; counts and records it."""

    def __init__(self, folder):
        self.folder, self.threads = folder, []

    def __call__(self):
        self.threads.append(threading.current_thread().name)
        return weights.load(self.folder)[0], TOK


class Run:
    """Collects events and the 16 kHz audio fed to the model, split per session."""

    def __init__(self):
        self.events, self.fed = [], []

    def on_event(self, event):
        self.events.append(event)
        if isinstance(event, StatusEvent) and event.status is Status.LISTENING:
            self.fed.append([])

    def tap(self, chunk):
        self.fed[-1].append(chunk)

    def audio(self, k: int = 0) -> np.ndarray:
        return np.concatenate(self.fed[k])

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]

    def statuses(self):
        return [e.status.value for e in self.of(StatusEvent)]


def offline_tokens(model, audio: np.ndarray, delay_ms: int = 480) -> list[int]:
    """The whole take at once through a fresh session (the file path); without EOS this is
    also plain offline greedy decoding of the padded take (checked)."""
    session = StreamingSession(model, TOK, delay_ms=delay_ms)
    session.feed(audio)
    session.close()
    ids = []
    while not session.done:
        ids += [e.token_id for e in session.step()]
    if TOK.eos_id not in ids:
        n_delay = model.config.delay_tokens(delay_ms)
        mel = log_mel(pad_for_stream(audio, 32, n_delay + 11))[None]
        assert model.greedy(mel, [1] + [32] * (32 + n_delay), n_delay) == ids
    return ids


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def live(folder, source, tmp_path, **kw):
    run, loader = Run(), Loader(folder)
    lt = LiveTranscriber(loader, source, on_event=run.on_event, tap=run.tap,
                         autosave_dir=tmp_path / "autosave", **kw)  # fmt: skip
    return lt, run, loader
