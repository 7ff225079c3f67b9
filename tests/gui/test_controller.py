"""The controller's logic through the real app (the real LiveTranscriber, a tiny checkpoint, the
fake sound device): a lost or stalled microphone is waited for and said so, a missing or busy
one says what to do, the silence hint shows only while true, the picker rescans only when not
recording, and what is shown saves with whole-ms word times."""

# ruff: noqa: F811  (the fixtures imported from test_main_window are the tests' parameters)
from __future__ import annotations

import json

import numpy as np
from PySide6.QtCore import Qt

from tests.live.test_engine import SPEECH
from voxtral_mlx.live.events import (
    AudioState,
    ErrorEvent,
    HintEvent,
    MeterEvent,
    Status,
    StatusEvent,
)
from voxtral_mlx.testing import FakeDevice, stereo_at
from voxtral_mlx.text.transcript import Word

from .test_main_window import folder, make_app, speech_device, threads_back  # noqa: F401


def test_a_lost_device_keeps_the_session_waiting_and_listening_resumes_when_it_is_back(
    make_app, qtbot, threads_back
):
    """Unplugged mid-recording: an error banner once, the status says the device is lost and
    what to do, still listening with the text kept; plugged back in, the same recording goes on
    (the same paragraph, more words); lost again, choosing another microphone resumes, and
    Stop answers within 2 s."""
    dev = speech_device(vanish_after=2.0)
    app = make_app(dev, FakeDevice("Built-in", signal=stereo_at(SPEECH, 48000), speed=4.0))
    win = app.window
    win.device_box.setCurrentIndex(win.device_box.findData("USB Mic"))
    win.start()
    lost = "Device lost: waiting for it (or choose another microphone)"
    qtbot.waitUntil(lambda: win.status_label.text() == lost, timeout=20000)
    assert win.banner.kind == "error" and "Device lost: microphone 'USB Mic'" in win.banner.label.text()  # fmt: skip
    assert app.overlay.state == "Device lost: waiting for it"
    assert app.bridge.listening and win.start_button.text() == "Stop" and win.captions.words
    assert win.view.toPlainText() == win.captions.text
    shown = len(win.captions.words)
    app.bridge.sd.plug(dev, vanish_after=2.0)  # back within the 2 s it is looked for
    qtbot.waitUntil(lambda: win.status_label.text() == "Listening to USB Mic", timeout=10000)
    assert win.banner.kind == "hint" and "'USB Mic' is back" in win.banner.label.text()
    qtbot.waitUntil(lambda: len(win.captions.words) > shown, timeout=20000)
    assert "\n\n" not in win.view.toPlainText()  # one recording, one paragraph
    qtbot.waitUntil(lambda: win.status_label.text() == lost, timeout=20000)  # lost again
    win.device_box.setCurrentIndex(win.device_box.findData("Built-in"))  # another microphone
    qtbot.waitUntil(lambda: win.status_label.text() == "Listening to Built-in", timeout=2000)
    assert app.overlay.state == ""
    with qtbot.waitSignal(app.bridge.listening_changed, timeout=2000):
        qtbot.mouseClick(win.start_button, Qt.MouseButton.LeftButton)  # Stop
    qtbot.waitUntil(lambda: win.status_label.text() == "Ready", timeout=2000)
    assert win.captions.words and win.view.toPlainText() == win.captions.text
    app.shutdown(10)


def test_a_stalled_microphone_is_shown_once_and_stop_start_quit_answer_within_2_s(
    make_app, qtbot, threads_back
):
    """A suspended source: one error banner, the status says so (not "Listening"), the text
    stays; audio flowing again is shown and captioned; Stop, Start, choosing another
    microphone and Quit work within 2 s while it is stalled (PortAudio's stop() would block
    until it comes back)."""
    dev = speech_device(stall_after=1.5)
    app = make_app(dev, FakeDevice("Built-in", signal=stereo_at(SPEECH, 48000), speed=4.0))
    try:
        stall_resume_stall_stop_start_quit(app, dev, qtbot)
    finally:
        dev.resume()  # the streams left behind close, their threads end


def stall_resume_stall_stop_start_quit(app, dev, qtbot) -> None:
    win = app.window
    win.device_box.setCurrentIndex(win.device_box.findData("USB Mic"))
    win.start()
    stalled = "No audio from USB Mic: waiting for it"
    qtbot.waitUntil(lambda: win.status_label.text().startswith(stalled), timeout=20000)
    assert win.banner.kind == "error" and "'USB Mic' stopped delivering audio" in win.banner.label.text()  # fmt: skip
    assert app.bridge.listening and win.start_button.text() == "Stop" and win.captions.words
    shown = len(win.captions.words)
    dev.resume()
    qtbot.waitUntil(lambda: win.status_label.text() == "Listening to USB Mic", timeout=20000)
    assert win.banner.kind == "hint" and "delivers audio again" in win.banner.label.text()
    qtbot.waitUntil(lambda: len(win.captions.words) > shown, timeout=20000)
    dev.suspend()
    qtbot.waitUntil(lambda: win.status_label.text().startswith(stalled), timeout=20000)
    with qtbot.waitSignal(app.bridge.listening_changed, timeout=2000):
        qtbot.mouseClick(win.start_button, Qt.MouseButton.LeftButton)  # Stop
    qtbot.waitUntil(lambda: win.status_label.text() == "Ready", timeout=2000)
    assert win.start_button.text() == "Start"
    assert win.captions.words == app.bridge.live.transcript.words and win.last_saved.is_file()
    with qtbot.waitSignal(app.bridge.listening_changed, timeout=2000):
        qtbot.mouseClick(win.start_button, Qt.MouseButton.LeftButton)  # Start: still stalled
    qtbot.waitUntil(lambda: win.status_label.text().startswith(stalled), timeout=20000)
    win.device_box.setCurrentIndex(win.device_box.findData("Built-in"))  # another microphone
    qtbot.waitUntil(lambda: win.status_label.text() == "Listening to Built-in", timeout=2000)
    with qtbot.waitSignal(win.closed, timeout=2000):
        app.quit()
    assert app.bridge.join(0.5)


