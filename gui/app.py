"""Entry point: ``python -m gui`` / ``voxtral-mlx-app [--model FOLDER_OR_REPO]``.

:class:`VoxtralApp` wires one :class:`~gui.worker.EngineBridge` (one transcriber for the app's
lifetime), the main window, the caption overlay and, where the desktop has one, the tray icon.
Quitting goes through the window's close, which flushes the last words and writes the
transcript before the event loop ends; :func:`main` joins the transcriber before returning.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication

from .main_window import MainWindow
from .settings import APPLICATION, ORGANIZATION, Key, Settings
from .worker import EngineBridge

log = logging.getLogger(__name__)
JOIN_TIMEOUT_S = 5.0


class VoxtralApp(QObject):
    """The app's parts. ``model_loader``/``sd``/``autosave_dir`` are seams for tests."""

    def __init__(self, settings: Settings | None = None, *, model: str | None = None,
                 model_loader: Callable | None = None, sd: Any = None,
                 autosave_dir: str | Path | None = None, tray: bool = True):  # fmt: skip
        super().__init__()
        self.settings = settings or Settings()
        if model:
            self.settings.set(Key.MODEL, model)
        self.bridge = EngineBridge(self.settings.get(Key.MODEL), model_loader=model_loader,
                                   sd=sd, autosave_dir=autosave_dir, parent=self)  # fmt: skip
        self.window = MainWindow(self.bridge, self.settings)

    def show(self) -> None:
        self.window.show()

    def quit(self) -> None:
        """Flush, write the transcript, then end the event loop (via the window's close)."""
        self.window.close()

    def shutdown(self, timeout: float = JOIN_TIMEOUT_S) -> bool:
        """After the event loop: make sure the transcriber's thread has ended."""
        self.bridge.shutdown()
        return self.bridge.join(timeout)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="voxtral-mlx-app", description="Live captions from your microphone.")  # fmt: skip
    parser.add_argument("--model", help="model folder or Hugging Face repo id (remembered)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING)
    qt_app = QApplication.instance() or QApplication([sys.argv[0]])
    qt_app.setOrganizationName(ORGANIZATION)
    qt_app.setApplicationName(APPLICATION)
    qt_app.setApplicationDisplayName("Voxtral")
    app = VoxtralApp(model=args.model)
    app.window.closed.connect(qt_app.quit)
    app.show()
    code = qt_app.exec()
    if not app.shutdown():
        log.warning("the transcriber did not end in %.0f s", JOIN_TIMEOUT_S)
    return code
