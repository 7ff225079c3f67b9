"""CaptionModel: committed words vs the word in progress, recordings kept apart, saveable."""

from __future__ import annotations

from gui.captions import RECORDING_GAP, CaptionModel
from voxtral_mlx.live_events import TextEvent
from voxtral_mlx.transcript import Word


def step(words=(), partial=None):
    return TextEvent("", 0.0, 0.0, words=tuple(words), partial=partial)


def test_committed_partial_recordings_and_transcript():
    model = CaptionModel()
    assert model.is_empty and model.text == "" and model.lines() == ([], "")
    model.begin_recording()
    model.add(step(partial=Word("Hel", 0.1, 0.2)))
    assert model.committed_text == "" and model.partial_text == "Hel" and model.text == "Hel"
    new = model.add(step([Word("Hello", 0.1, 0.4)], Word("wor", 0.5, 0.6)))
    assert new == [Word("Hello", 0.1, 0.4)]
    assert model.committed_text == "Hello" and model.text == "Hello wor"
    model.add(step([Word("world.", 0.5, 0.9)]))
    model.end_recording()
    assert model.partial is None and not model.recording
    model.add(step([Word("Again", 0.2, 0.5)]))  # a word after the end opens a new recording
    assert model.paragraphs() == ["Hello world.", "Again"]
    assert model.committed_text == "Hello world.\n\nAgain"
    t = model.transcript(delay_ms=480)
    # The second recording's times follow the first's end.
    assert [w.start for w in t.words] == [0.1, 0.5, 0.9 + RECORDING_GAP + 0.2]
    assert t.text == "Hello world. Again" and t.metadata == {"delay_ms": 480}
    assert t.segments and t.duration == t.words[-1].end
    model.clear()
    assert model.is_empty and model.transcript().words == []


def test_lines_are_the_last_wrapped_lines_with_room_for_the_partial():
    model = CaptionModel()
    model.add(step([Word(f"w{i}", i, i + 0.5) for i in range(40)], Word("next", 41, 41.2)))
    lines, partial = model.lines(max_lines=2, line_chars=20)
    assert len(lines) == 2 and partial == "next"
    assert len(f"{lines[-1]} {partial}".strip()) <= 20 and all(len(line) <= 20 for line in lines)
    shown = " ".join(lines + [partial]).split()
    assert shown == model.text.split()[-len(shown) :] and shown[-2] == "w39"
    assert model.lines(max_lines=1, line_chars=20)[0] == lines[-1:]
    model.add(step([Word("next", 41, 41.2)]))  # committed: no room kept any more
    after = model.lines(max_lines=2, line_chars=20)
    assert after[0][-1].endswith("w39 next") and after[1] == ""
