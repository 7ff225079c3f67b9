"""CaptionModel: committed words vs the word in progress, recordings kept apart, saveable."""

from __future__ import annotations

from gui.captions import RECORDING_GAP, CaptionModel
from voxtral_mlx.live.events import DraftEvent, TextEvent
from voxtral_mlx.text.transcript import Word


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
    lines, partial = model.lines(max_lines=2, width=20)
    assert len(lines) == 2 and partial == "next"
    assert len(f"{lines[-1]} {partial}".strip()) <= 20 and all(len(line) <= 20 for line in lines)
    shown = " ".join(lines + [partial]).split()
    assert shown == model.text.split()[-len(shown) :] and shown[-2] == "w39"
    assert model.lines(max_lines=1, width=20)[0] == lines[-1:]
    model.add(step([Word("next", 41, 41.2)]))  # committed: no room kept any more
    after = model.lines(max_lines=2, width=20)
    assert after[0][-1].endswith("w39 next") and after[1] == ""


def test_chinese_and_japanese_lines_break_anywhere_without_spaces():
    text = "今日はとても良い天気ですね明日も晴れるでしょうか" * 3
    model = CaptionModel()
    model.add(step([Word(c, i, i + 0.1) for i, c in enumerate(text)], Word("東京", 99, 99.1)))
    lines, partial = model.lines(max_lines=3, width=10)
    assert len(lines) == 3 and partial == "東京" and all(len(line) <= 10 for line in lines)
    assert len(lines[-1] + partial) <= 10 and " " not in "".join(lines)
    assert (text + "東京").endswith("".join(lines) + partial)  # the newest characters, in order
    # Chinese by multi-character tokens, and a pixel-like measure (wide characters count 2).
    model = CaptionModel()
    model.add(step([Word("我们", 0, 1), Word("今天", 1, 2), Word("去", 2, 3)] * 20))
    wide = lambda s: sum(2 if ord(c) > 0x2E80 else 1 for c in s)  # noqa: E731
    lines, _ = model.lines(max_lines=2, width=9, measure=wide)
    assert all(wide(line) <= 9 for line in lines) and "".join(lines).endswith("我们今天去")


def test_a_word_wider_than_a_line_is_cut_and_the_newest_words_stay_last():
    model = CaptionModel()
    model.add(step([Word("a", 0, 1), Word("x" * 95, 1, 2), Word("end", 2, 3)], Word("now", 3, 4)))
    lines, partial = model.lines(max_lines=2, width=20)
    assert all(len(line) <= 20 for line in lines) and len(f"{lines[-1]} {partial}") <= 20
    assert " ".join([*lines, partial]).endswith("xxx end now") and partial == "now"


def test_lines_stay_put_as_words_come_in_a_long_recording():
    model = CaptionModel()
    model.add(step([Word(f"w{i % 7}" * (1 + i % 3), i, i + 0.5) for i in range(1000)]))
    before, _ = model.lines(max_lines=3, width=30)
    model.add(step([Word("more", 1000, 1000.5)]))  # 1001 words: the wrap's start moved on
    after, _ = model.lines(max_lines=3, width=30)
    assert after[:-1] in (before[:-1], before[1:])  # only the last line changed, or it scrolled


def test_the_window_spaces_words_as_the_transcript_does(qtbot):
    # The main window's view is fed word by word; it must read as join_texts writes it.
    from gui.transcript_view import TranscriptView

    view = TranscriptView(14)
    qtbot.addWidget(view)
    model = CaptionModel()
    steps = [step([Word("今", 0, 1), Word("日", 1, 2)], Word("は", 2, 3)),
             step([Word("は", 2, 3), Word("Tokyo", 3, 4)], Word("です", 4, 5)),
             step([Word("です", 4, 5), Word("。", 5, 6), Word("Hello", 6, 7)], Word("wor", 7, 8))]  # fmt: skip
    for event in steps:
        words = model.add(event)
        view.update_text([w.text for w in words], model.partial_text)
        assert view.toPlainText() == model.text
    assert view.toPlainText() == "今日は Tokyo です。 Hello wor"


def test_the_draft_follows_the_text_and_is_never_saved():
    model = CaptionModel()
    model.add(step([Word("Hello", 0.0, 0.3)], Word("wo", 0.5, 0.6)))
    assert model.set_draft(DraftEvent(words=(Word("how", 1.0, 1.2), Word("are", 1.5, 1.7))))
    assert not model.set_draft(DraftEvent(words=(Word("how", 1.0, 1.2), Word("are", 1.5, 1.7))))
    assert model.text == "Hello wo how are" and model.draft_text == "how are"
    model.add(step([Word("world", 0.5, 0.9), Word("how", 1.0, 1.2)]))  # the final row reached "how"
    assert model.draft_text == "are" and model.text == "Hello world how are"
    assert (
        model.transcript().text == "Hello world how" and model.committed_text == "Hello world how"
    )
    model.end_recording()
    assert model.draft == () and model.text == "Hello world how"


def test_the_draft_takes_the_room_after_the_final_lines_and_is_cut_first():
    model = CaptionModel()
    model.add(step([Word(f"w{i}", i, i + 0.5) for i in range(40)], Word("next", 41, 41.2)))
    without = model.lines(max_lines=3, width=20)
    model.set_draft(DraftEvent(words=tuple(Word(f"d{i}", 50 + i, 50.5 + i) for i in range(30))))
    assert model.lines(max_lines=3, width=20) == without  # the final text's layout is kept
    for n in (1, 2, 3):
        shown = model.shown_lines(max_lines=n, width=20)
        lines, partial = model.lines(max_lines=n, width=20)
        assert shown.lines[-1] == lines[-1] and shown.partial == partial == "next"
        assert len(shown.lines) + len(shown.draft) - 1 == n  # the draft's lines below fill it
        assert len(f"{shown.lines[-1]} {partial} {shown.draft[0]}".strip()) <= 20
        drafted = " ".join(shown.draft).split()
        assert drafted == [f"d{i}" for i in range(len(drafted))] and len(drafted) < 30
    only = CaptionModel()  # a recording's first words: only a draft yet
    only.set_draft(DraftEvent(words=tuple(Word(f"d{i}", i, i + 0.5) for i in range(30))))
    shown = only.shown_lines(max_lines=2, width=20)
    assert shown.lines == [] and len(shown.draft) == 2 and shown.draft[0].startswith("d0 d1")
