"""The main window with the real LiveTranscriber, a tiny checkpoint and the fake sound device:
captions appear, Stop flushes the last words, Save writes each format, a lost device shows a
banner and keeps the text, closing while recording ends the transcriber quickly, and the GUI
process does not import mlx until the transcriber's thread loads the model."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import srt
import webvtt
from PySide6.QtCore import QSettings, Qt

from gui.app import VoxtralApp
from gui.settings import Key, Settings
from tests.live.test_engine import SPEECH, Loader, folder  # noqa: F401  (folder: the tiny checkpoint)
from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.testing import FakeDevice, FakeSoundDevice, stereo_at
from voxtral_mlx.text.transcript import Transcript

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def threads_back():
    before = threading.active_count()
    yield
    # The transcriber's and the fake device's threads have all ended.
    deadline = threading.Event()
    for _ in range(500):
        if threading.active_count() <= before:
            break
        deadline.wait(0.01)
    assert threading.active_count() <= before, threading.enumerate()


@pytest.fixture
def make_app(qtbot, tmp_path, folder):  # noqa: F811
    apps = []

    def make(*devices: FakeDevice, tray: bool | None = False) -> VoxtralApp:
        settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
        # These tests were written at 480 ms (the tiny model's words come sooner than at the
        # live default of 2400 ms with drafts).
        if not settings.store.contains(Key.DELAY_MS.value):
            settings.set(Key.DELAY_MS, 480)
        app = VoxtralApp(settings, model_loader=Loader(folder), sd=FakeSoundDevice(list(devices), 0 if devices else -1),
                         autosave_dir=tmp_path / "autosave", tray=tray)  # fmt: skip
        qtbot.addWidget(app.window)
        app.show()
        apps.append(app)
        return app

    yield make
    for app in apps:  # never leave a transcriber running into the next test
        app.shutdown(10)
        # The fake keeps its streams, whose callbacks hold MicSources and their soxr
        # resamplers; let them go now (nanobind reports native objects alive at exit).
        app.bridge.sd.streams.clear()
        if app.tray is not None:
            app.tray.dispose()
    gc.collect()


def speech_device(**kw) -> FakeDevice:
    return FakeDevice("USB Mic", signal=stereo_at(SPEECH, 48000), speed=4.0, **kw)


def test_captions_appear_stop_flushes_and_save_writes_each_format(
    make_app, qtbot, tmp_path, threads_back
):
    dev = speech_device()
    app = make_app(dev)
    win = app.window
    assert win.device_box.findData("USB Mic") >= 0
    win.device_box.setCurrentIndex(win.device_box.findData("USB Mic"))
    qtbot.mouseClick(win.start_button, Qt.MouseButton.LeftButton)
    assert win.start_button.text() == "Stop"
    qtbot.waitUntil(lambda: len(win.captions.words) >= 2, timeout=20000)
    assert win.status_label.text() == "Listening to USB Mic"
    assert app.bridge._loader.threads == ["voxtral-live"]  # loaded (MLX) on the engine's thread
    assert win.view.toPlainText().startswith(win.captions.committed_text)
    assert dev.played.wait(20)
    qtbot.waitUntil(lambda: win.meter.value() > -60 and "lag" in win.lag_label.text())
    with qtbot.waitSignal(app.bridge.listening_changed, timeout=20000):
        win.stop()
    # Each receiver of a queued event gets its own call: wait for what the window shows.
    qtbot.waitUntil(
        lambda: win.last_saved is not None and win.status_label.text() == "Ready", timeout=20000
    )
    # Stop flushed the last words: what the window shows is the engine's whole transcript.
    final = app.bridge.live.transcript
    assert final.words and win.captions.words == final.words
    assert win.captions.partial is None
    assert win.view.toPlainText() == final.text == win.captions.committed_text
    assert win.status_label.text() == "Ready" and win.start_button.text() == "Start"
    assert win.last_saved.is_file() and str(win.last_saved) in win.saved_label.toolTip()
    # Copy takes what is shown; Save writes each format, read back with independent parsers.
    win.copy()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == final.text
    out = tmp_path / "out"
    out.mkdir()
    assert win.save_to(out / "t.txt").read_text().split() == final.text.split()
    cues = list(srt.parse(win.save_to(out / "t.srt").read_text()))
    assert " ".join(c.content.replace("\n", " ") for c in cues).split() == final.text.split()
    vtt = webvtt.read(str(win.save_to(out / "t.vtt")))
    assert " ".join(c.text.replace("\n", " ") for c in vtt).split() == final.text.split()
    saved = Transcript.from_dict(json.loads(win.save_to(out / "t.json").read_text()))
    assert saved.words == final.words and saved.metadata["delay_ms"] == 480
    # A second recording starts a new paragraph; Clear empties view and model.
    win.activateWindow()  # shortcuts work in the active window
    qtbot.waitUntil(win.isActiveWindow)
    qtbot.keyClick(win, Qt.Key.Key_Space)  # the Space shortcut starts again
    qtbot.waitUntil(lambda: len(win.captions.paragraphs()) == 2, timeout=20000)
    assert "\n\n" in win.view.toPlainText()
    win.stop()
    qtbot.waitUntil(lambda: not app.bridge.listening and not win.captions.recording, timeout=20000)
    win.clear()
    assert win.view.toPlainText() == "" and win.captions.is_empty
    app.shutdown(10)


def test_closing_while_recording_ends_within_2_s_and_leaves_no_thread(
    make_app, qtbot, threads_back
):
    app = make_app(speech_device())
    win = app.window
    with qtbot.waitSignal(app.bridge.listening_changed, timeout=20000):
        win.start()
    qtbot.waitUntil(lambda: len(win.captions.words) >= 1, timeout=20000)
    with qtbot.waitSignal(win.closed, timeout=2000):
        win.close()  # returns at once; the window closes once the last words are flushed
    assert not win.isVisible()
    assert app.bridge.join(0.5) and not app.bridge.running
    assert win.last_saved is not None and win.last_saved.exists()
    assert app.settings.get(Key.DEVICE) == ""


def test_settings_are_used_and_kept(make_app, qtbot):
    app = make_app(FakeDevice("Built-in"), FakeDevice("USB Mic"))
    win = app.window
    win.delay_box.setValue(960)
    win.delay_box.editingFinished.emit()
    win.device_box.setCurrentIndex(win.device_box.findData("USB Mic"))
    win.close()
    again = make_app(FakeDevice("Built-in"), FakeDevice("USB Mic")).window
    assert again.delay_box.value() == 960 and again.current_device() == "USB Mic"
    again.delay_box.setValue(1000)  # off the 80 ms grid: snapped
    again.delay_box.editingFinished.emit()
    assert again.delay_box.value() == 960 + 80 * round(40 / 80)


def test_auto_scroll_pauses_when_scrolled_up(make_app, qtbot):
    win = make_app().window
    view = win.view
    for i in range(200):
        view.update_text([f"word{i}"] * 5, "part")
    bar = view.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()
    bar.setValue(0)
    view.update_text(["more"] * 20, "x")
    assert bar.value() == 0 and not view.follow
    bar.setValue(bar.maximum())
    view.update_text(["more"] * 20, "y")
    assert bar.value() == bar.maximum() and view.follow
    assert view.toPlainText().endswith("more y")


def test_the_gui_process_does_not_import_mlx(tmp_path):
    code = (
        "import sys\n"
        "from PySide6.QtCore import QSettings\n"
        "from PySide6.QtWidgets import QApplication\n"
        "qt = QApplication([])\n"
        "from gui.app import VoxtralApp\n"
        "from gui.settings import Settings\n"
        f"s = Settings(QSettings({str(tmp_path / 's.ini')!r}, QSettings.Format.IniFormat))\n"
        "app = VoxtralApp(s, tray=True)\n"
        "app.show(); qt.processEvents()\n"
        "assert app.window.isVisible()\n"
        "print('mlx' in sys.modules, sorted(m for m in sys.modules if m.startswith('mlx')))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False []"


def test_zoom_changes_the_transcript_font_and_is_remembered(make_app, qtbot):
    win = make_app().window
    win.activateWindow()  # shortcuts work in the active window
    qtbot.waitUntil(win.isActiveWindow)
    start = win.settings.get(Key.FONT_SIZE)
    qtbot.keyClick(win, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert win.settings.get(Key.FONT_SIZE) == start + 2 == win.view.font().pointSize()
    qtbot.keyClick(win, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert win.view.font().pointSize() == start
    for _ in range(60):
        win.zoom(2)
    assert win.view.font().pointSize() == 64
    assert make_app().window.view.font().pointSize() == 64  # the next start keeps it


def test_the_word_in_progress_follows_a_palette_change(make_app, qtbot):
    from PySide6.QtGui import QColor, QPalette

    view = make_app().window.view
    view.update_text(["Hello"], "wor")
    dark = QPalette(view.palette())
    dark.setColor(QPalette.ColorRole.PlaceholderText, QColor("#8899aa"))
    view.setPalette(dark)  # what a switch to dark mode does
    view.update_text([], "world")
    cursor = view.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    assert cursor.charFormat().foreground().color() == QColor("#8899aa")
    assert cursor.charFormat().fontItalic() and view.toPlainText() == "Hello world"


def test_offline_model_error_names_the_apps_control_not_a_flag(make_app, qtbot, threads_back):
    """The library's error (shared with the CLI) says 'pass --model'; the app says what to
    press, for a load that fails on the transcriber's thread and for a failed download."""
    from voxtral_mlx.checkpoint.resolve import resolve

    def offline(**kw):
        raise OSError("offline")

    def load():
        resolve("mistralai/Voxtral-Mini-4B-Realtime-2602", download=offline)

    app = make_app(speech_device())
    win = app.window
    app.bridge._loader = load
    win.start()
    qtbot.waitUntil(lambda: win.banner.isVisible(), timeout=20000)
    text = win.banner.label.text()
    assert "choose a model folder (Model…)" in text and "--" not in text, text
    win.banner.hide()
    try:
        load()
    except VoxtralError as err:
        win._download_finished(False, str(err))
    text = win.banner.label.text()
    assert "choose a model folder (Model…)" in text and "--" not in text, text
