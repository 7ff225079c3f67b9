"""The overlay's state line (issue 17): when captions stop or fall behind, the overlay (the only
thing a captioner watches) says so: "No audio", "Device lost", "Behind by N s"; it stays in
sight while it says so, and clears when audio flows again or the user stops."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from gui.controller import state_line
from gui.overlay import CaptionOverlay
from gui.settings import Key, Settings
from voxtral_mlx.live.events import AudioState, MeterEvent

from .test_main_window import folder, make_app, speech_device, threads_back  # noqa: F401


def meter(audio: AudioState = AudioState.FLOWING, lag: float = 0.0) -> MeterEvent:
    return MeterEvent(level_db=-20.0, lag=lag, audio_seconds=1.0, audio=audio)


def test_state_line_for_each_meter_reading():
    assert state_line(meter()) == "" and state_line(meter(lag=1.9)) == ""
    assert state_line(meter(lag=4.6)) == "Behind by 5 s"
    assert state_line(meter(AudioState.SILENT, lag=9)) == "No audio"
    assert state_line(meter(AudioState.STALLED)) == "Device lost: waiting for it"
    assert state_line(meter(AudioState.LOST)) == "Device lost: waiting for it"


def test_the_state_line_shows_above_the_captions_and_keeps_a_locked_overlay_in_sight(
    qtbot, tmp_path
):
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    settings.set(Key.OVERLAY_LOCKED, True)
    overlay = CaptionOverlay(settings)
    qtbot.addWidget(overlay)
    overlay.show()
    height = overlay.height()
    overlay.set_state("No audio")
    assert overlay.state == "No audio" and overlay.state_label.isVisible()
    assert overlay.height() > height  # room for it: the caption lines keep theirs
    assert overlay.state_label.y() < overlay.label.y()
    overlay._fade_out()  # what the idle timer does after a while without words
    qtbot.wait(700)
    assert not overlay.faded
    overlay.set_state("")
    assert overlay.state == "" and not overlay.state_label.isVisible()
    assert overlay.height() == height


def test_the_real_app_shows_device_lost_behind_and_clears_on_stop(make_app, qtbot):  # noqa: F811
    app = make_app(speech_device(stall_after=1.0))
    win, overlay, dev = app.window, app.overlay, app.bridge.sd.devices[0]
    try:
        win.start()
        qtbot.waitUntil(lambda: overlay.state == "Device lost: waiting for it", timeout=20000)
        dev.resume()
        qtbot.waitUntil(lambda: overlay.state != "Device lost: waiting for it", timeout=20000)
        app.bridge.event.emit(meter(lag=6.2))  # as the transcriber sends it when behind
        assert overlay.state == "Behind by 6 s"
        win.stop()
        qtbot.waitUntil(lambda: win.status_label.text() == "Ready", timeout=5000)
        assert overlay.state == ""  # the user stopped: nothing is wrong
    finally:
        dev.resume()


def test_a_lost_device_says_device_lost_until_the_user_stops(make_app, qtbot):  # noqa: F811
    app = make_app(speech_device(vanish_after=1.0))
    win, overlay = app.window, app.overlay
    with qtbot.waitSignal(app.bridge.listening_changed, timeout=20000):
        win.start()
    qtbot.waitUntil(lambda: overlay.state == "Device lost: waiting for it", timeout=20000)
    assert overlay.state_label.isVisibleTo(overlay) and app.bridge.listening
    win.stop()
    qtbot.waitUntil(lambda: win.status_label.text() == "Ready", timeout=5000)
    assert overlay.state == ""  # the user stopped: nothing is wrong
