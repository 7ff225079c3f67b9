"""The tray icon's menu drives the app; its icon follows the listening state; without a system
tray (offscreen has none) the app runs from its window and closing the window quits."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from gui.settings import Key
from gui.tray import drawn_icon, status_icon

from .test_main_window import folder, make_app, speech_device, threads_back  # noqa: F401


def test_no_system_tray_the_window_is_the_app(make_app, qtbot):  # noqa: F811
    if QSystemTrayIcon.isSystemTrayAvailable():  # offscreen has none; Xvfb + trayer has one
        pytest.skip("this desktop has a system tray")
    app = make_app(speech_device(), tray=None)  # None: a tray only where one exists
    assert app.tray is None and not app.window.hide_on_close
    with qtbot.waitSignal(app.finished, timeout=2000):
        app.window.close()  # nothing recording: closes (and the app finishes) at once
    assert not app.overlay.isVisible()


def test_tray_menu_drives_the_app_and_the_icon_shows_listening(make_app, qtbot, threads_back):  # noqa: F811
    app = make_app(speech_device())
    app.tray = tray = app._make_tray()  # as where a tray exists
    app.window.hide_on_close = True
    idle_key = tray.icon.icon().cacheKey()
    assert tray.record_action.text() == "Start listening" and not tray.listening
    tray.overlay_action.trigger()
    assert app.overlay.isVisible() and app.window.overlay_button.isChecked()
    tray.lock_action.trigger()
    assert app.overlay.locked and app.overlay.isVisible()
    with qtbot.waitSignal(app.bridge.listening_changed, timeout=20000):
        tray.record_action.trigger()
    assert tray.listening and tray.record_action.text() == "Stop listening"
    assert tray.icon.icon().cacheKey() != idle_key and "listening" in tray.icon.toolTip()
    app.settings.set(Key.CLOSE_WHILE_LISTENING, "tray")  # chosen once before (asked: below)
    app.window.close()  # with a tray, closing the window only hides it: still recording
    assert not app.window.isVisible() and app.bridge.listening
    tray.open_window.emit()
    assert app.window.isVisible()
    next(a for a in tray.menu.actions() if a.text() == "Settings…").trigger()
    assert app.settings_window is not None and app.settings_window.isVisible()
    app.settings_window.close()
    app.overlay.hide()  # hidden from its own menu: the tray's check follows
    assert not tray.overlay_action.isChecked()
    with qtbot.waitSignal(app.finished, timeout=2000):
        tray.quit.emit()  # Quit flushes, writes the transcript and ends within 2 s
    assert app.bridge.join(0.5) and app.window.last_saved is not None


def test_status_icons_differ():
    idle, listening = status_icon(False), status_icon(True)
    assert not idle.isNull() and not listening.isNull()
    assert idle.pixmap(32).toImage() != listening.pixmap(32).toImage()


def test_menu_bar_only_starts_without_the_window_only_where_a_tray_exists(make_app, qtbot):  # noqa: F811
    app = make_app(tray=True)
    assert app.window.isVisible() and not app.tray.menu_bar_only_action.isChecked()
    app.tray.menu_bar_only_action.trigger()
    assert app.settings.get(Key.MENU_BAR_ONLY)
    in_tray = make_app(tray=True)
    assert in_tray.tray.menu_bar_only_action.isChecked() and not in_tray.window.isVisible()
    in_tray.tray.open_window.emit()
    assert in_tray.window.isVisible()
    no_tray = make_app(tray=False)  # nowhere else to live: the window shows anyway
    assert no_tray.window.isVisible()


PANELS = ("#000000", "#2b2b2b", "#3c3c3c", "#d6d6d6", "#f6f5f4", "#ffffff")  # dark and light bars
ICON_PX = 32
MIN_CONTRAST = 3.0  # WCAG 2 for graphical objects
MIN_VISIBLE = 0.15  # share of the icon's square that must stand out (the glyph, not a dot)


def luminance(c) -> float:
    def channel(v: int) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.red()) + 0.7152 * channel(c.green()) + 0.0722 * channel(c.blue())


def contrast(a, b) -> float:
    low, high = sorted((luminance(a), luminance(b)))
    return (high + 0.05) / (low + 0.05)


def visible_share(icon, panel: str) -> float:
    """Render ``icon`` on a panel colour; the share of pixels that contrast with the panel."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QColor, QImage, QPainter

    bg = QColor(panel)
    image = QImage(ICON_PX, ICON_PX, QImage.Format.Format_ARGB32)
    image.fill(bg)
    painter = QPainter(image)
    icon.paint(painter, QRect(0, 0, ICON_PX, ICON_PX))
    painter.end()
    pixels = [image.pixelColor(x, y) for x in range(ICON_PX) for y in range(ICON_PX)]
    return sum(contrast(p, bg) >= MIN_CONTRAST for p in pixels) / len(pixels)


@pytest.mark.parametrize("listening", [False, True])
def test_tray_icon_is_visible_on_dark_and_light_panels(qapp, listening):
    icon = drawn_icon(listening)
    shares = {panel: visible_share(icon, panel) for panel in PANELS}
    assert all(share >= MIN_VISIBLE for share in shares.values()), shares


