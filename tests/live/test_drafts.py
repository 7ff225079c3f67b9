"""Drafts in a live take: the transcript is the final row's (== a single session at its delay),
the draft row's ids are kept (== a session at the draft delay), both delays are in the
metadata, and at every event the display is the final text followed by a suffix of the
draft, the final text only growing."""

from __future__ import annotations

import json

import pytest

from tests.live import tiny_live
from tests.live.tiny_live import SPEECH, live, offline_tokens
from voxtral_mlx.audio.mic import MicSource
from voxtral_mlx.checkpoint import weights
from voxtral_mlx.live.events import DraftEvent, ErrorEvent, TextEvent, TranscriptEvent
from voxtral_mlx.testing import FakeDevice, FakeSoundDevice, stereo_at
from voxtral_mlx.text.transcript import join_words

folder = tiny_live.folder


def _take(folder, tmp_path, **kw):
    dev = FakeDevice("USB Mic", signal=stereo_at(SPEECH, 48000), rate=48000, speed=4.0)
    lt, run, _ = live(folder, MicSource(sd=FakeSoundDevice([dev])), tmp_path, **kw)
    lt.start()
    assert dev.played.wait(20)
    lt.stop()
    assert lt.join(20)
    return lt, run


def test_a_take_with_drafts_keeps_the_final_rows_words(folder, tmp_path, threads_back):
    lt, run = _take(folder, tmp_path, delay_ms=1200, draft_delay_ms=240)
    model, audio = weights.load(folder)[0], run.audio()
    transcript = lt.transcript
    assert transcript.tokens == offline_tokens(model, audio, 1200)
    assert transcript.draft_tokens == offline_tokens(model, audio, 240)
    assert transcript.metadata["delay_ms"] == 1200 and transcript.metadata["draft_delay_ms"] == 240
    saved = json.loads(run.of(TranscriptEvent)[-1].path.read_text())
    assert saved["tokens"] == transcript.tokens and saved["draft_tokens"] == transcript.draft_tokens

    # Replay what a display shows: final words (and the partial one), then the latest draft.
    final_words, partial, draft, shown, drafts_seen = [], None, (), [], 0
    for event in run.events:
        if isinstance(event, TextEvent):
            final_words += event.words
            partial = event.partial
        elif isinstance(event, DraftEvent):
            draft, drafts_seen = event.words, drafts_seen + 1
        else:
            continue
        final_text = join_words(final_words + ([partial] if partial else []))
        shown.append((final_text, draft))
    assert drafts_seen > 10 and any(d for _, d in shown)  # drafts were shown along the way
    for (before, _), (after, _) in zip(shown, shown[1:], strict=False):
        assert after.startswith(before)  # the final text only grows
    for _, draft in shown:
        assert all(a.start <= b.start for a, b in zip(draft, draft[1:], strict=False))
    assert shown[-1][1] == ()  # at the end everything is final
    assert final_words == transcript.words


def test_drafts_off_at_zero_and_when_not_ahead(folder, tmp_path, threads_back):
    for kw in ({"delay_ms": 480, "draft_delay_ms": 0}, {"delay_ms": 480, "draft_delay_ms": 960}):
        lt, run = _take(folder, tmp_path / str(kw["draft_delay_ms"]), **kw)
        assert not run.of(DraftEvent) and lt.transcript.draft_tokens == []
        assert "draft_delay_ms" not in lt.transcript.metadata
        assert lt.transcript.tokens == offline_tokens(weights.load(folder)[0], run.audio(), 480)


@pytest.mark.parametrize("bad", [100, 99999])
def test_a_bad_draft_delay_is_one_error_and_drafts_go_off(folder, tmp_path, threads_back, bad):
    lt, run = _take(folder, tmp_path, delay_ms=480, draft_delay_ms=bad)
    errors = [e.message for e in run.of(ErrorEvent)]
    assert len(errors) == 1 and errors[0].startswith("draft delay must be") and "off" in errors[0]
    assert not run.of(DraftEvent) and lt.transcript.words
