"""Persistent settings: one :class:`Key` enum, each key with its default and type.

:class:`Settings` wraps a ``QSettings`` (the platform's native store by default; tests pass an
INI file). ``get`` returns the default's type whatever the backend stored (INI files give back
strings), so callers never convert.

Live captions: the delay (``DELAY_MS``) is the final text's; drafts (``DRAFTS``, on by
default) decode the same audio at ``DRAFT_DELAY_MS`` too. The delay's default follows
:func:`voxtral_mlx.protocol.live_delays`: 2400 ms with drafts, the model's 480 ms without; a
delay the user has saved is kept either way. ``KEEP_AUDIO`` writes each recording's audio
beside its autosaved transcript (``live-YYYYmmdd-HHMMSS.wav``). ``LISTEN_TO`` is what is
captioned (:mod:`gui.sources`); ``DEVICE`` the microphone (an older version kept the computer's
audio there as ``@computer-audio``: :func:`listen_choice` reads that as the computer's audio).
``ENGINE`` is what captions (:mod:`gui.engine`: this computer's model or a server at
``SERVER_URL``); ``API_KEY`` is stored like every other setting, in plain text.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSettings

from voxtral_mlx.checkpoint.resolve import DEFAULT_REPO
from voxtral_mlx.protocol import (
    DEFAULT_DELAY_MS,
    LIVE_DRAFT_DELAY_MS,
    LIVE_FINAL_DELAY_MS,
    live_delays,
)

from .sources import COMPUTER, MICROPHONE

ORGANIZATION = "voxtral-mlx"
APPLICATION = "voxtral-mlx"
# DEVICE's value for the computer's audio in versions before LISTEN_TO:
LEGACY_COMPUTER_AUDIO = "@computer-audio"


class Key(str, enum.Enum):
    MODEL = "model/name"  # folder or Hugging Face repo id
    DELAY_MS = "model/delay_ms"  # the final text's delay
    DRAFTS = "model/drafts"  # fast draft words shown dimmed after the final text
    DRAFT_DELAY_MS = "model/draft_delay_ms"
    KEEP_AUDIO = "audio/keep"  # each recording's audio in a WAV beside its autosave
    DEVICE = "audio/device"  # the microphone's name; "" = system default
    LISTEN_TO = "audio/listen_to"  # gui.sources: "microphone", "computer" (its audio) or "both"
    ENGINE = "engine/kind"  # gui.engine: "local" (this computer's model) or "server"
    SERVER_URL = "engine/server_url"  # ws://HOST:PORT or http://HOST:PORT
    API_KEY = "engine/api_key"  # the server's key, "" = none (kept in plain text)
    FONT_SIZE = "window/font_size"
    FONT_FAMILY = "window/font_family"  # "" = the desktop's font
    WINDOW_LINES = "window/lines"  # caption lines shown; 0 = the whole scrolling transcript
    TEXT_COLOUR = "window/text_colour"  # "#rrggbb"; "" = the desktop's
    BACKGROUND = "window/background"
    WINDOW_GEOMETRY = "window/geometry"  # QWidget.saveGeometry() as hex
    MENU_BAR_ONLY = "app/menu_bar_only"  # start in the tray (and overlay) without the window
    CLOSE_WHILE_LISTENING = "app/close_while_listening"  # "ask" (once), "tray" or "stop"
    OVERLAY_VISIBLE = "overlay/visible"
    OVERLAY_LOCKED = "overlay/locked"
    OVERLAY_FONT_SIZE = "overlay/font_size"
    OVERLAY_FONT_FAMILY = "overlay/font_family"
    OVERLAY_TEXT_COLOUR = "overlay/text_colour"
    OVERLAY_BACKGROUND = "overlay/background"
    OVERLAY_OPACITY = "overlay/opacity"  # 0.2 - 1.0
    OVERLAY_WIDTH = "overlay/width"
    OVERLAY_LINES = "overlay/lines"  # 1 - 3
    OVERLAY_X = "overlay/x"  # -1: centred near the bottom of the screen
    OVERLAY_Y = "overlay/y"


DEFAULT_MODEL = DEFAULT_REPO

DEFAULTS: dict[Key, Any] = {
    Key.MODEL: DEFAULT_MODEL,
    Key.DELAY_MS: LIVE_FINAL_DELAY_MS,  # with drafts (on by default): see Settings.default
    Key.DRAFTS: True,
    Key.DRAFT_DELAY_MS: LIVE_DRAFT_DELAY_MS,
    Key.KEEP_AUDIO: False,
    Key.DEVICE: "",
    Key.LISTEN_TO: MICROPHONE,
    Key.ENGINE: "local",
    Key.SERVER_URL: "",
    Key.API_KEY: "",
    Key.FONT_SIZE: 22,
    Key.FONT_FAMILY: "",
    Key.WINDOW_LINES: 0,
    Key.TEXT_COLOUR: "",
    Key.BACKGROUND: "",
    Key.WINDOW_GEOMETRY: "",
    Key.MENU_BAR_ONLY: False,
    Key.CLOSE_WHILE_LISTENING: "ask",
    Key.OVERLAY_VISIBLE: False,
    Key.OVERLAY_LOCKED: False,
    Key.OVERLAY_FONT_SIZE: 28,
    Key.OVERLAY_FONT_FAMILY: "",
    Key.OVERLAY_TEXT_COLOUR: "#ffffff",
    Key.OVERLAY_BACKGROUND: "#101014",
    Key.OVERLAY_OPACITY: 0.85,
    Key.OVERLAY_WIDTH: 900,
    Key.OVERLAY_LINES: 2,
    Key.OVERLAY_X: -1,
    Key.OVERLAY_Y: -1,
}


@dataclass(frozen=True)
class CaptionStyle:
    """How captions look in one place, the window or the overlay. Colours are "#rrggbb"; ""
    (family, colours) means the desktop's. ``opacity`` is the overlay's; ``lines`` is the lines
    shown (the window: 0 = the whole scrolling transcript)."""

    family: str = ""
    size: int = 22
    text: str = ""
    background: str = ""
    opacity: float = 1.0
    lines: int = 0


# (text, background) colour presets; None: the place's own default colours.
PRESETS: dict[str, tuple[str, str] | None] = {
    "Default": None,
    "High contrast: white on black": ("#ffffff", "#000000"),
    "High contrast: yellow on black": ("#ffff00", "#000000"),
    "High contrast: black on white": ("#000000", "#ffffff"),
}
WINDOW_KEYS = {"family": Key.FONT_FAMILY, "size": Key.FONT_SIZE, "text": Key.TEXT_COLOUR,
               "background": Key.BACKGROUND, "lines": Key.WINDOW_LINES}  # fmt: skip
WINDOW_LINES_MAX = 20
OVERLAY_KEYS = {"family": Key.OVERLAY_FONT_FAMILY, "size": Key.OVERLAY_FONT_SIZE,
                "text": Key.OVERLAY_TEXT_COLOUR, "background": Key.OVERLAY_BACKGROUND,
                "opacity": Key.OVERLAY_OPACITY, "lines": Key.OVERLAY_LINES}  # fmt: skip


class Settings:
    """Typed access to a ``QSettings``; GUI thread only (as QSettings objects are)."""

    def __init__(self, store: QSettings | None = None):
        self.store = store if store is not None else QSettings(ORGANIZATION, APPLICATION)

    def get(self, key: Key) -> Any:
        default = self.default(key)
        raw = self.store.value(key.value, default)
        try:
            return _as_type(raw, type(default))
        except (TypeError, ValueError):  # a hand-edited or foreign value: fall back
            return default

    def default(self, key: Key) -> Any:
        """What ``key`` is until set: ``DEFAULTS``'s, but the delay's follows the drafts
        setting (the accurate final delay beside drafts, the model's own without)."""
        if key is Key.DELAY_MS:
            return live_delays(None, draft_delay_ms(self))[0] or DEFAULT_DELAY_MS
        return DEFAULTS[key]

    def set(self, key: Key, value: Any) -> None:
        self.store.setValue(key.value, _as_type(value, type(DEFAULTS[key])))

    def sync(self) -> None:
        self.store.sync()


def _as_type(value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    return kind(value)


def listen_choice(settings: Settings) -> tuple[str, str]:
    """(what to listen to, the microphone) as remembered. An older version's computer-audio
    "device" is the computer's audio with the default microphone (remembered so from now on)."""
    if settings.get(Key.DEVICE) == LEGACY_COMPUTER_AUDIO:
        settings.set(Key.LISTEN_TO, COMPUTER)
        settings.set(Key.DEVICE, "")
    return settings.get(Key.LISTEN_TO), settings.get(Key.DEVICE)


def draft_delay_ms(settings: Settings) -> int:
    """The draft row's delay to run, 0 when drafts are off."""
    return settings.get(Key.DRAFT_DELAY_MS) if settings.get(Key.DRAFTS) else 0


def caption_style(settings: Settings, keys: dict[str, Key]) -> CaptionStyle:
    """The style remembered under ``keys`` (WINDOW_KEYS or OVERLAY_KEYS)."""
    return CaptionStyle(**{field: settings.get(key) for field, key in keys.items()})


def default_caption_style(keys: dict[str, Key]) -> CaptionStyle:
    return CaptionStyle(**{field: DEFAULTS[key] for field, key in keys.items()})


def save_caption_style(settings: Settings, keys: dict[str, Key], style: CaptionStyle) -> None:
    for field, key in keys.items():
        settings.set(key, getattr(style, field))
