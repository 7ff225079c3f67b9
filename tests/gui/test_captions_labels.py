"""CaptionModel with two sources ("You", "Others"): a line per run of one source opened by its
label, the speaker's word in progress and draft on its own line, the other's on a line of its
own below; the overlay's rows mark the labels; the saved transcript keeps the labels and shifts
a later recording after the latest word (the words of two sources are not in time order). One
source: no labels anywhere (test_captions keeps its layout)."""

from __future__ import annotations

from gui.captions import RECORDING_GAP, CaptionModel
from gui.overlay_text import caption_html
from voxtral_mlx.live.events import DraftEvent, TextEvent
from voxtral_mlx.live.source_set import OTHERS, YOU
from voxtral_mlx.text.transcript import Transcript, Word


def step(source, words=(), partial=None):
    return TextEvent("", 0.0, 0.0, words=tuple(words), partial=partial, source=source)


def draft(source, *words: Word) -> DraftEvent:
    return DraftEvent(words=words, source=source)


def call() -> CaptionModel:
    """You say "Hi", Others say "Hello", You go on "the..." while Others build "how"."""
    model = CaptionModel()
    model.begin_recording()
    model.add(step(YOU, [Word("Hi", 0.1, 0.3)], Word("the", 0.9, 1.0)))
    model.add(step(OTHERS, [Word("Hello", 0.2, 0.6)], Word("how", 0.7, 0.8)))
    return model


def test_a_line_per_speaker_with_its_label_and_words_labelled():
    model = call()
    assert [w.source for w in model.words] == [YOU, OTHERS]  # labelled from the event
    assert model.committed_text == "You: Hi\nOthers: Hello"
    # The speaker (Others) builds "how" at the end of its line; You's "the" waits below.
    assert model.speaker == OTHERS and model.partial_text == "how"
    assert model.text == "You: Hi\nOthers: Hello how\nYou: the"
    model.set_draft(draft(OTHERS, Word("are", 0.9, 1.0, OTHERS), Word("you", 1.1, 1.2, OTHERS)))
    model.set_draft(draft(YOU, Word("there", 1.1, 1.3, YOU)))
    assert model.text == "You: Hi\nOthers: Hello how are you\nYou: the there"
    model.add(step(YOU, [Word("there", 1.1, 1.3)]))  # You speaks again: a new line
    assert model.committed_text == "You: Hi\nOthers: Hello\nYou: there"
    assert model.text == "You: Hi\nOthers: Hello\nYou: there\nOthers: how are you"
    assert model.draft_of(YOU) == ()  # its final word took the draft's copy away
    model.end_recording()
    assert model.text == model.committed_text and not model.partials and not model.drafts


def test_the_overlays_rows_open_with_bold_labels():
    model = call()
    model.set_draft(draft(YOU, Word("there", 1.1, 1.3, YOU)))
    shown = model.shown_lines(max_lines=3, width=40)
    assert shown.lines == ["You: Hi", "Others: Hello"] and shown.partial == "how"
    assert shown.draft == ["", "You: the there"]  # You's pending line, below
    assert shown.labels == (4, 7, 4)  # "You:", "Others:", "You:"
    html = caption_html(shown.lines, shown.partial, shown.draft, "#ffffff", shown.labels)
    assert html.count("<b>") == 3 and "<b>You:</b> Hi" in html and "<b>Others:</b> Hello" in html  # fmt: skip
    # Narrow: a run wraps, every line opened by its label (each line shown says who speaks);
    # the newest final line stays in sight, You's pending line below it.
    model.add(step(OTHERS, [Word(f"w{i}", 1 + i, 1.5 + i) for i in range(12)], Word("how", 20, 21)))  # fmt: skip
    narrow = model.shown_lines(max_lines=2, width=20)
    assert len(narrow.lines) == 1 and narrow.lines[0].startswith("Others: ")
    assert narrow.lines[0].endswith(" w11") and len(narrow.lines[0] + " how") <= 20
    assert narrow.partial == "how" and narrow.draft == ["", "You: the there"]
    assert narrow.labels == (7, 4)
    wide = model.shown_lines(max_lines=3, width=20)
    rows = [*wide.lines, *wide.draft[1:]]
    assert len(rows) == 3 and all(row.startswith(("You: ", "Others: ")) for row in rows)
    assert all(len(row) <= 20 for row in rows[:-1]) and len(rows[1] + " how") <= 20


def test_only_a_draft_or_word_in_progress_still_opens_with_its_label():
    model = CaptionModel()
    model.begin_recording()
    model.set_draft(draft(OTHERS, Word("soon", 0.1, 0.3, OTHERS)))
    assert model.text == "Others: soon"
    shown = model.shown_lines(max_lines=2, width=40)
    assert shown.lines == ["Others:"] and shown.draft == ["soon"] and shown.labels == (7,)
    model.add(step(YOU, partial=Word("Hel", 0.2, 0.3)))
    assert model.text == "You: Hel\nOthers: soon"  # the microphone's first


def test_the_saved_transcript_keeps_labels_and_the_next_recording_follows_the_latest_word():
    model = CaptionModel()
    model.begin_recording()
    model.add(step(OTHERS, [Word("long", 0.5, 4.0)]))  # ends after the word that came last
    model.add(step(YOU, [Word("short", 1.0, 1.5)]))
    model.end_recording()
    model.add(step(YOU, [Word("again", 0.2, 0.4)]))
    saved = model.transcript(delay_ms=480)
    again = [w for w in saved.words if w.text == "again"][0]
    assert again.start == 4.0 + RECORDING_GAP + 0.2 and again.source == YOU
    assert saved.duration == again.end and saved.labelled
    assert {s.source for s in saved.segments} == {YOU, OTHERS}
    assert Transcript.from_dict(saved.to_dict()).words == saved.words
