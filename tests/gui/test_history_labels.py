"""History of a recording of two sources at once (microphone "You", computer audio "Others"):
the preview shows a labelled line per turn, the title runs them on one line, the search looks at
the words (not the labels), export keeps the labels; a one-source recording shows as before."""

from __future__ import annotations

import srt

from gui.history import HistoryDialog, sessions
from voxtral_mlx.live.autosave import Autosave
from voxtral_mlx.text.transcript import Transcript, Word

CALL = [
    Word("Hi,", 0.0, 0.3, "You"),
    Word("there.", 0.4, 0.7, "You"),
    Word("Hello", 1.0, 1.3, "Others"),
    Word("again.", 1.4, 1.8, "Others"),
    Word("Budget?", 3.0, 3.5, "You"),
]
TURNS = "You: Hi, there.\nOthers: Hello again.\nYou: Budget?"


def labelled_recording(folder, finished=True):
    save = Autosave(folder, {"source": "Mic + computer audio"})
    save.source("Mic", 480, 0.0)
    save.words([w for w in CALL if w.source == "Others"])  # journaled out of time order
    save.words([w for w in CALL if w.source == "You"])
    if finished:
        save.close(Transcript.from_words(CALL, duration=4.0))
    return save.path


def test_a_labelled_recording_previews_its_turns(qtbot, tmp_path):
    folder = tmp_path / "autosave"
    labelled_recording(folder)
    session = sessions(folder)[0]
    assert session.transcript.text == TURNS
    assert session.title.split("\n")[1] == TURNS.replace("\n", " ")  # one line in the list
    dialog = HistoryDialog(folder)
    qtbot.addWidget(dialog)
    assert dialog.preview.toPlainText() == TURNS
    dialog.search.setText("you")  # only the labels say "you": no match
    assert dialog.visible_sessions() == []
    dialog.search.setText("hello AGAIN")
    assert len(dialog.visible_sessions()) == 1
    cues = list(srt.parse(dialog.export_current(tmp_path / "call.srt").read_text()))
    assert [c.content for c in cues] == ["You: Hi, there.", "Others: Hello again.", "You: Budget?"]


def test_a_crashed_labelled_recording_recovers_its_labels(qtbot, tmp_path):
    folder = tmp_path / "autosave"
    labelled_recording(folder, finished=False)
    dialog = HistoryDialog(folder)
    qtbot.addWidget(dialog)
    assert dialog.preview.toPlainText() == TURNS
    assert "(recovered)" in dialog.current().title


def test_a_one_source_recording_shows_no_labels(qtbot, tmp_path):
    folder = tmp_path / "autosave"
    save = Autosave(folder)
    words = [Word(w.text, w.start, w.end) for w in CALL]
    save.words(words)
    save.close(Transcript.from_words(words, duration=4.0))
    dialog = HistoryDialog(folder)
    qtbot.addWidget(dialog)
    assert dialog.preview.toPlainText() == "Hi, there. Hello again. Budget?"
    assert dialog.current().title.endswith("\nHi, there. Hello again. Budget?")
