"""Session history: autosaved recordings listed newest first (a crashed one recovered from its
journal), reopened into the window, refused while recording."""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings

from gui.app import VoxtralApp
from gui.history import sessions
from gui.settings import Key, Settings
from voxtral_mlx.live_autosave import Autosave
from voxtral_mlx.transcript import Transcript, Word, segment_words

from ..fake_sounddevice import FakeSoundDevice


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
