"""First run: with no model on disk the window offers the download or a folder; a chosen folder
is checked and remembered; conversion progress shows; the GUI's idea of the converted folder is
model_cache's."""

from __future__ import annotations

import threading

from PySide6.QtCore import QSettings

from gui.app import VoxtralApp
from gui.settings import DEFAULT_MODEL, Key, Settings
from gui.worker import converted_folder, model_on_disk
from voxtral_mlx import model_cache
from voxtral_mlx.live_events import Status, StatusEvent

from ..fake_sounddevice import FakeSoundDevice
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


def test_first_start_shows_how_much_of_the_model_is_downloaded(qtbot, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("VOXTRAL_MLX_CACHE", str(tmp_path / "cache"))
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    app = VoxtralApp(settings, sd=FakeSoundDevice([], -1), autosave_dir=tmp_path, tray=False)
    win = app.window
    qtbot.addWidget(win)
    app.show()
    assert app.bridge.needs_download and settings.get(Key.MODEL) == DEFAULT_MODEL
    started = []
    monkeypatch.setattr(app.bridge, "record", lambda *a: started.append(a))  # no real download
    win.first_run.download_button.click()
    assert started and not win.first_run.isVisible()
    assert win.status_label.text() == "Downloading the model (first start only)… 0.0 of 8.9 GB"
    blobs = tmp_path / "hub" / f"models--{DEFAULT_MODEL.replace('/', '--')}" / "blobs"
    blobs.mkdir(parents=True)
    with open(blobs / "abc.incomplete", "wb") as f:
        f.truncate(3_200_000_000)  # sparse: a partly downloaded file's size, no disk used
    qtbot.waitUntil(lambda: "3.2 of 8.9 GB" in win.status_label.text(), timeout=3000)
    assert win.progress.isVisibleTo(win) and win.progress.value() == 32
    app.bridge.event.emit(StatusEvent(Status.LOADING))  # still loading: the label stays
    qtbot.wait(50)
    assert "3.2 of 8.9 GB" in win.status_label.text()
    app.bridge._on_progress("converting", 1, 2)  # then the conversion reports itself
    qtbot.waitUntil(lambda: win.status_label.text().startswith("Converting"), timeout=3000)
    assert not win._download_timer.isActive()
