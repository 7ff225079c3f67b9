"""The live-against-offline check the end-to-end tests use (voxtral_mlx/testing/agreement.py):
it passes the model's own greedy tokens, fails a token the model did not choose, and lets a
near tie through only within the chunking bound it is given."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from voxtral_mlx.audio.mel import log_mel, pad_for_stream
from voxtral_mlx.protocol import StreamProtocol
from voxtral_mlx.testing import tiny_model, tiny_tokenizer
from voxtral_mlx.testing.agreement import assert_model_words, departures, offline_tokens

DELAY_MS = 480


@pytest.fixture(scope="module")
def setup():
    model, tok = tiny_model(), tiny_tokenizer()
    rng = np.random.default_rng(3)
    audio = (0.1 * rng.standard_normal(16000 * 3)).astype(np.float32)
    ids = offline_tokens(model, tok, audio, DELAY_MS)
    assert tok.eos_id not in ids and len(set(ids)) > 3  # words, not only padding
    return model, tok, audio, ids


def _logits(model, tok, audio, ids) -> np.ndarray:
    """Teacher-forced logits of the positions that emit ``ids``, straight from the model."""
    proto = StreamProtocol.of(model.config, tok, DELAY_MS)
    mel = log_mel(pad_for_stream(audio, proto.n_left, proto.right_pad_tokens))[None]
    prompt = list(proto.prompt)
    # The last position's logits are never used (no token is fed there): any id fills it.
    out = model(mx.array([prompt + ids]), mel, proto.n_delay)[0, len(prompt) - 1 : -1]
    return np.array(out)


def test_the_offline_tokens_are_the_models_words(setup):
    model, tok, audio, ids = setup
    assert departures(model, tok, audio, ids, DELAY_MS) == []
    assert_model_words(model, tok, audio, list(ids), DELAY_MS)


def test_a_token_the_model_did_not_choose_fails(setup):
    model, tok, audio, ids = setup
    logits = _logits(model, tok, audio, ids)
    i = len(ids) // 2
    worst = int(logits[i].argmin())  # far below the best: no bound excuses it
    changed = ids[:i] + [worst] + ids[i + 1 :]
    away = departures(model, tok, audio, changed, DELAY_MS)
    assert away and away[0].startswith(f"token {i} ")
    with pytest.raises(AssertionError, match=f"from index {i}"):
        assert_model_words(model, tok, audio, changed, DELAY_MS)


def test_a_near_tie_passes_only_within_the_bound(setup):
    """The runner-up at the closest call: allowed under a bound as wide as its margin, refused
    under a bound far smaller (the same token, the same place)."""
    model, tok, audio, ids = setup
    logits = _logits(model, tok, audio, ids)
    top2 = np.sort(logits, axis=-1)[:, -2:]
    i = int(np.argmin(top2[:, 1] - top2[:, 0]))
    second = int(np.argsort(logits[i])[-2])
    changed = ids[:i] + [second]  # what follows a flip is the model's on the new path
    changed += [0] * (len(ids) - len(changed))
    # Teacher-forced greedy continuation of the flipped path, one position at a time.
    for j in range(i + 1, len(ids)):
        changed[j] = int(_logits(model, tok, audio, changed)[j].argmax())
    margin = float(top2[i, 1] - top2[i, 0])
    proto = StreamProtocol.of(model.config, tok, DELAY_MS)
    mel = log_mel(pad_for_stream(audio, proto.n_left, proto.right_pad_tokens))[None]
    scale = float(mx.abs(model.encode(mel)).max())
    assert departures(model, tok, audio, changed, DELAY_MS, rel=1e-9)[0].startswith(f"token {i} ")
    wide = departures(model, tok, audio, changed, DELAY_MS, rel=max(1e-3, 100 * margin / scale))
    assert wide == []
