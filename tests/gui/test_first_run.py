"""First run: with no model on disk the window offers the download or a folder; a chosen folder
is checked and remembered; conversion progress shows; the GUI's idea of the converted folder is
model_cache's."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QProcess, QSettings

from gui.app import VoxtralApp
from gui.download import converted_folder, model_on_disk
from gui.settings import DEFAULT_MODEL, Key, Settings
from voxtral_mlx.checkpoint import cache as model_cache
from voxtral_mlx.testing import FakeSoundDevice

from .test_main_window import folder  # noqa: F401  (the tiny checkpoint)


def test_converted_folder_matches_model_cache_and_model_on_disk(monkeypatch, tmp_path):
    monkeypatch.delenv("VOXTRAL_MLX_CACHE", raising=False)
    assert converted_folder(DEFAULT_MODEL) == model_cache.converted_path(DEFAULT_MODEL, 4)
    monkeypatch.setenv("VOXTRAL_MLX_CACHE", str(tmp_path / "cache"))
    assert converted_folder("a/b") == model_cache.converted_path("a/b", 4)
    assert not model_on_disk("a/b") and not model_on_disk(str(tmp_path / "missing"))
    assert model_on_disk(str(tmp_path))
    converted_folder("a/b").mkdir(parents=True)
    (converted_folder("a/b") / "params.json").write_text("{}")
    assert model_on_disk("a/b")


def test_first_run_panel_choose_folder_and_progress(qtbot, tmp_path, monkeypatch, folder):  # noqa: F811
    monkeypatch.setenv("VOXTRAL_MLX_CACHE", str(tmp_path / "cache"))
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    settings.set(Key.MODEL, "someone/not-downloaded")
    app = VoxtralApp(settings, sd=FakeSoundDevice([], -1), autosave_dir=tmp_path, tray=False)
    win = app.window
    qtbot.addWidget(win)
    app.show()
    assert app.bridge.needs_download and win.first_run.isVisible()
    assert "8.9 GB" in win.first_run.download_button.text()
    assert not win.use_model_folder(tmp_path)  # no params.json: refused, said why
    assert win.banner.isVisible() and "not a Voxtral model folder" in win.banner.label.text()
    assert win.first_run.isVisible() and settings.get(Key.MODEL) == "someone/not-downloaded"
    assert win.use_model_folder(folder)
    assert not win.first_run.isVisible() and not win.banner.isVisible()
    assert settings.get(Key.MODEL) == str(folder) and app.bridge.model == str(folder)
    assert not app.bridge.needs_download
    # Conversion progress, reported on the loader's thread, shows on the GUI thread.
    worker = threading.Thread(target=app.bridge._on_progress, args=("converting", 3, 12))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: win.progress.isVisibleTo(win) and win.progress.value() == 25)
    assert win.status_label.text() == "Converting the model (first start only)… 25 %"


# A stand-in for ``python -m voxtral_mlx.download``: writes a partial blob the way
# huggingface_hub does, then finishes (exit 0), fails (one line on stderr, exit 1) or hangs.
FAKE_DOWNLOAD = """
import sys, time, pathlib
blobs, mode = pathlib.Path(sys.argv[1]), sys.argv[2]
blobs.mkdir(parents=True, exist_ok=True)
with open(blobs / "abc.incomplete", "wb") as f:
    f.truncate(3_200_000_000)  # sparse: a partly downloaded file's size, no disk used
if mode == "fail":
    print("progress noise", file=sys.stderr)
    print("cannot get 'x/y' from Hugging Face (ConnectionError); check the network", file=sys.stderr)
    sys.exit(1)
if mode == "hang":
    time.sleep(600)
