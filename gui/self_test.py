"""``voxtral-mlx-app --self-test [--model FOLDER] [--audio FILE]``: prove an install (or a frozen
build) works end to end, headless, without a microphone or the real weights.

It starts Qt offscreen, shows the app's real window, then records through the app's own path
(window Start → :class:`~gui.worker.EngineBridge` → ``LiveTranscriber`` → ``FolderLoader``
loading a model folder on the transcriber's thread) from a stand-in sound device that plays a
file (default: the bundled ``resources/sample-en.flac``) at several times real time. With no
``--model`` it writes a tiny random checkpoint (params.json, safetensors, a small tekken.json)
into a temporary folder first, so the words printed are random: the point is that every part
loads and runs. Prints the timings and the transcribed text and exits 0; on any failure prints
one line ``self-test failed: <reason>`` to stderr and exits 1.

Module-level imports are stdlib only: the packaged launcher imports this before anything heavy.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

T0 = time.perf_counter()  # first import ≈ process start for the launcher
SPEED = 8.0  # the stand-in device plays the file at this many times real time
TIMEOUT_S = 60.0


def process_age() -> float:
    """Seconds since this process started (Linux /proc), else since this module was imported."""
    try:
        with open("/proc/self/stat") as f:
            started = int(f.read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
        with open("/proc/uptime") as f:
            return float(f.read().split()[0]) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - T0


class SelfTestError(Exception):
    """One line: what failed."""


def _on_thread(fn, *args):
    """Run ``fn`` on a fresh thread (MLX work stays off the GUI thread); re-raise its error."""
    result: dict = {}

    def run():
        try:
            result["value"] = fn(*args)
        except BaseException as err:  # noqa: B036 (handed back to the caller)
            result["error"] = err

    thread = threading.Thread(target=run, name="self-test-checkpoint")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


# ---- the run -------------------------------------------------------------------------------------
def _wait(app, until, what: str, deadline: float) -> None:
    from PySide6.QtCore import QCoreApplication, QThread

    while not until():
        if time.perf_counter() > deadline:
            raise SelfTestError(f"timed out waiting for {what}")
        QCoreApplication.processEvents()
        QThread.msleep(10)
        error = getattr(app.window.banner, "isVisible", lambda: False)() and app.window.banner
        if error and not app.bridge.running:
            raise SelfTestError(f"the app reported an error: {_banner_text(app)}")


def _banner_text(app) -> str:
    from PySide6.QtWidgets import QLabel

    labels = app.window.banner.findChildren(QLabel)
    return " ".join(label.text() for label in labels if label.text()) or "(no message)"


def run(model: str | None, audio: Path, work: Path, timeout: float = TIMEOUT_S) -> dict:
    """The whole self-test; returns timings and the text. Raises SelfTestError."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from gui.app import VoxtralApp
    from gui.settings import APPLICATION, ORGANIZATION, Settings
    from voxtral_mlx.testing import DEVICE_NAME, FileSoundDevice, write_tiny_checkpoint

    deadline = time.perf_counter() + timeout
    qt_app = QApplication.instance() or QApplication([sys.argv[0]])
    qt_app.setOrganizationName(ORGANIZATION)
    qt_app.setApplicationName(APPLICATION)
    try:
        sd = FileSoundDevice.from_file(audio, speed=SPEED)
    except Exception as err:
        raise SelfTestError(f"cannot read the sample audio {audio}: {err}") from err
    settings = Settings(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    folder = model or str(work / "model")
    app = VoxtralApp(settings, model=folder, sd=sd, autosave_dir=work / "autosave", tray=False)
    try:
        app.show()
        qt_app.processEvents()
        if not app.window.isVisible():
            raise SelfTestError("the main window did not show")
        times = {"window_s": time.perf_counter() - T0, "window_process_s": process_age(),
                 "mlx_early": "mlx.core" in sys.modules}  # fmt: skip
        if model is None:
            _on_thread(write_tiny_checkpoint, work / "model")
        times["checkpoint_s"] = time.perf_counter() - T0
        win = app.window
        win.device_box.setCurrentIndex(max(win.device_box.findData(DEVICE_NAME), 0))
        win.start()
        _wait(app, lambda: app.bridge.listening, "the model to load and listen", deadline)
        times["listening_s"] = time.perf_counter() - T0
        _wait(app, sd.played.is_set, "the sample to play", deadline)
        win.stop()
        _wait(app, lambda: win.last_saved is not None and not app.bridge.busy, "the transcript", deadline)  # fmt: skip
        transcript = app.bridge.live.transcript
        if transcript is None or transcript.duration < 0.5 * sd.seconds:
            raise SelfTestError("the transcript does not cover the sample audio")
        times["done_s"] = time.perf_counter() - T0
        return {**times, "text": transcript.text, "tokens": len(transcript.tokens),
                "audio_s": transcript.duration, "saved": str(win.last_saved)}  # fmt: skip
    finally:
        if not app.shutdown(10):
            print("self-test: the transcriber did not end in 10 s", file=sys.stderr)
        app.dispose()


def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="voxtral-mlx-app --self-test", description=__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument("--self-test", action="store_true", help="(this mode)")
    parser.add_argument("--model", help="a model folder to load (default: a tiny random one)")
    parser.add_argument("--audio", type=Path, help="audio file to play (default: bundled sample)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds (default 60)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from voxtral_mlx.env import sample_audio
    from voxtral_mlx.errors import VoxtralError

    try:
        # The bundled sample from the source tree, an installed wheel or a PyInstaller build.
        audio = args.audio or sample_audio()
        with tempfile.TemporaryDirectory(prefix="voxtral-self-test-") as tmp:
            result = run(args.model, audio, Path(tmp), args.timeout)
    except (SelfTestError, VoxtralError) as err:
        print(f"self-test failed: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # anything else is a failure too, in one line
        print(f"self-test failed: {type(err).__name__}: {err}".splitlines()[0], file=sys.stderr)
        return 1
    print(f"self-test: window shown {result['window_process_s']:.2f} s after the process started; "
          f"mlx imported before the window: {'yes' if result['mlx_early'] else 'no'}")  # fmt: skip
    print(f"self-test: window {result['window_s']:.2f} s, listening {result['listening_s']:.2f} s, "
          f"done {result['done_s']:.2f} s after start; {result['audio_s']:.1f} s of audio, "
          f"{result['tokens']} tokens")  # fmt: skip
    if args.model is None:
        from voxtral_mlx.testing import RANDOM_NOTE

        print(f"self-test: {RANDOM_NOTE}")
    shown = "".join(c for c in result["text"] if c.isprintable())  # random bytes: control codes
    print(f"self-test text: {shown}")
    print("self-test ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
