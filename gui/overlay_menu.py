"""The caption overlay's right-click menu: font size, lines, background opacity, lock and hide.

GUI thread only. Each item calls one of the overlay's setters, which remember the choice in the
settings; the menu is built afresh each time, so its check marks are what the settings hold.
"""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from .settings import Key

FONT_SIZES = (16, 20, 24, 28, 34, 40, 48)
OPACITIES = (0.4, 0.6, 0.85, 1.0)


def overlay_menu(overlay: QWidget) -> QMenu:
    """The menu for ``overlay`` (a ``CaptionOverlay``: its ``settings`` and setters; the menu is
    its child and goes with it)."""
    settings = overlay.settings
    menu = QMenu(overlay)
    current = settings.get(Key.OVERLAY_FONT_SIZE)
    sizes = menu.addMenu("Font size")
    for size in FONT_SIZES:
        _choice(sizes, f"{size} pt", size == current, lambda s=size: overlay.set_font_size(s))
    lines = menu.addMenu("Lines")
    for n in (1, 2, 3):
        chosen = n == settings.get(Key.OVERLAY_LINES)
        _choice(lines, str(n), chosen, lambda n=n: overlay.set_line_count(n))
    opacity = menu.addMenu("Background")
    for value in OPACITIES:
        chosen = abs(value - settings.get(Key.OVERLAY_OPACITY)) < 0.01
        _choice(opacity, f"{int(value * 100)} %", chosen, lambda v=value: overlay.set_opacity(v))
    menu.addSeparator()
    lock = menu.addAction("Lock (click-through)")
    lock.triggered.connect(lambda: overlay.set_locked(True))
    hide = menu.addAction("Hide overlay")
    hide.triggered.connect(overlay.hide)
    return menu


def _choice(menu: QMenu, text: str, checked: bool, slot) -> QAction:
    action = menu.addAction(text)
    action.setCheckable(True)
    action.setChecked(checked)
    action.triggered.connect(lambda *_: slot())  # not `checked` into the slot's defaults
    return action


__all__ = ["FONT_SIZES", "OPACITIES", "overlay_menu"]