def test_word_times_in_saved_json_are_whole_ms(make_app, tmp_path):
    win = make_app().window
    from voxtral_mlx.live.events import TextEvent

    win.on_event(TextEvent("", 0, 0, words=(Word("a", 0.1, 0.2),)))
    path = win.save_to(tmp_path / "a.json")
    assert json.loads(path.read_text())["segments"][0]["words"] == [{"text": "a", "start": 0.1, "end": 0.2}]  # fmt: skip


def test_no_microphone_or_a_busy_one_shows_what_to_do(make_app, qtbot, threads_back):
    app = make_app()  # no input devices at all
    win = app.window
    assert win.device_box.count() == 1  # only "System default microphone"
    win.start()
    qtbot.waitUntil(lambda: win.banner.isVisible() and win.status_label.text() == "Ready", timeout=20000)  # fmt: skip
    assert win.banner.kind == "error" and "no microphone found" in win.banner.label.text()
    assert win.start_button.text() == "Start" and not app.bridge.busy
    busy = FakeDevice(
        "USB Mic", open_error=("Error opening InputStream: Device unavailable", -9985)
    )
    app.bridge.sd.devices.append(busy)
    app.bridge.sd._default_input = 0
    win.refresh_devices()
    win.device_box.setCurrentIndex(win.device_box.findData("USB Mic"))
    win.start()  # the model is loaded already: the error comes straight away
    qtbot.waitUntil(lambda: "busy or unavailable" in win.banner.label.text(), timeout=20000)
    qtbot.waitUntil(lambda: win.start_button.text() == "Start", timeout=20000)
    app.shutdown(10)


def test_picker_finds_a_microphone_plugged_in_later_but_not_while_listening(make_app, qtbot):
    app = make_app(speech_device())
    win, sd = app.window, app.bridge.sd

    def names():
        return [win.device_box.itemData(i) for i in range(win.device_box.count())]

    assert sd.reinits == 0  # start-up lists what PortAudio found at import, no rescan
    sd.devices.append(FakeDevice("Headset"))  # plugged in while the app runs
    assert "Headset" not in names()
    win.device_box.about_to_open.emit()  # the user opens the picker: PortAudio looks again
    assert "Headset" in names()
    win.device_box.setCurrentIndex(win.device_box.findData("USB Mic"))
    win.start()
    qtbot.waitUntil(lambda: app.bridge.listening, timeout=20000)
    reinits = sd.reinits
    sd.devices.append(FakeDevice("Webcam Mic"))
    win.device_box.about_to_open.emit()
    assert "Webcam Mic" not in names()  # not while recording: the open stream would break
    assert sd.reinits == reinits and not sd.reinit_under_stream
    win.stop()
    qtbot.waitUntil(
        lambda: not app.bridge.busy and all(s.closed for s in sd.streams), timeout=20000
    )
    win.device_box.about_to_open.emit()
    assert "Webcam Mic" in names() and not sd.reinit_under_stream


def test_silence_banner_only_while_true_and_gone_when_sound_comes(make_app, qtbot, threads_back):
    """The real transcriber on a virtual microphone: 2.6 s of digital silence (speech not
    played yet), then speech. The silence hint shows during the silence and goes when the
    speech comes (a hint that stays true, or an error that replaced it, stays)."""
    silence = np.zeros(int(2.6 * 16000), np.float32)
    signal = stereo_at(np.concatenate([silence, SPEECH[:16000]]), 48000)
    dev = FakeDevice("USB Mic", signal=signal, speed=1.0)
    app = make_app(dev)
    win = app.window
    win.start()
    qtbot.waitUntil(lambda: "delivers only silence" in win.banner.label.text() and win.banner.isVisible(), timeout=20000)  # fmt: skip
    assert win.banner.kind == "hint"
    qtbot.waitUntil(lambda: win.banner.isHidden(), timeout=20000)  # the speech is back
    assert app.bridge.listening  # gone because sound came, not because the recording ended
    win.stop()
    qtbot.waitUntil(lambda: not app.bridge.busy, timeout=20000)

    flowing = MeterEvent(level_db=-20.0, lag=0.0, audio_seconds=1.0)
    for other in (HintEvent("'USB Mic' delivers audio again"), ErrorEvent("the disk is full")):
        win.on_event(HintEvent("'USB Mic' delivers only silence", clears_on=AudioState.FLOWING))
        win.on_event(other)
        win.on_event(flowing)
        assert win.banner.isVisible() and win.banner.label.text() == other.message
    win.on_event(HintEvent("'USB Mic' delivers only silence", clears_on=AudioState.FLOWING))
    win.on_event(StatusEvent(Status.IDLE))  # the recording ended: the hint was about it
    assert win.banner.isHidden()
