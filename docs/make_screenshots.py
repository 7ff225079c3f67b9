"""Take the GUI screenshots in docs/ on a real X11 display (Xvfb), not offscreen.

    Xvfb :99 -screen 0 1280x800x24 -nolisten tcp &
    DISPLAY=:99 trayer --edge top --align right --widthtype pixel --width 100 --height 24 &
    DISPLAY=:99 QT_QPA_PLATFORM=xcb .venv/bin/python docs/make_screenshots.py

The words on screen are scripted events (a TextEvent per word, as the transcriber sends them),
not model output: the model is not loaded, so the pictures show the app, not a transcript.
Without a compositor, Xvfb draws translucent pixels black (the overlay's rounded corners).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QPoint, QSettings, QTimer
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gui.app import VoxtralApp  # noqa: E402
from gui.settings import Key, Settings  # noqa: E402
from voxtral_mlx.live.events import MeterEvent, Status, StatusEvent, TextEvent  # noqa: E402
from voxtral_mlx.testing import FakeDevice, FakeSoundDevice  # noqa: E402
from voxtral_mlx.text.transcript import Word  # noqa: E402

DOCS = Path(__file__).resolve().parent
SCRIPT = (
    "Good morning everyone, and thanks for joining. Today I want to walk you through the "
    "results of the pilot. We ran it for six weeks with three teams, and the short version "
    "is that it worked better than we expected. Transcription ran entirely on the laptop, "
    "so nothing left the room, and the captions kept up with the"
)


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def feed(app: VoxtralApp, text: str, partial: str) -> None:
    win = app.window
    win.on_event(StatusEvent(Status.LISTENING, "MacBook Pro Microphone"))
    t = 0.4
    for word in text.split():
        win.on_event(TextEvent(" " + word, t, t + 0.3, words=(Word(word, t, t + 0.3),)))
        t += 0.34
    win.on_event(TextEvent("", t, t + 0.1, partial=Word(partial, t, t + 0.1)))
    win.on_event(MeterEvent(level_db=-17.0, lag=0.2, audio_seconds=t))


CALL = [  # (who, words): a call with loudspeakers off (headphones), both sides captioned
    ("Others", "Thanks for joining. Can everyone hear me all right?"),
    ("You", "Yes, loud and clear."),
    ("Others", "Great. Let's start with the budget for next quarter."),
    ("You", "I sent the numbers this morning, they're in the shared folder."),
    ("Others", "Perfect, I have them open now. The travel line looks"),
]


def feed_call(app: VoxtralApp) -> None:
    """Labelled events as the transcriber sends them with Both on."""
    win = app.window
    win.on_event(StatusEvent(Status.LISTENING, "You: MacBook Pro Microphone, Others: system audio"))
    t = 0.4
    for who, text in CALL:
        for word in text.split():
            win.on_event(TextEvent(" " + word, t, t + 0.3, words=(Word(word, t, t + 0.3, who),),
                                   source=who))  # fmt: skip
            t += 0.34
        t += 0.6
    win.on_event(TextEvent("", t, t + 0.1, partial=Word("hig", t, t + 0.1, "Others"), source="Others"))  # fmt: skip
    win.on_event(MeterEvent(level_db=-35.0, lag=0.1, audio_seconds=t, source="You"))
    win.on_event(MeterEvent(level_db=-14.0, lag=0.3, audio_seconds=t, source="Others"))


def main() -> int:
    qt = QApplication(sys.argv)
    tmp = Path(tempfile.mkdtemp())
    settings = Settings(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat))
    settings.set(Key.MODEL, str(tmp))  # "on disk": no first-run panel
    devices = [FakeDevice("MacBook Pro Microphone"), FakeDevice("USB Audio Interface")]
    app = VoxtralApp(settings, sd=FakeSoundDevice(devices), autosave_dir=tmp)
    app.window.move(40, 60)
    app.window.resize(900, 520)
    app.show()
    wait(300)
    app.bridge.listening = True  # as if recording: the button says Stop
    app.window.start_button.setText("Stop")
    feed(app, SCRIPT, "conversa")
    if app.tray is not None:
        app.tray.set_listening(True)
    wait(300)
    app.window.grab().save(str(DOCS / "window.png"))
    app.window.resize(420, 520)  # beside a video call: the buttons go to a row of their own
    wait(300)
    app.window.grab().save(str(DOCS / "window-narrow.png"))
    app.window.resize(900, 520)
    dialog = app.open_settings()
    dialog.window_panel.lines.setValue(3)  # "lines shown": a caption strip of the last 3 lines
    app.window.resize(900, app.window.minimumSizeHint().height())
    wait(300)
    app.window.grab().save(str(DOCS / "window-lines.png"))
    dialog.window_panel.lines.setValue(0)
    app.window.resize(900, 520)
    dialog.overlay_panel.use_preset("High contrast: yellow on black")
    dialog.tabs.setCurrentWidget(dialog.overlay_panel)
    dialog.resize(560, dialog.sizeHint().height())
    wait(300)
    dialog.grab().save(str(DOCS / "settings.png"))
    dialog.overlay_panel.use_preset("Default")
    dialog.close()

    app.overlay.resize(820, app.overlay.height())
    app.overlay.move(80, 420)
    app.set_overlay_visible(True)
    app.overlay.set_locked(True)
    app.overlay.refresh()
    wait(400)
    screen = qt.primaryScreen()
    screen.grabWindow(0, 0, 0, 1000, 640).save(str(DOCS / "overlay.png"))

    if app.tray is not None:
        geometry = app.tray.icon.geometry()
        app.tray.menu.popup(QPoint(geometry.x() - 180, geometry.bottom() + 2))
        wait(400)
        menu = app.tray.menu.geometry()
        x = min(menu.x(), geometry.x()) - 20
        screen.grabWindow(0, x, 0, 1280 - x, menu.bottom() + 20).save(str(DOCS / "tray.png"))
        app.tray.menu.hide()
    else:
        print("no system tray on this display: tray.png not taken", file=sys.stderr)
    app.window.clear()
    app.window.source_box.set_missing("")  # as where the computer's audio can be captured
    app.window.source_box.choose("both")
    feed_call(app)
    wait(300)
    app.window.grab().save(str(DOCS / "window-both.png"))
    app.window.quit()
    qt.processEvents()
    app.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
