"""Finding the app's image files: inside the packaged app, or in a checkout's ``resources/``.

The icons are drawn from one SVG by ``resources/make_icons.py``; a pip-installed package has no
``resources/`` folder, so callers fall back to an icon drawn in code when this returns None.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon

APP_ICON_SIZES = (16, 32, 64, 128, 256, 512)


def resource_path(name: str) -> Path | None:
    """``resources/<name>`` from the PyInstaller bundle or the source tree; None if absent."""
    roots = []
    if bundle := getattr(sys, "_MEIPASS", None):
        roots.append(Path(bundle) / "resources")
    roots.append(Path(__file__).resolve().parent.parent / "resources")
    for root in roots:
        if (root / name).is_file():
            return root / name
    return None


def app_icon() -> QIcon:
    """The app icon at every size shipped (Qt picks the nearest); empty if none is found."""
    icon = QIcon()
    for size in APP_ICON_SIZES:
        if path := resource_path(f"icons/voxtral-{size}.png"):
            icon.addFile(str(path))
    return icon


def menu_bar_icon(listening: bool) -> QIcon | None:
    """macOS menu-bar template (monochrome, tinted by the system), 1x and @2x (Retina)."""
    stem = f"icons/menubar-{'listening' if listening else 'idle'}Template"
    files = [p for p in (resource_path(f"{stem}.png"), resource_path(f"{stem}@2x.png")) if p]
    if not files:
        return None
    icon = QIcon()
    for path in files:
        icon.addFile(str(path))
    icon.setIsMask(True)
    return icon
