"""The real app under a flood of worker->GUI signals, in its own process (run by
tests/gui/test_endurance.py; ``--no-guard`` skips gui.qt_guard, to show the crash it prevents).

``python -m tests.gui.endurance_app MODEL_FOLDER WORK_DIR SIGNALS [--no-guard]`` starts
:class:`gui.app.VoxtralApp` with the tiny model and a fake microphone, starts listening, then a
worker thread sends SIGNALS events through :meth:`EngineBridge._on_event` (what the transcriber's
thread calls) while the transcriber keeps sending its own; it stops and starts again a few
times, quits through the window as the Quit menu does, and prints one JSON line of figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import threading
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

BATCH = 500  # the worker lets the GUI catch up to within this many events
CYCLES = 5  # stop/start cycles after the flood


def wait_until(predicate, timeout: float, what: str) -> None:
    """Run the Qt event loop until ``predicate()`` or fail after ``timeout`` s."""
    loop, deadline = QEventLoop(), time.monotonic() + timeout
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: (predicate() or time.monotonic() > deadline) and loop.quit())
    timer.start()
    loop.exec()
    timer.stop()
    if not predicate():
        raise SystemExit(f"timed out after {timeout} s waiting for {what}")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def refs() -> tuple[int, int]:
    gc.collect()
    return sys.getrefcount(True), sys.getrefcount(None)


def flood(bridge, n: int, received: list[int]) -> None:
    """The worker thread: ``n`` events the way the transcriber's thread sends them."""
    from voxtral_mlx.live.events import MeterEvent

    for i in range(n):
        bridge._on_event(MeterEvent(level_db=-60.0 + i % 50, lag=0.1 * (i % 40), audio_seconds=i))
        while i - received[0] > BATCH:
            time.sleep(0.001)


def run(folder: Path, work: Path, signals: int) -> dict:
    from gui.app import VoxtralApp
    from gui.settings import Settings
    from tests.live.test_engine import SPEECH, Loader
    from voxtral_mlx.live.events import MeterEvent
    from voxtral_mlx.testing import FakeDevice, FakeSoundDevice, stereo_at

    qt_app = QApplication.instance() or QApplication([sys.argv[0]])
    qt_app.setQuitOnLastWindowClosed(False)
    settings = Settings(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    device = FakeDevice("USB Mic", signal=stereo_at(SPEECH, 48000), speed=2.0)
    app = VoxtralApp(settings, model_loader=Loader(folder), sd=FakeSoundDevice([device]),
                     autosave_dir=work / "autosave", tray=False)  # fmt: skip
    app.finished.connect(qt_app.quit)
    app.show()
    win, bridge = app.window, app.bridge
    received = [0]
    bridge.event.connect(lambda e: isinstance(e, MeterEvent) and received.__setitem__(0, received[0] + 1))  # fmt: skip
    win.start()

    def listening():
        return bridge.listening

    wait_until(listening, 60, "listening")
    start, (true0, none0), rss0 = time.monotonic(), refs(), rss_mb()
    worker = threading.Thread(target=flood, args=(bridge, signals, received), name="flood")
    worker.start()

    def flooded():
        return not worker.is_alive() and received[0] >= signals

    wait_until(flooded, 300, "the GUI to receive the flood")
    worker.join()
    for _ in range(CYCLES):  # the other crash: Quit after a few start/stops
        win.stop()
        wait_until(lambda: not bridge.busy, 30, "stopped")
        win.start()
        wait_until(listening, 30, "listening again")
    (true1, none1), rss1, seconds = refs(), rss_mb(), time.monotonic() - start
    alive = bridge.running and win.isVisible() and bool(win.captions.words)
    app.quit()
    qt_app.exec()  # until the window has flushed the last words and closed
    joined = app.shutdown()
    app.dispose()
    bridge.sd.streams.clear()  # the fake keeps its streams (and their resamplers) otherwise
    return {"signals": received[0], "seconds": round(seconds, 1), "alive": alive,
            "joined": joined, "true_drift": true1 - true0, "none_drift": none1 - none0,
            "rss_mb": [round(rss0, 1), round(rss1, 1)], "saved": str(win.last_saved)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("signals", type=int)
    parser.add_argument("--no-guard", action="store_true")
    args = parser.parse_args()
    if args.no_guard:
        import gui.qt_guard

        gui.qt_guard._checked = True  # as if the binding were sound
    print(json.dumps(run(args.folder, args.work, args.signals)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
