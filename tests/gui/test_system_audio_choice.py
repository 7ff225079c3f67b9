""" "Listen to: Computer audio": offered where the system has a source for it (Linux:
SystemAudioSource; elsewhere shown disabled, saying why), recorded with the same Start/Stop,
captions and autosave as a microphone, switched to while listening, and remembered (an older
version's "Computer audio" entry of the microphone picker too). The real transcriber and tiny
checkpoint of test_main_window; the computer's audio is a fake source made by the bridge's
``system_audio`` seam (the real one on a real server: tests/reference/test_system_audio_e2e.py)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from PySide6.QtCore import Qt

from gui.bridge import COMPUTER_AUDIO, EngineBridge, system_audio_factory, system_audio_missing
from gui.settings import Key
from gui.sources import BOTH, COMPUTER, MICROPHONE
from tests.gui.test_main_window import make_app, speech_device, threads_back  # noqa: F401
from tests.live.test_engine import SPEECH, folder  # noqa: F401  (folder: the tiny checkpoint)
from voxtral_mlx.audio.mic import MicSource
from voxtral_mlx.audio.sources import IteratorSource
from voxtral_mlx.audio.system import SystemAudioSource


class ComputerAudio:
    """Stands in for SystemAudioSource: each source plays ``audio`` (default: the speech),
    4 x real time."""

    def __init__(self, audio: np.ndarray | None = None):
        self.audio = SPEECH if audio is None else audio
        self.made: list[IteratorSource] = []

    def __call__(self) -> IteratorSource:
        chunks = [self.audio[i : i + 1600] for i in range(0, len(self.audio), 1600)]
        source = IteratorSource(chunks + [np.zeros(1600, np.float32)] * 40, realtime=True,
                                speed=4.0, name="system audio")  # fmt: skip
        self.made.append(source)
        return source


def entries(win) -> list[tuple[str, str, bool, str]]:
    """The "Listen to" choices: (text, value, enabled, tooltip)."""
    box = win.source_box
    return [(box.itemText(i), box.itemData(i), box.model().item(i).isEnabled(),
             box.itemData(i, Qt.ItemDataRole.ToolTipRole)) for i in range(box.count())]  # fmt: skip


def offer_computer_audio(app, audio: np.ndarray | None = None) -> ComputerAudio:
    fake = app.bridge.system_audio = ComputerAudio(audio)
    app.window.refresh_devices()
    return fake


def choose(win, listen: str) -> None:
    """Pick ``listen`` in the "Listen to" box, as the user does."""
    win.source_box.setCurrentIndex(win.source_box.findData(listen))


def test_computer_audio_is_chosen_recorded_and_saved_like_a_microphone(make_app, qtbot):  # noqa: F811
    app = make_app(speech_device())
    win = app.window
    listed = entries(win)
    assert [(text, value) for text, value, _, _ in listed] == [
        ("Microphone", MICROPHONE), ("Computer audio", COMPUTER), ("Both", BOTH)]  # fmt: skip
    assert [enabled for _, _, enabled, _ in listed] == [True, False, False]  # a fake sd: no source
    fake = offer_computer_audio(app)
    assert [enabled for _, _, enabled, _ in entries(win)] == [True, True, True]
    assert [data for data in map(win.device_box.itemData, range(win.device_box.count()))] == ["", "USB Mic"]  # fmt: skip
    choose(win, COMPUTER)
    assert app.settings.get(Key.LISTEN_TO) == COMPUTER  # remembered
    assert not win.device_box.isEnabled()  # the microphone is not used
    win.start()
    qtbot.waitUntil(lambda: len(win.captions.words) >= 2, timeout=20000)
    assert win.status_label.text() == "Listening to system audio"
    assert len(fake.made) == 1 and not app.bridge.sd.streams  # no microphone was opened
    assert all(w.source is None for w in win.captions.words)  # one source: no labels
    assert "You:" not in win.view.toPlainText() and not win.meters.labelled
    win.stop()
    qtbot.waitUntil(
        lambda: win.last_saved is not None and win.status_label.text() == "Ready", timeout=20000
    )
    saved = json.loads(win.last_saved.read_text())
    assert saved["metadata"]["source"] == "system audio"
    assert win.captions.words == app.bridge.live.transcript.words


def test_switching_to_computer_audio_while_listening_goes_on_with_it(make_app, qtbot):  # noqa: F811
    app = make_app(speech_device())
    win = app.window
    fake = offer_computer_audio(app)
    win.device_box.setCurrentIndex(win.device_box.findData("USB Mic"))
    win.start()
    qtbot.waitUntil(lambda: win.status_label.text() == "Listening to USB Mic", timeout=20000)
    choose(win, COMPUTER)
    qtbot.waitUntil(lambda: win.status_label.text() == "Listening to system audio", timeout=20000)
    assert len(fake.made) == 1 and app.bridge.listening
    win.stop()
    qtbot.waitUntil(lambda: not app.bridge.busy, timeout=20000)


def test_the_choice_is_remembered_across_runs(make_app):  # noqa: F811
    first = make_app(speech_device())
    offer_computer_audio(first)
    first.window.device_box.setCurrentIndex(first.window.device_box.findData("USB Mic"))
    choose(first.window, BOTH)
    second = make_app(speech_device())  # the same settings file
    offer_computer_audio(second)
    assert second.window.listen_to() == BOTH and second.window.source_box.currentText() == "Both"
    assert second.window.current_device() == "USB Mic"  # the microphone of "Both"
    choose(second.window, COMPUTER)
    third = make_app(speech_device())
    offer_computer_audio(third)
    assert third.window.listen_to() == COMPUTER
    assert third.window.current_device() == "USB Mic"  # kept for when the microphone is back


def test_an_older_versions_computer_audio_device_is_the_computer_audio(make_app):  # noqa: F811
    first = make_app()
    first.settings.set(Key.DEVICE, COMPUTER_AUDIO)  # what the microphone picker kept before
    again = make_app()
    offer_computer_audio(again)
    assert again.window.listen_to() == COMPUTER and again.window.current_device() == ""
    assert again.settings.get(Key.LISTEN_TO) == COMPUTER and again.settings.get(Key.DEVICE) == ""


def test_the_real_source_is_linux_only(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    assert system_audio_factory() is SystemAudioSource  # pactl and parec are installed here
    bridge = EngineBridge()  # the real sounddevice: the real system-audio source
    try:
        assert bridge.system_audio is SystemAudioSource and bridge.computer_audio_missing == ""
        assert isinstance(bridge._source(None, COMPUTER), SystemAudioSource)  # not opened
        assert isinstance(bridge._source(COMPUTER_AUDIO), SystemAudioSource)  # an older choice
        both = bridge._source("USB Mic", BOTH)
        assert list(both) == ["You", "Others"] and isinstance(both["Others"], SystemAudioSource)
        assert isinstance(both["You"], MicSource)
    finally:
        bridge.deleteLater()
    monkeypatch.setattr(sys, "platform", "win32")
    assert system_audio_factory() is None
    bridge = EngineBridge()
    try:
        assert bridge.system_audio is None  # no computer audio here
        assert bridge.computer_audio_missing == "Computer audio is not available on this system"
        assert isinstance(bridge._source(None, BOTH), MicSource)  # the microphone alone
    finally:
        bridge.deleteLater()


def test_on_macos_screencapturekit_through_pyobjc(monkeypatch):
    """macOS: MacSystemAudioSource where PyObjC's ScreenCaptureKit is installed on macOS 13+
    (looked for, not imported: the source imports it when it opens); else why not."""
    from voxtral_mlx.audio import system_mac_words
    from voxtral_mlx.audio.system_mac import MacSystemAudioSource

    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(system_mac_words, "macos_version", lambda: (15, 3))
    found = {"ScreenCaptureKit": None}
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: found.get(name, object()))
    assert system_audio_factory() is None and "pyobjc-framework-ScreenCaptureKit" in system_audio_missing()  # fmt: skip
    found["ScreenCaptureKit"] = object()  # installed
    assert system_audio_factory() is MacSystemAudioSource and system_audio_missing() == ""
    assert "ScreenCaptureKit" not in sys.modules  # only looked for
    monkeypatch.setattr(system_mac_words, "macos_version", lambda: (12, 7))
    assert system_audio_missing() == "Computer audio needs macOS 13 or later"


def test_without_pulseaudio_tools_there_is_no_source_and_it_says_why(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr("shutil.which", lambda tool: None if tool == "parec" else f"/usr/bin/{tool}")  # fmt: skip
    assert system_audio_factory() is None
    assert "pactl and parec" in system_audio_missing()


@pytest.mark.parametrize("factory", [None, ComputerAudio()])
def test_computer_audio_and_both_are_disabled_without_a_source(make_app, factory, qtbot):  # noqa: F811
    app = make_app(speech_device())
    app.bridge.system_audio = factory
    app.window.refresh_devices()
    listed = entries(app.window)
    assert [enabled for _, _, enabled, _ in listed] == [True, factory is not None, factory is not None]  # fmt: skip
    why = [tip for _, value, _, tip in listed if value != MICROPHONE]
    if factory is None:  # the tooltip says why
        assert why == [app.bridge.computer_audio_missing] * 2 and why[0]
        choose(app.window, BOTH)  # a disabled item cannot be chosen from code either
        app.window.set_listen_to(BOTH)
        assert app.window.listen_to() == MICROPHONE
