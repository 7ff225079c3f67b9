# ruff: noqa: F811  (the fixtures below are also parameter names)
"""Several sessions in one SessionGroup (the live engine's microphone and computer audio):
each session's token ids and times, drafts included, equal those of the same session alone,
whoever steps the group, whatever the chunking, with one session joining late and one
leaving early."""

from __future__ import annotations

import numpy as np

from voxtral_mlx.decode.session import SessionGroup, StreamingSession

from .test_rows import SR, _sizes, alone, setup  # noqa: F401 (fixture)
from .test_stream_parity import audio, tokenizer  # noqa: F401 (fixtures)


def _key(events) -> list:
    return [(e.token_id, e.start, e.end) for e in events]


def test_two_sources_in_one_group_equal_their_sessions_alone(setup, tokenizer, audio):
    other = np.ascontiguousarray(audio[::-1] * 0.7)[: len(audio) * 2 // 3]  # shorter: leaves first
    group = SessionGroup(setup.model, tokenizer)
    you = StreamingSession(setup.model, tokenizer, 2400, draft_delay_ms=240, group=group)
    others = None
    got = {"you": [], "draft": [], "others": []}
    mine, theirs = _sizes("random"), _sizes("1s")
    i = j = 0
    start = int(2.0 * SR)  # the computer's audio starts 2 s into the recording
    while i < len(audio) or (others is not None and not others.done):
        if i < len(audio):
            k = mine()
            you.feed(audio[i : i + k])
            i += k
            if i >= len(audio):
                you.close()
        if others is None and i >= start:
            others = StreamingSession(setup.model, tokenizer, 480, group=group)
        if others is not None and j < len(other):
            k = theirs()
            others.feed(other[j : j + k])
            j += k
            if j >= len(other):
                others.close()
        # The group steps once per turn, through either session or itself; each session's
        # step returns its own events, the others wait for its take.
        turn = (i // 1280) % 3 if others is not None else 0
        if turn == 0:
            got["you"] += you.step()
        elif turn == 1:
            got["others"] += others.step()
        else:
            group.step()
        got["you"] += you.take() if turn else []
        got["draft"] += you.draft_events
        if others is not None and turn != 1:
            got["others"] += others.take()
    while not you.done:
        got["you"] += you.step()
        got["draft"] += you.draft_events
    assert others.done and not group.sessions  # both left the group when done
    assert _key(got["you"]) == alone(setup.model, tokenizer, audio, 2400, _sizes("1s"))
    assert _key(got["draft"]) == alone(setup.model, tokenizer, audio, 240, _sizes("1s"))
    want = alone(setup.model, tokenizer, other, 480, _sizes("random"))
    assert _key(got["others"]) == want and len(want) > 20
    assert you.tokens == [t for t, *_ in _key(got["you"])]
