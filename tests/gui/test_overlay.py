"""The caption overlay: window flags as claimed (click-through only when locked), captions from
a live recording reach it, dragging moves it only when unlocked, its settings are remembered."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from gui.overlay import CaptionOverlay
from gui.settings import Key, Settings

from .test_main_window import folder, make_app, speech_device, threads_back  # noqa: F401

FLAGS = (Qt.WindowType.FramelessWindowHint, Qt.WindowType.WindowStaysOnTopHint, Qt.WindowType.Tool)  # fmt: skip
CLICK_THROUGH = Qt.WindowType.WindowTransparentForInput


def overlay_at(qtbot, path) -> CaptionOverlay:
    overlay = CaptionOverlay(Settings(QSettings(str(path), QSettings.Format.IniFormat)))
    qtbot.addWidget(overlay)
    return overlay


def mouse(widget, kind: QEvent.Type, global_pos: QPoint, buttons=Qt.MouseButton.LeftButton):
    local = QPointF(widget.mapFromGlobal(global_pos))
    event = QMouseEvent(kind, local, QPointF(global_pos), Qt.MouseButton.LeftButton, buttons,
                        Qt.KeyboardModifier.NoModifier)  # fmt: skip
    QApplication.sendEvent(widget, event)


def drag(widget, by: QPoint) -> None:
    start = widget.mapToGlobal(QPoint(30, 20))
    mouse(widget, QEvent.Type.MouseButtonPress, start)
    mouse(widget, QEvent.Type.MouseMove, start + by)
    mouse(widget, QEvent.Type.MouseButtonRelease, start + by, Qt.MouseButton.NoButton)


def test_flags_lock_and_drag(qtbot, tmp_path):
    overlay = overlay_at(qtbot, tmp_path / "s.ini")
    overlay.show()
    flags = overlay.windowFlags()
    assert all(flags & f for f in FLAGS) and not flags & CLICK_THROUGH
    assert overlay.testAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
    assert overlay.testAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
    assert overlay.grip.isVisibleTo(overlay)
    before = overlay.pos()
    drag(overlay, QPoint(40, -25))
    assert overlay.pos() == before + QPoint(40, -25)
    overlay.set_locked(True)
    flags = overlay.windowFlags()
    assert flags & CLICK_THROUGH and all(flags & f for f in FLAGS)
    assert overlay.isVisible() and not overlay.grip.isVisibleTo(overlay)
    moved = overlay.pos()
    drag(overlay, QPoint(50, 50))  # locked: it does not move
    assert overlay.pos() == moved
    overlay.set_locked(False)
    assert not overlay.windowFlags() & CLICK_THROUGH and overlay.isVisible()


def test_font_opacity_lines_and_position_are_remembered(qtbot, tmp_path):
    overlay = overlay_at(qtbot, tmp_path / "s.ini")
    overlay.show()
    menu = overlay.context_menu()
    titles = [a.text() for a in menu.actions()]
    assert titles[:3] == ["Font size", "Lines", "Background"] and "Hide overlay" in titles
    sizes = menu.actions()[0].menu().actions()
    next(a for a in sizes if a.text() == "40 pt").trigger()
    overlay.set_opacity(0.6)
    overlay.set_line_count(3)
    overlay.resize(700, overlay.height())
    overlay.move(60, 40)
    where = overlay.pos()
    overlay.set_locked(True)
    overlay.hide()
    overlay.settings.sync()
    again = overlay_at(qtbot, tmp_path / "s.ini")
    s = again.settings
    assert (s.get(Key.OVERLAY_FONT_SIZE), s.get(Key.OVERLAY_OPACITY), s.get(Key.OVERLAY_LINES)) == (40, 0.6, 3)  # fmt: skip
    assert again.label.font().pointSize() == 40 and again.width() == 700
    assert again.pos() == where and again.locked and again.windowFlags() & CLICK_THROUGH


def test_captions_reach_the_overlay(make_app, qtbot, threads_back):  # noqa: F811
    app = make_app(speech_device())
    win, overlay = app.window, app.overlay
    qtbot.mouseClick(win.overlay_button, Qt.MouseButton.LeftButton)
    assert overlay.isVisible() and app.settings.get(Key.OVERLAY_VISIBLE)
    win.start()
    qtbot.waitUntil(lambda: len(win.captions.words) >= 4 and bool(overlay.lines), timeout=20000)
    shown = " ".join(overlay.lines).split()
    assert shown and " ".join(shown) in " ".join(win.captions.committed_text.split())
    draft_rows = max(0, len(overlay.draft) - 1)  # the draft's lines below the newest final one
    assert overlay.label.text().count("<br>") == len(overlay.lines) + draft_rows - 1
    win.stop()
    qtbot.waitUntil(lambda: win.status_label.text() == "Ready", timeout=20000)
    # Stopped: the overlay ends on the last committed words, nothing in progress.
    # (the end of the last word: one wider than a line is cut across lines)
    assert overlay.partial == "" and win.captions.words[-1].text.endswith(overlay.lines[-1].split()[-1])  # fmt: skip
    assert overlay.draft == [] and "0.45)" not in overlay.label.text()  # no draft left either
    overlay.hide()  # the user hid it (its menu): the window's button follows
    assert not win.overlay_button.isChecked()
    app.shutdown(10)


def test_captions_fade_after_silence_when_locked_and_come_back(qtbot, tmp_path):
    from gui.captions import CaptionModel
    from voxtral_mlx.live.events import TextEvent
    from voxtral_mlx.text.transcript import Word

    overlay = overlay_at(qtbot, tmp_path / "s.ini")
    overlay._idle.setInterval(50)
    model = CaptionModel()
    overlay.show_captions(model)
    overlay.show()
    overlay.set_locked(True)
    model.add(TextEvent("", 0, 0, words=(Word("Hello", 0.1, 0.4),)))
    overlay.refresh()
    assert overlay.windowOpacity() == 1.0 and overlay.lines == ["Hello"]
    qtbot.waitUntil(lambda: overlay.faded, timeout=3000)
    model.add(TextEvent("", 0, 0, partial=Word("wor", 0.5, 0.6)))
    overlay.refresh()  # a new word: back at once
    assert overlay.windowOpacity() == 1.0 and overlay.partial == "wor"
    overlay.set_locked(False)  # unlocked: it stays in sight to be placed
    overlay.refresh()
    qtbot.wait(300)
    assert overlay.windowOpacity() == 1.0


def test_a_locked_overlay_is_unlocked_from_the_window_without_a_tray(make_app, qtbot):  # noqa: F811
    app = make_app()  # no tray, as on stock GNOME
    win, overlay = app.window, app.overlay
    menu = next(a.menu() for a in win.menuBar().actions() if a.text().replace("&", "") == "Overlay")
    assert win.unlock_overlay_action in menu.actions()
    overlay.set_locked(True)
    app.set_overlay_visible(False)
    win.unlock_overlay_action.trigger()  # the menu item: shown, unlocked, remembered
    assert overlay.isVisible() and not overlay.locked
    assert not overlay.windowFlags() & CLICK_THROUGH and not app.settings.get(Key.OVERLAY_LOCKED)
    overlay.set_locked(True)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    qtbot.keyClick(win.view, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)  # fmt: skip
    assert not overlay.locked and overlay.isVisible()


def test_the_overlay_first_shows_clear_of_the_main_window(make_app, qtbot):  # noqa: F811
    app = make_app()  # fresh settings: no remembered overlay position
    win, overlay = app.window, app.overlay
    area = QApplication.primaryScreen().availableGeometry()
    # First run: the window is placed high (WA_Moved: a position the window manager keeps).
    assert win.testAttribute(Qt.WidgetAttribute.WA_Moved) and win.y() == area.y()
    default = overlay.geometry()  # low and centred
    win.setGeometry(default.x() + 50, default.y() - 100, 400, 200)  # the window is there now
    assert win.frameGeometry().intersects(default)
    app.set_overlay_visible(True)
    assert overlay.isVisible() and not overlay.frameGeometry().intersects(win.frameGeometry())
    assert area.contains(overlay.frameGeometry())
