"""Where the caption overlay first appears: low and centred on the screen, clear of the app's
other windows (the main window) where there is room. GUI thread only; no widgets are moved here.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget

GAP = 16  # between the overlay and a window it is placed beside
LOW = 60  # the default's distance above the bottom of the screen


def screen_area() -> QRect:
    """The primary screen's available area (a usual laptop's when there is no screen)."""
    screen = QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen else QRect(0, 0, 1280, 800)


def other_windows(overlay: QWidget) -> list[QRect]:
    """The frames of the app's visible top-level windows other than ``overlay``."""
    return [other.frameGeometry() for other in QApplication.topLevelWidgets()
            if other is not overlay and other.isVisible() and other.windowType() == Qt.WindowType.Window]  # fmt: skip


def default_position(area: QRect, width: int, height: int, taken: list[QRect]) -> tuple[int, int]:
    """Low and centred in ``area``, clear of the ``taken`` rectangles where there is room:
    below them, above them, or beside them; low and centred if none is free."""
    w, h = width, height
    x, y = area.x() + (area.width() - w) // 2, area.bottom() - h - LOW
    if not taken:
        return x, y
    below, above = max(t.bottom() for t in taken) + GAP, min(t.top() for t in taken) - GAP - h
    right, left = max(t.right() for t in taken) + GAP, min(t.left() for t in taken) - GAP - w
    for spot in ((x, y), (x, max(below, y)), (x, above), (right, y), (left, y)):
        rect = QRect(*spot, w, h)
        if area.contains(rect) and not any(rect.intersects(t) for t in taken):
            return spot
    return x, y


__all__ = ["GAP", "default_position", "other_windows", "screen_area"]
