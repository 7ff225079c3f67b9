"""Finding the app's image files: in the packaged app, an installed wheel or a checkout's
``resources/`` (:mod:`voxtral_mlx.env`).

The icons are drawn from one SVG by ``packaging/make_icons.py``; callers fall back to an icon
drawn in code when one is missing (None).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

from voxtral_mlx import env

APP_ICON_SIZES = (16, 32, 64, 128, 256, 512)


def resource_path(name: str) -> Path | None:
    """``resources/<name>`` on this install (bundle, wheel or checkout); None if absent."""
    return env.resource_path(name)


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
