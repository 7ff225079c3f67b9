"""Session history: autosaved recordings listed newest first with start time and duration (a
crashed one recovered from its journal); search, rename, export, delete to the trash; reopened
into the window (asked how when it shows text), refused while recording."""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest
import srt
from PySide6.QtCore import QSettings

from gui.app import VoxtralApp
from gui.history import HistoryDialog, sessions
from gui.settings import Key, Settings
from voxtral_mlx.live.autosave import Autosave
from voxtral_mlx.live.events import Status, StatusEvent, TextEvent
from voxtral_mlx.testing import FakeSoundDevice
from voxtral_mlx.text.transcript import Transcript, Word, segment_words

from .test_tray import answer_close_question


def recording(folder, texts, finished=True, mtime=None):
    words = [Word(t, i * 0.5, i * 0.5 + 0.4) for i, t in enumerate(texts)]
    save = Autosave(folder, {"source": "Mic"})
    save.source("Mic", 480, 0.0)
    save.words(words)
    if finished:
        save.close(Transcript(words, segment_words(words), duration=words[-1].end + 0.1))
    if mtime is not None:
        os.utime(save.path, (mtime, mtime))
    return save.path


def test_history_lists_opens_and_recovers(qtbot, tmp_path):
    folder = tmp_path / "autosave"
    old = recording(folder, ["Older", "words."], mtime=1_700_000_000)
    crashed = recording(folder, ["Cut", "short"], finished=False, mtime=1_700_000_500)
    found = sessions(folder)
    assert [s.journal for s in found] == [crashed, old]
    assert found[0].transcript.metadata.get("recovered") and "(recovered)" in found[0].title
    assert found[1].transcript.text == "Older words." and "0:01" in found[1].title
    assert sessions(tmp_path / "missing") == []

    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    settings.set(Key.MODEL, str(tmp_path))
    app = VoxtralApp(settings, sd=FakeSoundDevice([], -1), autosave_dir=folder, tray=False)
    qtbot.addWidget(app.window)
    app.show()
    win = app.window
    dialog = win.history_dialog()
    assert dialog.list.count() == 2 and dialog.list.currentRow() == 0
    dialog.list.setCurrentRow(1)
    dialog.accept()
    assert win.view.toPlainText() == "Older words." == win.captions.text
    assert win.captions.transcript().words == found[1].transcript.words
    app.bridge._want_listening = True  # as while recording: the text on screen stays
    assert not win.show_transcript(found[0].transcript)
    assert win.banner.isVisible() and win.view.toPlainText() == "Older words."


def started_line(journal) -> datetime:
    return datetime.fromisoformat(json.loads(journal.read_text().splitlines()[0])["started"])


def test_history_shows_start_and_duration_searches_renames_exports(qtbot, tmp_path):
    folder = tmp_path / "autosave"
    budget = recording(folder, ["Budget", "meeting", "notes."], mtime=1_700_000_000)
    recording(folder, ["Something", "else."], mtime=1_700_000_500)
    dialog = HistoryDialog(folder)
    qtbot.addWidget(dialog)
    session = next(s for s in dialog.sessions if s.journal == budget)
    start = started_line(budget).astimezone()
    assert f"{start:%H:%M}" in session.title and f"{start:%d %b %Y}" in session.title
    assert "·  0:02" in session.title  # 1.5 s long (the last word ends at 1.4 s)
    dialog.search.setText("BUDGET")
    assert [s.journal for s in dialog.visible_sessions()] == [budget]
    assert dialog.current().journal == budget and dialog.preview.toPlainText() == "Budget meeting notes."  # fmt: skip
    before = budget.read_bytes()
    dialog.rename_current("Interview  with Ana")
    assert dialog.list.currentItem().text().startswith("Interview with Ana")
    assert budget.read_bytes() == before  # the recording itself is not rewritten
    again = HistoryDialog(folder)  # remembered
    qtbot.addWidget(again)
    again.search.setText("ana")
    assert [s.name for s in again.visible_sessions()] == ["Interview with Ana"]
    srt_path = again.export_current(tmp_path / "out.srt")
    cues = list(srt.parse(srt_path.read_text()))
    assert " ".join(c.content.replace("\n", " ") for c in cues) == "Budget meeting notes."
    json_path = again.export_current(tmp_path / "out.json")
    exported = Transcript.from_dict(json.loads(json_path.read_text()))
    assert [w.text for w in exported.words] == ["Budget", "meeting", "notes."]
    again.search.setText("nothing like this")
    assert again.visible_sessions() == [] and not again.open_button.isEnabled()


@pytest.mark.parametrize("trash", [True, False])
def test_delete_moves_a_recording_to_the_trash_never_erases_it(qtbot, tmp_path, monkeypatch, trash):
    folder = tmp_path / "autosave"
    gone = recording(folder, ["Delete", "me."], mtime=1_700_000_500)
    kept = recording(folder, ["Keep", "me."], mtime=1_700_000_000)
    data = tmp_path / "data"
    if trash:
        data.mkdir()
    else:
        data.write_text("not a folder: there is no trash")
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    dialog = HistoryDialog(folder)
    qtbot.addWidget(dialog)
    dialog.list.setCurrentRow([s.journal for s in dialog.sessions].index(gone))
    dialog.rename_current("Named")
    names = {gone.name, gone.with_suffix(".json").name, gone.with_suffix(".name").name}
    dialog.delete_current()
    assert [s.journal for s in sessions(folder)] == [kept] and dialog.list.count() == 1
    assert not any((folder / n).exists() for n in names)
    where = data / "Trash" / "files" if trash else folder / "Deleted"
    assert names <= {p.name for p in where.iterdir()}  # all there, restorable
    assert (where / gone.name).read_text().count('"word"') == 2


def test_opening_a_recording_never_replaces_the_text_silently(qtbot, tmp_path):
    folder = tmp_path / "autosave"
    recording(folder, ["Older", "words."])
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    settings.set(Key.MODEL, str(tmp_path))
    app = VoxtralApp(settings, sd=FakeSoundDevice([], -1), autosave_dir=folder, tray=False)
    qtbot.addWidget(app.window)
    app.show()
    win = app.window
    win.on_event(TextEvent("", 0, 0, words=(Word("Live", 0.1, 0.4), Word("text.", 0.5, 0.9))))
    win.on_event(StatusEvent(Status.IDLE))
    older = sessions(folder)[0].transcript
    for answer, shown in (("cancel", "Live text."), ("append", "Live text.\n\nOlder words."),
                          ("replace", "Older words.")):  # fmt: skip
        asked: list[str] = []
        answer_close_question(answer, asked)
        win.show_transcript(older)
        assert asked, answer  # asked every time the window shows text
        assert win.view.toPlainText() == shown == win.captions.text, answer
