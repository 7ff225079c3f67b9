"""Sessions of one model and delay share the stepper's compiled functions (no re-tracing per
file or per restart), never across delays, and never keep a released model alive."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from voxtral_mlx.checkpoint import weights
from voxtral_mlx.decode.session import StreamingSession
from voxtral_mlx.testing import write_tiny_checkpoint
from voxtral_mlx.text.tokenizer import Tokenizer


def _tokens(session, audio):
    session.feed(audio)
    session.close()
    out = []
    while not session.done:
        out += [e.token_id for e in session.step()]
    return out


def test_sessions_share_compiled_steps_per_delay_and_let_the_model_go(tmp_path):
    folder = write_tiny_checkpoint(tmp_path / "m")
    model, _ = weights.load(folder)
    tok = Tokenizer.from_file(folder)
    audio = np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32) * 0.1
    a, b = StreamingSession(model, tok), StreamingSession(model, tok)
    other = StreamingSession(model, tok, delay_ms=160)
    assert a.stepper._halves is b.stepper._halves and a.stepper._head is b.stepper._head
    assert other.stepper._halves is not a.stepper._halves
    # Sharing changes nothing: one after the other, the same audio gives the same tokens.
    assert _tokens(a, audio) == _tokens(b, audio)
    gone = weakref.ref(model)
    del a, b, other, model
    gc.collect()
    assert gone() is None
