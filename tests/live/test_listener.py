"""Live audio crosses one queue (the source's) and is not copied on its way to the model: the
session takes what the source read as it is (``push``) and gives the very tokens ``feed`` gives;
the tap sees that same array, read-only."""

from __future__ import annotations

import numpy as np
import pytest

from tests.live.tiny_live import SPEECH, TOK
from voxtral_mlx.audio.sources import IteratorSource
from voxtral_mlx.checkpoint import weights
from voxtral_mlx.decode.session import StreamingSession
from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.live.listener import Listener
from voxtral_mlx.live.monitor import SourceMonitor


def events_of(session: StreamingSession, chunks, give) -> list[tuple]:
    """Each chunk given with ``give`` then a step of at most 12 tokens, then drained."""
    out = []
    for chunk in chunks:
        give(session, chunk)
        out += session.step(12)
    session.close()
    while not session.done:
        out += session.step(12)
    return [(e.token_id, e.text, e.start, e.end, e.word_start) for e in out]


@pytest.mark.parametrize("size", [1, 777, 1280, 4000])
def test_push_gives_the_tokens_feed_gives(folder, size):
    model = weights.load(folder)[0]
    audio = SPEECH[:24000]
    sizes = [size] * 40 + [1280] * (len(audio) // 1280)  # the first 40 small, then 80 ms
    cuts = np.cumsum(sizes)
    chunks = [c for c in np.split(audio, cuts[cuts < len(audio)]) if c.size]
    fed = events_of(StreamingSession(model, TOK), chunks, StreamingSession.feed)
    pushed = events_of(StreamingSession(model, TOK), [c.copy() for c in chunks],
                       StreamingSession.push)  # fmt: skip
    assert len(fed) > 20 and pushed == fed


def test_push_after_close_is_an_error(folder):
    session = StreamingSession(weights.load(folder)[0], TOK)
    session.push(SPEECH[:1280].copy())
    session.close()
    with pytest.raises(VoxtralError, match="after the stream was closed"):
        session.push(SPEECH[1280:2560].copy())


class Recorded(IteratorSource):
    """Remembers every array its read returned."""

    def __init__(self, chunks):
        super().__init__(chunks)
        self.returned = []

    def read(self, timeout: float = 0.0):
        chunk = super().read(timeout)
        if chunk is not None:
            self.returned.append(chunk)
        return chunk


def test_the_listener_hands_what_the_source_read_to_the_session_and_tap(folder):
    """Every chunk read is what the tap sees (the same array, now read-only); the tokens are
    those of feeding the same audio; the source's arrays never share the caller's memory."""
    model = weights.load(folder)[0]
    parts = [SPEECH[i : i + 1600] for i in range(0, 16000, 1600)]
    source, tapped = Recorded(parts), []
    source.open()
    listener = Listener(source, StreamingSession(model, TOK), SourceMonitor(lambda e: None, 0.1),
                        tapped.append)  # fmt: skip
    ids, finished = [], False
    while not finished:
        events, finished = listener.pump(12, 0.0)
        ids += [e.token_id for e in events]
    listener.end_source()
    ids += [e.token_id for events in listener.drain(12) for e in events]
    assert len(tapped) == len(parts) and all(
        a is b for a, b in zip(tapped, source.returned, strict=True)
    )
    assert not any(c.flags.writeable for c in tapped)
    assert not any(np.shares_memory(c, p) for c, p in zip(tapped, parts, strict=True))
    fed = events_of(StreamingSession(model, TOK), parts, StreamingSession.feed)
    assert len(ids) > 20 and ids == [e[0] for e in fed]