"""


def _first_run_app(qtbot, tmp_path, monkeypatch, mode):
    import sys

    from huggingface_hub import constants

    from gui import download

    hub = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("VOXTRAL_MLX_CACHE", str(tmp_path / "cache"))
    blobs = hub / f"models--{DEFAULT_MODEL.replace('/', '--')}" / "blobs"
    monkeypatch.setattr(
        download,
        "download_command",
        lambda repo: [sys.executable, "-c", FAKE_DOWNLOAD, str(blobs), mode],
    )
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    app = VoxtralApp(settings, sd=FakeSoundDevice([], -1), autosave_dir=tmp_path, tray=False)
    qtbot.addWidget(app.window)
    app.show()
    assert app.bridge.needs_download and settings.get(Key.MODEL) == DEFAULT_MODEL
    return app, blobs


def test_download_shows_progress_and_cancel_stops_it_at_once(qtbot, tmp_path, monkeypatch):
    """The download runs in a child process: progress is read from the HF cache; Cancel
    kills it at once, keeps the partial file (resumed next time) and offers the panel again;
    no transcriber is started."""
    app, blobs = _first_run_app(qtbot, tmp_path, monkeypatch, "hang")
    win = app.window
    win.first_run.download_button.click()
    assert not win.first_run.isVisible() and win.cancel_button.isVisibleTo(win)
    assert not win.start_button.isEnabled() and win.download.running
    qtbot.waitUntil(lambda: "3.2 of 8.9 GB" in win.status_label.text(), timeout=5000)
    assert win.progress.isVisibleTo(win) and win.progress.value() == 32
    win.toggle()  # Space while downloading does nothing
    assert win.download.running and app.bridge.live is None
    proc = win.download._proc
    t0 = time.monotonic()
    win.cancel_button.click()
    assert time.monotonic() - t0 < 2.5 and proc.state() == QProcess.ProcessState.NotRunning
    assert not win.download.running and win.first_run.isVisible()
    assert not win.cancel_button.isVisibleTo(win) and win.start_button.isEnabled()
    assert win.status_label.text() == "Download paused: 3.2 of 8.9 GB kept, it resumes from there"
    assert (blobs / "abc.incomplete").is_file() and app.bridge.live is None


def test_download_failure_says_why_in_one_line(qtbot, tmp_path, monkeypatch):
    app, _ = _first_run_app(qtbot, tmp_path, monkeypatch, "fail")
    win = app.window
    win.start()  # Start (or Space) on a first run downloads too
    qtbot.waitUntil(lambda: not win.download.running, timeout=10000)
    assert win.banner.isVisible()
    assert win.banner.label.text() == (
        "The model could not be downloaded: cannot get 'x/y' from Hugging Face "
        "(ConnectionError); check the network"
    )
    assert win.first_run.isVisible() and win.start_button.isEnabled()
    assert app.bridge.live is None


def test_finished_download_starts_listening(qtbot, tmp_path, monkeypatch):
    app, _ = _first_run_app(qtbot, tmp_path, monkeypatch, "ok")
    win = app.window
    started = []
    monkeypatch.setattr(app.bridge, "record", lambda *a: started.append(a))  # no real model
    monkeypatch.setattr(type(app.bridge), "needs_download", property(lambda self: False))
    win.first_run.download_button.click()
    qtbot.waitUntil(lambda: bool(started), timeout=10000)
    assert win.start_button.text() == "Stop" and not win.cancel_button.isVisibleTo(win)
    assert not win.banner.isVisible()


def test_closing_during_a_download_ends_it_at_once(qtbot, tmp_path, monkeypatch):
    app, _ = _first_run_app(qtbot, tmp_path, monkeypatch, "hang")
    win = app.window
    win.first_run.download_button.click()
    proc = win.download._proc
    qtbot.waitUntil(lambda: proc.state() == QProcess.ProcessState.Running, timeout=5000)
    t0 = time.monotonic()
    win.quit()
    assert time.monotonic() - t0 < 2.5
    assert proc.state() == QProcess.ProcessState.NotRunning and not win.isVisible()


def test_conversion_progress_after_the_download(qtbot, tmp_path, monkeypatch):
    app, _ = _first_run_app(qtbot, tmp_path, monkeypatch, "ok")
    win = app.window
    app.bridge._on_progress("converting", 1, 2)  # the loader converts on its thread
    qtbot.waitUntil(lambda: win.status_label.text().startswith("Converting"), timeout=3000)
    assert not win._download_timer.isActive()


def test_the_real_download_command_fails_offline_in_one_line(tmp_path):
    """What the window runs (from a checkout; the packaged app runs itself with --download):
    with no network, one line on stderr and exit status 1, no traceback."""
    import os
    import subprocess
    import sys

    from gui.download import download_command

    cmd = download_command("nobody/no-such-model")
    assert cmd == [sys.executable, "-m", "voxtral_mlx.download", "nobody/no-such-model"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    for argv in (
        cmd,
        [sys.executable, "packaging/launch.py", "--download", "nobody/no-such-model"],
    ):
        r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert r.stderr.strip().splitlines() == [
            "cannot get 'nobody/no-such-model' from Hugging Face (LocalEntryNotFoundError); "
            "check the network, or pass --model with a local folder"
        ]