def test_macos_menu_bar_uses_the_template_icons(monkeypatch):
    """On macOS the menu bar gets resources/icons' monochrome templates (a mask the system
    tints), 1x and @2x; elsewhere the drawn icon."""
    from PySide6.QtGui import QImage

    from gui.assets import resource_path

    monkeypatch.setattr(sys, "platform", "darwin")
    for listening in (False, True):
        icon = status_icon(listening)
        assert icon.isMask()
        name = f"icons/menubar-{'listening' if listening else 'idle'}Template.png"
        file = QImage(str(resource_path(name)))
        shown = icon.pixmap(file.width(), file.height()).toImage()
        assert shown.convertToFormat(file.format()) == file
        assert icon.availableSizes() and len(icon.availableSizes()) == 2  # 1x and @2x
    monkeypatch.setattr(sys, "platform", "linux")
    assert status_icon(True).pixmap(32).toImage() == drawn_icon(True).pixmap(32).toImage()


def test_app_and_window_icon_come_from_resources(make_app):  # noqa: F811
    from gui.assets import APP_ICON_SIZES, app_icon

    icon = app_icon()
    assert sorted(s.width() for s in icon.availableSizes()) == list(APP_ICON_SIZES)
    app = make_app(tray=False)
    assert not app.window.windowIcon().isNull()


def answer_close_question(button: str, asked: list, tries: int = 500) -> None:
    """Click ``button`` ("cancel" or a button's object name) in the question box as soon as it
    shows (it runs its own loop); gives up after ``tries`` looks 10 ms apart."""

    def click(left: int = tries) -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            if left:
                QTimer.singleShot(10, lambda: click(left - 1))
            return
        asked.append(box.text())
        cancel = box.button(QMessageBox.StandardButton.Cancel)
        next((b for b in box.buttons() if b.objectName() == button), cancel).click()

    QTimer.singleShot(0, click)


def listening_app(make_app, qtbot):  # noqa: F811
    app = make_app(speech_device(), tray=True)
    with qtbot.waitSignal(app.bridge.listening_changed, timeout=20000):
        app.window.start()
    return app


def test_closing_while_listening_asks_once_then_goes_on_in_the_tray(make_app, qtbot, threads_back):  # noqa: F811
    app = listening_app(make_app, qtbot)
    asked: list[str] = []
    answer_close_question("tray", asked)
    app.window.close()
    assert asked and not app.window.isVisible() and app.bridge.listening
    assert app.settings.get(Key.CLOSE_WHILE_LISTENING) == "tray"  # remembered
    assert "overlay" in app.tray.last_message  # said: listening goes on, captions in the overlay
    app.tray.last_message = ""
    app.open_window()
    app.window.close()  # the second time: not asked again, and said again
    assert len(asked) == 1 and not app.window.isVisible() and app.bridge.listening
    assert "overlay" in app.tray.last_message
    with qtbot.waitSignal(app.finished, timeout=2000):
        app.quit()


def test_closing_while_listening_cancel_keeps_the_window(make_app, qtbot, threads_back):  # noqa: F811
    app = listening_app(make_app, qtbot)
    asked: list[str] = []
    answer_close_question("cancel", asked)
    app.window.close()
    assert asked and app.window.isVisible() and app.bridge.listening
    assert app.settings.get(Key.CLOSE_WHILE_LISTENING) == "ask"
    with qtbot.waitSignal(app.finished, timeout=2000):
        app.quit()


def test_closing_while_listening_stops_when_so_chosen(make_app, qtbot, threads_back):  # noqa: F811
    app = listening_app(make_app, qtbot)
    asked: list[str] = []
    answer_close_question("stop", asked)
    app.window.close()
    assert asked and not app.window.isVisible()
    qtbot.waitUntil(lambda: not app.bridge.busy, timeout=20000)
    assert app.settings.get(Key.CLOSE_WHILE_LISTENING) == "stop"
    assert "stopped" in app.tray.last_message and app.tray.icon.isVisible()  # still in the tray
    with qtbot.waitSignal(app.finished, timeout=2000):
        app.quit()


def test_the_tray_chooses_what_to_listen_to_as_the_window_does(make_app, qtbot):  # noqa: F811
    from gui.sources import BOTH, COMPUTER, MICROPHONE
    from tests.gui.test_system_audio_choice import choose, offer_computer_audio

    app = make_app(speech_device())
    app.tray = tray = app._make_tray()  # as where a tray exists
    actions = tray.listen_actions
    assert [a.text() for a in actions.values()] == ["Microphone", "Computer audio", "Both"]
    assert actions[MICROPHONE].isChecked() and not actions[BOTH].isEnabled()  # no source yet
    assert actions[BOTH].toolTip() == app.bridge.computer_audio_missing != ""
    actions[BOTH].trigger()  # disabled: nothing happens
    assert app.window.listen_to() == MICROPHONE
    offer_computer_audio(app)
    assert actions[BOTH].isEnabled() and actions[COMPUTER].isEnabled()
    actions[BOTH].trigger()
    assert app.window.listen_to() == BOTH and app.settings.get(Key.LISTEN_TO) == BOTH
    assert actions[BOTH].isChecked() and not actions[MICROPHONE].isChecked()
    choose(app.window, COMPUTER)  # picked in the window: the tray follows
    assert actions[COMPUTER].isChecked() and not actions[BOTH].isChecked()
