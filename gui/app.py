"""Entry point: ``python -m gui`` / ``voxtral-mlx-app [--model FOLDER_OR_REPO]``.

:class:`VoxtralApp` wires one :class:`~gui.controller.Controller` (with its
:class:`~gui.bridge.EngineBridge`: one transcriber for the app's lifetime), the main window, the
caption overlay and, where the desktop has one, the tray icon.
Quitting goes through the window's close, which flushes the last words and writes the
transcript before the event loop ends; :func:`main` joins the transcriber before returning.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

from voxtral_mlx.audio.mic import exit_if_streams_left

from .assets import app_icon
from .bridge import EngineBridge
from .controller import Controller
from .engine import DELAY_OFF, Engine, chosen_engine
from .main_window import MainWindow
from .overlay import CaptionOverlay
from .qt_guard import QtBindingError, ensure_safe_qt
from .settings import (
    APPLICATION,
    ORGANIZATION,
    WINDOW_KEYS,
    Key,
    Settings,
    caption_style,
    draft_delay_ms,
)
from .settings_window import SettingsWindow
from .tray import Tray, tray_available

log = logging.getLogger(__name__)
JOIN_TIMEOUT_S = 5.0


class VoxtralApp(QObject):
    """The app's parts. ``tray``: None = a tray icon where the desktop has a tray, True = make
    one anyway (tests), False = none. ``model_loader``/``sd``/``autosave_dir``: test seams."""

    finished = Signal()  # the window closed for good: the event loop may end

    def __init__(self, settings: Settings | None = None, *, model: str | None = None,
                 model_loader: Callable | None = None, sd: Any = None,
                 autosave_dir: str | Path | None = None, tray: bool | None = None):  # fmt: skip
        ensure_safe_qt()  # before any signal: a leaking binding aborts the app in minutes
        super().__init__()
        self.settings = settings or Settings()
        if model:
            self.settings.set(Key.MODEL, model)
        self.bridge = EngineBridge(self.settings.get(Key.MODEL), model_loader=model_loader,
                                   sd=sd, autosave_dir=autosave_dir,
                                   draft_delay_ms=draft_delay_ms(self.settings),
                                   keep_audio=self.settings.get(Key.KEEP_AUDIO),
                                   engine=chosen_engine(self.settings))  # fmt: skip
        self.controller = Controller(self.bridge, parent=self)
        self.window = MainWindow(self.controller, self.settings)
        self.window.setWindowIcon(app_icon())  # Linux/Windows title bars; macOS uses the .icns
        self.overlay = CaptionOverlay(self.settings)
        self.overlay.show_captions(self.controller.captions)
        self.controller.captions_changed.connect(self.overlay.refresh)
        self.controller.state_line_changed.connect(self.overlay.set_state)
        self.window.overlay_toggled.connect(self.set_overlay_visible)
        self.window.overlay_unlock_requested.connect(self.unlock_overlay)
        self.window.closed.connect(self._closed)
        self.window.left_for_tray.connect(self._left_for_tray)
        self.window.settings_requested.connect(self.open_settings)
        self.window.view.apply_style(caption_style(self.settings, WINDOW_KEYS))
        self.settings_window: SettingsWindow | None = None
        self.overlay.visibility_changed.connect(self._overlay_changed)
        self.overlay.locked_changed.connect(self._overlay_changed)
        self.tray = self._make_tray() if (tray is None and tray_available()) or tray else None
        self.window.hide_on_close = self.tray is not None
        self._delay_tip = self.window.delay_box.toolTip()
        self._show_engine()

    def _make_tray(self) -> Tray:
        tray = Tray(self)
        tray.toggle_recording.connect(self.window.toggle)
        tray.set_listen_to(self.window.listen_to(), self.bridge.computer_audio_missing)
        tray.listen_chosen.connect(self.window.set_listen_to)
        self.window.listen_changed.connect(tray.set_listen_to)
        tray.overlay_shown.connect(self.set_overlay_visible)
        tray.overlay_locked.connect(self.overlay.set_locked)
        tray.open_window.connect(self.open_window)
        tray.open_settings.connect(self.open_settings)
        tray.menu_bar_only_action.setChecked(self.settings.get(Key.MENU_BAR_ONLY))
        tray.menu_bar_only.connect(lambda on: self.settings.set(Key.MENU_BAR_ONLY, on))
        tray.quit.connect(self.quit)
        self.bridge.listening_changed.connect(tray.set_listening)
        tray.set_overlay_state(self.overlay.isVisible(), self.overlay.locked)
        return tray

    def show(self) -> None:
        """The window, unless in menu-bar-only mode with a tray to live in; the overlay if it
        was shown last time; the tray icon."""
        if self.tray is None or not self.settings.get(Key.MENU_BAR_ONLY):
            self.window.show()
        if self.settings.get(Key.OVERLAY_VISIBLE):
            self.overlay.show()
        if self.tray is not None:
            self.tray.show()

    def open_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def open_settings(self) -> SettingsWindow:
        """The settings window (one at a time); its changes show at once where captions are."""
        if self.settings_window is None:
            self.settings_window = SettingsWindow(self.settings, self.window)
            self.settings_window.window_style.connect(self.window.view.apply_style)
            self.settings_window.overlay_style.connect(self.overlay.apply_style)
            self.settings_window.drafts_changed.connect(self.bridge.set_draft_delay)
            self.settings_window.keep_audio_changed.connect(self.bridge.set_keep_audio)
            self.settings_window.engine_changed.connect(self.set_engine)
            self.settings_window.finished.connect(self._settings_closed)
        self.settings_window.show()
        self.settings_window.raise_()
        return self.settings_window

    def set_engine(self, engine: Engine) -> None:
        """Caption with ``engine`` (Settings ▸ Engine) from the next Start."""
        self.bridge.set_engine(engine)
        self._show_engine()

    def _show_engine(self) -> None:
        """The window follows the engine: no model panel and no delay of ours with a server;
        the status line says which engine."""
        remote = self.bridge.engine.remote
        self.window.model_setup.refresh()
        self.window.delay_box.setEnabled(not remote)
        self.window.delay_box.setToolTip(DELAY_OFF if remote else self._delay_tip)
        self.controller.show_engine()

    def _settings_closed(self) -> None:
        self.settings_window.deleteLater()
        self.settings_window = None

    def _left_for_tray(self, listening: bool) -> None:
        if self.tray is None:
            return
        if listening:
            self.tray.say("Voxtral is still listening", "Captions go on in the overlay and are saved. The tray icon's menu stops listening or opens the window.")  # fmt: skip
        else:
            self.tray.say("Voxtral stopped listening", "Listening stopped and the transcript is saved; Voxtral stays in the tray.")  # fmt: skip

    def unlock_overlay(self) -> None:
        """Shown and unlocked, to be moved or resized (the window's Overlay menu)."""
        self.set_overlay_visible(True)
        self.overlay.set_locked(False)

    def set_overlay_visible(self, shown: bool) -> None:
        self.settings.set(Key.OVERLAY_VISIBLE, bool(shown))
        self.overlay.setVisible(bool(shown))

    def _overlay_changed(self, *_) -> None:
        self.window.set_overlay_checked(self.overlay.isVisible())
        if self.tray is not None:
            self.tray.set_overlay_state(self.overlay.isVisible(), self.overlay.locked)

    def quit(self) -> None:
        """Flush, write the transcript, then end (through the window's close, never blocking)."""
        self.window.quit()

    def _closed(self) -> None:
        self.overlay.blockSignals(True)  # closing it is not the user hiding it
        self.overlay.close()
        if self.tray is not None:
            self.tray.dispose()
        self.finished.emit()

    def shutdown(self, timeout: float = JOIN_TIMEOUT_S) -> bool:
        """After the event loop: make sure the transcriber's thread has ended."""
        self.bridge.shutdown()
        return self.bridge.join(timeout)

    def dispose(self) -> None:
        """Free the windows while the QApplication still exists (Python frees locals in no
        useful order at exit; a window outliving the QApplication crashed Qt under X11)."""
        if self.tray is not None:
            self.tray.dispose()
        self.window.deleteLater()
        self.overlay.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="voxtral-mlx-app", description="Live captions from your microphone.")  # fmt: skip
    parser.add_argument("--model", help="model folder or Hugging Face repo id (remembered)")
    return parser.parse_args(argv)


def _quit_on_signals(app: VoxtralApp) -> None:
    """Ctrl-C, SIGTERM and SIGHUP (the terminal that started the app closed) quit like the Quit
    menu (the last words are flushed and saved). Python runs signal handlers only between
    bytecodes, so a timer wakes the interpreter now and then."""
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    for sig in (getattr(signal, n) for n in names if hasattr(signal, n)):
        signal.signal(sig, lambda *_: app.quit())
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(200)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING)
    qt_app = QApplication.instance() or QApplication([sys.argv[0]])
    qt_app.setOrganizationName(ORGANIZATION)
    qt_app.setApplicationName(APPLICATION)
    qt_app.setApplicationDisplayName("Voxtral")
    try:
        app = VoxtralApp(model=args.model)
    except QtBindingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    qt_app.setQuitOnLastWindowClosed(False)  # the tray may outlive the window; `finished` ends
    app.finished.connect(qt_app.quit)
    app.show()
    _quit_on_signals(app)
    code = qt_app.exec()
    if not app.shutdown():
        log.warning("the transcriber did not end in %.0f s", JOIN_TIMEOUT_S)
    app.dispose()
    exit_if_streams_left(code)  # a device that never let go would hang the interpreter's exit
    return code
