# ruff: noqa: F811  (the fixtures below are also parameter names)
"""Many rows, one batch (decode/rows.py): each row's token ids and times equal those of a
single-delay StreamingSession on the same audio, for every chunking the stream tests use, for
2 and 3 rows of different delays sharing one feed, and for a row that joins late."""

from __future__ import annotations

import random

import pytest

from voxtral_mlx.decode.rows import RowBatch
from voxtral_mlx.decode.session import StreamingSession

from .test_stream_parity import Setup, audio, tokenizer  # noqa: F401 F811 (fixtures)

SR = 16000


@pytest.fixture(scope="module", params=["windowed", "tiny"])
def setup(request, tmp_path_factory, audio):  # noqa: F811
    return Setup(request.param, tmp_path_factory.mktemp(request.param), audio)


def _sizes(chunking: str):
    rng = random.Random(7)
    return {"80ms": lambda: 1280, "1s": lambda: SR, "random": lambda: rng.randint(1, 9000)}[
        chunking
    ]


def alone(model, tokenizer, audio, delay_ms: int, sizes) -> list:
    """(token id, start, end) of a StreamingSession of one delay fed in chunks."""
    session, out, i = StreamingSession(model, tokenizer, delay_ms=delay_ms), [], 0
    while i < len(audio):
        k = sizes()
        session.feed(audio[i : i + k])
        i += k
        out += session.step()
    session.close()
    while not session.done:
        out += session.step()
    return [(e.token_id, e.start, e.end) for e in out]


def together(model, tokenizer, audio, delays: list[int], sizes, join=None) -> dict:
    """The same through one RowBatch: one feed for ``delays``; ``join = (seconds, delay)`` adds
    a row at that point on a feed of its own (the audio from there on)."""
    batch = RowBatch(model, tokenizer)
    feeds = [batch.add_feed(delays)]
    rows = {d: batch.add_row(feeds[0], d) for d in delays}
    out: dict = {key: [] for key in [*delays, "late"]}
    i = 0
    while i < len(audio):
        if join and "late" not in rows and i >= join[0] * SR:
            feeds.append(batch.add_feed([join[1]], offset=i))
            out["offset"] = i
            rows["late"] = batch.add_row(feeds[-1], join[1])
        k = sizes()
        for feed in feeds:
            feed.push(audio[i : i + k])
        i += k
        for row, e in batch.step():
            out[next(key for key, r in rows.items() if r is row)].append(
                (e.token_id, e.start, e.end)
            )
    for feed in feeds:
        batch.finish(feed)
    while not all(r.done for r in rows.values()):
        for row, e in batch.step():
            out[next(key for key, r in rows.items() if r is row)].append(
                (e.token_id, e.start, e.end)
            )
    return out


@pytest.mark.parametrize("chunking", ["80ms", "1s", "random"])
def test_two_rows_on_one_feed_equal_their_own_sessions(setup, tokenizer, audio, chunking):  # noqa: F811
    got = together(setup.model, tokenizer, audio, [240, 2400], _sizes(chunking))
    for delay in (240, 2400):
        want = alone(setup.model, tokenizer, audio, delay, _sizes(chunking))
        assert [t for t, *_ in got[delay]] == [t for t, *_ in want], delay
        assert got[delay] == want
    assert got[240] != got[2400]  # the delays decode differently


def test_three_rows_and_a_late_row(setup, tokenizer, audio):  # noqa: F811
    """Three delays on one feed, and a fourth row joining 7.3 s in on the audio from there."""
    sizes = _sizes("random")
    got = together(setup.model, tokenizer, audio, [240, 480, 1200], sizes, join=(7.3, 960))
    for delay in (240, 480, 1200):
        assert got[delay] == alone(setup.model, tokenizer, audio, delay, _sizes("random")), delay
    start = got["offset"]
    late = alone(setup.model, tokenizer, audio[start:], 960, _sizes("1s"))
    assert [t for t, *_ in got["late"]] == [t for t, *_ in late]
    assert all(
        abs(a[1] - (b[1] + start / SR)) < 1e-9 for a, b in zip(got["late"], late, strict=True)
    )


@pytest.mark.parametrize("chunking", ["80ms", "random"])
def test_a_session_with_a_draft_row_keeps_its_own_words(setup, tokenizer, audio, chunking):
    """StreamingSession(delay, draft_delay_ms): ``step`` gives exactly the single-delay
    session's events; ``draft_events``/``draft_tokens`` those of a session at the draft delay."""
    session, sizes = (
        StreamingSession(setup.model, tokenizer, 2400, draft_delay_ms=240),
        _sizes(chunking),
    )
    final, draft, i = [], [], 0
    while i < len(audio):
        k = sizes()
        session.feed(audio[i : i + k])
        i += k
        final += session.step()
        draft += session.draft_events
    session.close()
    while not session.done:
        final += session.step()
        draft += session.draft_events
    assert [(e.token_id, e.start, e.end) for e in final] == alone(
        setup.model, tokenizer, audio, 2400, _sizes(chunking)
    )
    want = alone(setup.model, tokenizer, audio, 240, _sizes(chunking))
    assert [(e.token_id, e.start, e.end) for e in draft] == want
    assert session.draft_tokens == [t for t, *_ in want] and session.draft_delay_ms == 240
