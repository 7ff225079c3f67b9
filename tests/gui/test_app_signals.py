"""Signals that end the app quit it like the Quit menu (transcript flushed and saved)."""

from __future__ import annotations

import os
import signal

from PySide6.QtCore import QObject

from gui import app as gui_app


class _App(QObject):
    def __init__(self):
        super().__init__()
        self.quits = 0

    def quit(self):
        self.quits += 1


def test_sigint_sigterm_and_sighup_quit_like_the_menu(qapp):
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    before = {n: signal.getsignal(getattr(signal, n)) for n in names}
    fake = _App()
    try:
        gui_app._quit_on_signals(fake)
        for n in names:
            os.kill(os.getpid(), getattr(signal, n))  # the handler runs at the next bytecode
        assert fake.quits == 3
    finally:
        for n, handler in before.items():
            signal.signal(getattr(signal, n), handler)
