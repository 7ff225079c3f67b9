"""Keyboard and low-vision use of the main window: Space and Return belong to the focused
control; the Start/Stop shortcut (Space) works from anywhere else, e.g. the transcript; the
window fits beside a video call (about 420 px wide) with every control whole."""

from __future__ import annotations

from itertools import combinations

from PySide6.QtCore import QPoint, QRect, Qt

from voxtral_mlx.testing import FakeDevice

from .test_main_window import folder, make_app, speech_device, threads_back  # noqa: F401


def focus(qtbot, widget) -> None:
    widget.window().activateWindow()  # shortcuts work in the active window
    qtbot.waitUntil(widget.window().isActiveWindow)
    widget.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(widget.hasFocus)


def test_space_and_return_press_the_focused_button_not_start(make_app, qtbot):  # noqa: F811
    win = make_app(speech_device()).window
    focus(qtbot, win.overlay_button)
    qtbot.keyClick(win.overlay_button, Qt.Key.Key_Space)
    assert win.overlay_button.isChecked()  # the button took Space...
    assert not win.bridge.busy and win.start_button.text() == "Start"  # ...not Start/Stop
    qtbot.keyClick(win.overlay_button, Qt.Key.Key_Return)
    assert not win.overlay_button.isChecked()  # Return presses it too
    assert not win.bridge.busy


def test_space_starts_and_stops_from_the_transcript(make_app, qtbot, threads_back):  # noqa: F811
    app = make_app(speech_device())
    win = app.window
    focus(qtbot, win.view)
    qtbot.keyClick(win.view, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: app.bridge.listening, timeout=20000)
    assert win.start_button.text() == "Stop"
    qtbot.keyClick(win.view, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not app.bridge.busy, timeout=20000)
    assert win.start_button.text() == "Start"
    app.shutdown(10)


def test_return_on_the_focused_start_button_starts_once(make_app, qtbot, threads_back):  # noqa: F811
    app = make_app(speech_device())
    win = app.window
    focus(qtbot, win.start_button)
    qtbot.keyClick(win.start_button, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: app.bridge.listening, timeout=20000)
    assert win.start_button.text() == "Stop"  # one click: started, not started and stopped
    app.shutdown(10)


NARROW = 420


def place(win, widget) -> QRect:
    return QRect(widget.mapTo(win, QPoint(0, 0)), widget.size())


def test_the_window_fits_beside_a_call(make_app, qtbot):  # noqa: F811
    long_name = "Very Long USB Audio Class 2.0 Headset Device Name: Analog Stereo Input"
    win = make_app(FakeDevice(long_name)).window
    win.status_label.setText("A status line far longer than a narrow window is wide, " * 3)
    assert win.minimumSizeHint().width() <= NARROW
    win.resize(NARROW, 560)
    qtbot.waitUntil(lambda: win.width() == NARROW)
    controls = [win.start_button, win.device_box, win.delay_box, win.overlay_button,
                win.history_button, win.clear_button, win.copy_button, win.save_button,
                win.settings_button, win.model_button, win.meter, win.status_label]  # fmt: skip

    def laid_out() -> bool:
        # Each whole (not squeezed below what its text needs) and inside the window.
        return all(c.isVisible() and c.width() >= c.minimumSizeHint().width()
                   and win.rect().contains(place(win, c)) for c in controls)  # fmt: skip

    qtbot.waitUntil(laid_out)
    for a, b in combinations(controls, 2):
        assert not place(win, a).intersects(place(win, b)), (a, b)
    assert place(win, win.overlay_button).top() > place(win, win.start_button).bottom()  # reflowed
    win.resize(1000, 560)  # wide: the buttons go back beside the microphone picker
    qtbot.waitUntil(lambda: place(win, win.overlay_button).top() < place(win, win.start_button).bottom())  # fmt: skip
