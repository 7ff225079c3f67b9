"""Keyboard use of the main window: Space and Return belong to the focused control; the
Start/Stop shortcut (Space) works from anywhere else, e.g. the transcript."""

from __future__ import annotations

from PySide6.QtCore import Qt

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
