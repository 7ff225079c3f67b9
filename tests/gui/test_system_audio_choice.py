""" "Computer audio" in the microphone picker: listed after the microphones where the system has
a source for it (Linux: SystemAudioSource), recorded with the same Start/Stop, captions and
autosave as a microphone, switched to while listening, and remembered like a device. The real
transcriber and tiny checkpoint of test_main_window; the computer's audio is a fake source made
by the bridge's ``system_audio`` seam (the real one on a real server:
tests/reference/test_system_audio_e2e.py)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from gui.bridge import COMPUTER_AUDIO, EngineBridge, system_audio_factory
from gui.settings import Key
from tests.gui.test_main_window import make_app, speech_device, threads_back  # noqa: F401
from tests.live.test_engine import SPEECH, folder  # noqa: F401  (folder: the tiny checkpoint)
from voxtral_mlx.audio.sources import IteratorSource
from voxtral_mlx.audio.system import SystemAudioSource


class ComputerAudio:
    """Stands in for SystemAudioSource: each source plays the speech, 4 x real time."""

    def __init__(self):
        self.made: list[IteratorSource] = []

    def __call__(self) -> IteratorSource:
        chunks = [SPEECH[i : i + 1600] for i in range(0, len(SPEECH), 1600)]
        source = IteratorSource(chunks + [np.zeros(1600, np.float32)] * 40, realtime=True,
                                speed=4.0, name="system audio")  # fmt: skip
        self.made.append(source)
        return source


def entries(win) -> list[tuple[str, str]]:
    box = win.device_box
    return [(box.itemText(i), box.itemData(i)) for i in range(box.count())]


def offer_computer_audio(app) -> ComputerAudio:
    fake = app.bridge.system_audio = ComputerAudio()
    app.window.refresh_devices()
    return fake


def test_computer_audio_is_listed_recorded_and_saved_like_a_microphone(make_app, qtbot):  # noqa: F811
    app = make_app(speech_device())
    win = app.window
    assert COMPUTER_AUDIO not in [data for _, data in entries(win)]  # a fake sd: none by default
    fake = offer_computer_audio(app)
    assert entries(win)[-1] == ("Computer audio", COMPUTER_AUDIO)
    assert [data for _, data in entries(win)] == ["", "USB Mic", COMPUTER_AUDIO]
    win.device_box.setCurrentIndex(win.device_box.findData(COMPUTER_AUDIO))
    assert app.settings.get(Key.DEVICE) == COMPUTER_AUDIO  # remembered like a device
    win.start()
    qtbot.waitUntil(lambda: len(win.captions.words) >= 2, timeout=20000)
    assert win.status_label.text() == "Listening to system audio"
    assert len(fake.made) == 1 and not app.bridge.sd.streams  # no microphone was opened
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
    win.device_box.setCurrentIndex(win.device_box.findData(COMPUTER_AUDIO))
    qtbot.waitUntil(lambda: win.status_label.text() == "Listening to system audio", timeout=20000)
    assert len(fake.made) == 1 and app.bridge.listening
    win.stop()
    qtbot.waitUntil(lambda: not app.bridge.busy, timeout=20000)


def test_the_choice_is_remembered_across_runs(make_app):  # noqa: F811
    first = make_app()
    offer_computer_audio(first)
    first.window.device_box.setCurrentIndex(first.window.device_box.findData(COMPUTER_AUDIO))
    second = make_app()  # the same settings file
    offer_computer_audio(second)
    assert second.window.current_device() == COMPUTER_AUDIO
    assert second.window.device_box.currentText() == "Computer audio"


def test_the_real_source_is_linux_only(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    assert system_audio_factory() is SystemAudioSource
    bridge = EngineBridge()  # the real sounddevice: the real system-audio source
    try:
        assert bridge.system_audio is SystemAudioSource
        assert isinstance(bridge._source(COMPUTER_AUDIO), SystemAudioSource)  # not opened
    finally:
        bridge.deleteLater()
    monkeypatch.setattr(sys, "platform", "darwin")
    assert system_audio_factory() is None
    bridge = EngineBridge()
    try:
        assert bridge.system_audio is None  # no "Computer audio" entry on macOS yet
    finally:
        bridge.deleteLater()


@pytest.mark.parametrize("factory", [None, ComputerAudio()])
def test_no_entry_without_a_source(make_app, factory):  # noqa: F811
    app = make_app(speech_device())
    app.bridge.system_audio = factory
    app.window.refresh_devices()
    listed = COMPUTER_AUDIO in [data for _, data in entries(app.window)]
    assert listed == (factory is not None)
