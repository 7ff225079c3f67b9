"""Whether a live stream's tokens are the model's own greedy words for its audio.

A live stream computes its encoder in pieces of 1-16 tokens as the audio arrives, a file in
blocks of 64: the embeddings differ by rounding (``tests/model/test_encoder_ring.py`` bounds it
at 5e-5 of their largest magnitude). Where the model's two best tokens nearly tie
(a tiny random model has many such places), that difference may pick the other one, and every
token after it follows from it. So a live stream whose tokens differ from the offline session's
is checked token by token, teacher-forced on its own tokens: each must be the model's best at
its position or within what the chunking bound can move the logits there. Any other token
fails, and so does an EOS in either (a restart's positions are not modelled here).

MLX on the calling thread; imports stay inside the functions (``testing/__init__.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from voxtral_mlx.model import VoxtralRealtime
    from voxtral_mlx.text.tokenizer import Tokenizer

# The noise standing in for a live pipeline's rounding, relative to the embeddings' largest
# magnitude, on every element: the tiny model's live-against-whole difference measured 1.0-1.3e-6
# at most (6 s of noise in random pieces of 100-4000 samples, 1.6-1.8e-7 rms; the 2-core AMD
# EPYC), so 5e-6 everywhere is some 25 times its typical push on a logit. The full bound
# tests/model/test_encoder_ring.py asserts (5e-5) would excuse 6 % of the tiny model's tokens
# (their best two within a median 0.04 of each other); 5e-6 excused none of 440 (0.003-0.004).
CHUNKING_REL = 5e-6


def offline_tokens(model: VoxtralRealtime, tokenizer: Tokenizer, audio: np.ndarray,
                   delay_ms: int | None = None) -> list[int]:  # fmt: skip
    """The whole audio at once through a fresh StreamingSession: what transcribing it as a
    file gives."""
    from voxtral_mlx.decode.session import StreamingSession

    session = StreamingSession(model, tokenizer, delay_ms=delay_ms)
    session.feed(audio)
    session.close()
    ids: list[int] = []
    while not session.done:
        ids += [e.token_id for e in session.step()]
    return ids


def departures(model: VoxtralRealtime, tokenizer: Tokenizer, audio: np.ndarray,
               tokens: list[int], delay_ms: int | None = None, rel: float = CHUNKING_REL,
               seed: int = 0) -> list[str]:  # fmt: skip
    """Where ``tokens`` are not greedy decoding of ``audio`` at ``delay_ms``, teacher-forced
    on ``tokens`` themselves: each position whose token trails the best logit by more than
    twice what noise of ``rel`` times the embeddings' largest magnitude (random signs, every
    element) moves that position's logits. Empty: every token is the model's choice up to
    such a tie. A wrong number of tokens or an EOS is one departure."""
    import mlx.core as mx
    import numpy as np

    from voxtral_mlx.audio.mel import log_mel, pad_for_stream
    from voxtral_mlx.protocol import StreamProtocol

    proto = StreamProtocol.of(model.config, tokenizer, delay_ms)
    if tokenizer.eos_id in tokens:
        return [f"an EOS at {tokens.index(tokenizer.eos_id)}: compared exactly only"]
    mel = log_mel(pad_for_stream(audio, proto.n_left, proto.right_pad_tokens))[None]
    prompt = list(proto.prompt)
    # One token per position from the prompt's last to the one before the audio's last (the
    # last position's would describe audio past the right padding: never fed).
    emb = model.encode(mel)[:, :-1]
    want = emb.shape[1] - len(prompt) + 1
    if len(tokens) != want:
        return [f"{len(tokens)} tokens for {want} positions"]
    dec = model.decoder
    gains = dec.ffn_gains(proto.n_delay)
    words = dec.embed(mx.array([prompt + tokens[:-1]]))

    def logits(audio_embeds: mx.array) -> np.ndarray:
        out = dec(words + audio_embeds, gains)[0, len(prompt) - 1 :]
        return np.array(out.astype(mx.float32))

    rng = np.random.default_rng(seed)
    size = float(mx.abs(emb).max().item())
    signs = mx.array(rng.choice([-1.0, 1.0], size=emb.shape).astype(np.float32))
    base = logits(emb)
    moved = np.abs(logits(emb + (rel * size * signs).astype(emb.dtype)) - base).max(axis=-1)
    chosen = base[np.arange(len(tokens)), tokens]
    margin = base.max(axis=-1) - chosen
    return [f"token {i} ({tokens[i]}): {margin[i]:.3g} below the best ({int(base[i].argmax())}), "
            f"beyond the chunking bound's {2 * moved[i]:.3g}"
            for i in np.flatnonzero(margin > 2 * moved)]  # fmt: skip


def assert_model_words(model: VoxtralRealtime, tokenizer: Tokenizer, audio: np.ndarray,
                       tokens: list[int], delay_ms: int | None = None) -> None:  # fmt: skip
    """``tokens`` (a live stream's) equal the offline session's for ``audio``, or differ only
    where the model's best two nearly tie (:func:`departures`)."""
    offline = offline_tokens(model, tokenizer, audio, delay_ms)
    if tokens == offline:
        return
    first = next((i for i, (a, b) in enumerate(zip(tokens, offline, strict=False)) if a != b),
                 min(len(tokens), len(offline)))  # fmt: skip
    away = departures(model, tokenizer, audio, tokens, delay_ms)
    assert not away, (f"live tokens differ from the offline session's from index {first} "
                      f"({tokens[first:first + 3]} against {offline[first:first + 3]}): "
                      + "; ".join(away[:5]))  # fmt: skip


__all__ = ["CHUNKING_REL", "assert_model_words", "departures", "offline_tokens"]
