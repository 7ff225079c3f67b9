"""The real app on a real PulseAudio source that gets suspended (run by test_stall_e2e.py).

``python -m tests.reference.stall_gui_app MODEL WORK`` (PULSE_* in the environment): starts
:class:`gui.app.VoxtralApp` on the "pulse" device, suspends the virtual source once listening,
waits until the window says so, then quits as the Quit menu does and ends like
:func:`gui.app.main`. Prints one JSON line: what the window and overlay showed, how long Quit
took. The process must then exit by itself (before: a process left behind that later aborted).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from gui.app import VoxtralApp
from gui.settings import Settings
from voxtral_mlx.audio.mic import exit_if_streams_left


class Script:
    """One step per timer tick: start, suspend once listening, quit once the stall shows."""

    def __init__(self, app: VoxtralApp, deadline_s: float = 45.0):
        self.app, self.seen, self.at = app, {}, {"start": time.monotonic()}
        self.deadline_s = deadline_s
        self.timer = QTimer(interval=50)
        self.timer.timeout.connect(self.step)

    def step(self) -> None:
        win, now = self.app.window, time.monotonic()
        text = win.status_label.text()
        if "listening" not in self.at and text.startswith("Listening"):
            self.at["listening"] = now
        elif (
            "listening" in self.at and "suspended" not in self.at and now - self.at["listening"] > 2
        ):
            subprocess.run(["pactl", "suspend-source", "vmic", "1"], check=True)
            self.at["suspended"] = now
        elif "suspended" in self.at and "quit" not in self.at and text.startswith("No audio from"):
            self.seen = {"status": text, "banner": win.banner.label.text(),
                         "overlay": self.app.overlay.state,
                         "stall_s": round(now - self.at["suspended"], 2)}  # fmt: skip
            self.at["quit"] = now
            self.app.quit()
        elif "quit" not in self.at and now - self.at["start"] > self.deadline_s:
            self.seen, self.at["quit"] = {"status": text, "timed_out": True}, now  # fail, not hang
            self.app.quit()


def main() -> int:
    model, work = sys.argv[1], Path(sys.argv[2])
    qt_app = QApplication([sys.argv[0]])
    qt_app.setQuitOnLastWindowClosed(False)
    settings = Settings(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    app = VoxtralApp(settings, model=model, autosave_dir=work / "autosave", tray=False)
    app.finished.connect(qt_app.quit)
    app.show()
    app.window.device_box.setCurrentIndex(app.window.device_box.findData("pulse"))
    script = Script(app)
    script.timer.start()
    app.window.start()
    code = qt_app.exec()
    quit_s = time.monotonic() - script.at["quit"]
    joined = app.shutdown()
    app.dispose()
    print(json.dumps({**script.seen, "quit_s": round(quit_s, 2), "joined": joined,
                      "saved": str(app.window.last_saved)}), flush=True)  # fmt: skip
    exit_if_streams_left(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
