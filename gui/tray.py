"""The tray (menu-bar on macOS) icon: Start/Stop, Listen to (Microphone / Computer audio /
Both), Show overlay, Lock overlay, Open window, Settings, Quit.

On macOS the menu bar shows the monochrome template icons from resources/ (the system tints
them for a light or dark bar); elsewhere, or where the files are missing, the icon is drawn
here: a dark microphone glyph with a light outline (visible on dark and light panels), with a
red dot while listening.
:func:`tray_available` is false where the desktop has no tray (offscreen, plain X servers,
some Wayland desktops); the app then runs from its window alone. GUI thread only.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from .assets import menu_bar_icon
from .sources import LISTEN_CHOICES, LISTEN_TIPS, MICROPHONE

ICON_SIZE = 64
INK = QColor(32, 32, 36)
OUTLINE = QColor(250, 250, 250)
HALO = 6.0  # outline stroke width, in 64 px icon pixels


def tray_available() -> bool:
    return QSystemTrayIcon.isSystemTrayAvailable()


def status_icon(listening: bool) -> QIcon:
    """The tray / menu-bar icon for the listening state."""
    if sys.platform == "darwin" and (icon := menu_bar_icon(listening)) is not None:
        return icon
    return drawn_icon(listening)


def drawn_icon(listening: bool) -> QIcon:
    """A dark microphone with a light outline (and a red dot while listening), drawn for any
    icon size: the outline keeps it visible on dark panels, the dark glyph on light ones."""
    pixmap = QPixmap(ICON_SIZE, ICON_SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    _draw_microphone(p, OUTLINE, HALO)
    _draw_microphone(p, INK, 0)
    if listening:
        p.setPen(QPen(OUTLINE, HALO / 2))
        p.setBrush(QColor(230, 57, 70))
        p.drawEllipse(QRectF(40, 38, 22, 22))
    p.end()
    icon = QIcon(pixmap)
    icon.setIsMask(not listening)  # macOS: the idle icon follows the menu bar's light/dark
    return icon


def _draw_microphone(p: QPainter, colour: QColor, grow: float) -> None:
    """Capsule, cradle and stem; ``grow`` widens every stroke (for the outline)."""
    p.setPen(QPen(colour, grow, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap) if grow else Qt.PenStyle.NoPen)  # fmt: skip
    p.setBrush(colour)
    p.drawRoundedRect(QRectF(22, 6, 20, 34), 10, 10)  # capsule
    p.setPen(QPen(colour, 5 + grow, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawArc(QRectF(14, 16, 36, 34), 200 * 16, 140 * 16)  # cradle
    p.drawLine(QPointF(32, 50), QPointF(32, 58))


class Tray(QObject):
    """The icon and its menu. Signals say what the user chose; the app does it."""

    toggle_recording = Signal()
    listen_chosen = Signal(str)  # what to listen to (gui.sources), picked in the menu
    overlay_shown = Signal(bool)
    overlay_locked = Signal(bool)
    open_window = Signal()
    menu_bar_only = Signal(bool)
    open_settings = Signal()
    quit = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.menu = QMenu()
        self.record_action = self._action("Start listening", self.toggle_recording.emit)
        self.listen_actions = self._listen_menu()
        self.menu.addSeparator()
        self.overlay_action = self._action("Show caption overlay", None, checkable=True)
        self.overlay_action.toggled.connect(self.overlay_shown)
        self.lock_action = self._action("Lock overlay (click-through)", None, checkable=True)
        self.lock_action.toggled.connect(self.overlay_locked)
        self.menu.addSeparator()
        self._action("Open window", self.open_window.emit)
        self._action("Settings…", self.open_settings.emit)
        self.menu_bar_only_action = self._action("Start without the window", None, checkable=True)
        self.menu_bar_only_action.toggled.connect(self.menu_bar_only)
        self._action("Quit Voxtral", self.quit.emit)
        self.icon = QSystemTrayIcon(status_icon(False), self)
        self.icon.setContextMenu(self.menu)
        self.icon.setToolTip("Voxtral: idle")
        self.icon.activated.connect(self._activated)
        self.listening = False
        self.last_message = ""
        self._disposed = False

    def _action(self, text: str, slot, checkable: bool = False) -> QAction:
        action = QAction(text, self.menu)
        action.setCheckable(checkable)
        if slot is not None:
            action.triggered.connect(lambda *_: slot())
        self.menu.addAction(action)
        return action

    def _listen_menu(self) -> dict[str, QAction]:
        """Listen to ▸ Microphone / Computer audio / Both: one checked, as in the window."""
        menu = self.menu.addMenu("Listen to")
        menu.setToolTipsVisible(True)  # a disabled choice's tooltip says why
        group = QActionGroup(menu)
        actions = {}
        for value, text in LISTEN_CHOICES.items():
            action = actions[value] = menu.addAction(text)
            action.setCheckable(True)
            action.setToolTip(LISTEN_TIPS[value])
            group.addAction(action)
            action.triggered.connect(lambda *_, v=value: self.listen_chosen.emit(v))
        return actions

    def set_listen_to(self, listen: str, missing: str = "") -> None:
        """Check ``listen``; ``missing``: why the computer's audio cannot be chosen ("": it
        can), shown disabled with that as the tooltip."""
        for value, action in self.listen_actions.items():
            action.blockSignals(True)
            action.setChecked(value == listen)
            action.blockSignals(False)
            if value != MICROPHONE:
                action.setEnabled(not missing)
                action.setToolTip(missing or LISTEN_TIPS[value])

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.DoubleClick:
            self.open_window.emit()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def dispose(self) -> None:
        """Hide and free the icon and its menu now, in that order (a menu freed by Python's
        teardown while the icon still refers to it crashes Qt at exit)."""
        if self._disposed:
            return
        self._disposed = True
        self.icon.hide()
        self.icon.setContextMenu(None)
        self.menu.deleteLater()
        self.icon.deleteLater()

    # ---- the app tells the tray what is true now ------------------------------------------------
    def set_listening(self, listening: bool) -> None:
        self.listening = listening
        if self._disposed:
            return
        self.icon.setIcon(status_icon(listening))
        self.icon.setToolTip("Voxtral: listening" if listening else "Voxtral: idle")
        self.record_action.setText("Stop listening" if listening else "Start listening")

    def say(self, title: str, text: str) -> None:
        """A notification from the tray icon (where the desktop shows them)."""
        self.last_message = text
        if not self._disposed:
            self.icon.showMessage(title, text, status_icon(self.listening), 6000)

    def set_overlay_state(self, shown: bool, locked: bool) -> None:
        for action, value in ((self.overlay_action, shown), (self.lock_action, locked)):
            action.blockSignals(True)
            action.setChecked(value)
            action.blockSignals(False)
