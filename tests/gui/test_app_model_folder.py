"""The production loading path: no injected loader, the app's FolderLoader loads a model folder
(a tiny checkpoint in the official layout, written by the PyTorch reference, with a Tekken
file) on the transcriber's thread; a recording through it starts, transcribes and stops."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from gui.app import VoxtralApp
from gui.settings import Key, Settings
from voxtral_mlx.testing import FakeSoundDevice

from .test_main_window import speech_device, threads_back  # noqa: F401

ref = pytest.importorskip("tests.reference.hf_reference")  # torch + transformers
tekken = pytest.importorskip("tests.reference.tekken_fixture")  # mistral_common


@pytest.fixture(scope="module")
def native_folder(tmp_path_factory):
    folder = ref.save_native(ref.build("tiny", seed=0), tmp_path_factory.mktemp("native"))
    tekken.write_tekken(folder / "tekken.json")
    return folder


def test_a_model_folder_loads_through_folder_loader(qtbot, tmp_path, native_folder, threads_back):  # noqa: F811
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    dev = speech_device()
    app = VoxtralApp(settings, model=str(native_folder), sd=FakeSoundDevice([dev]),
                     autosave_dir=tmp_path / "autosave", tray=False)  # fmt: skip
    win = app.window
    qtbot.addWidget(win)
    app.show()
    assert settings.get(Key.MODEL) == str(native_folder)
    assert not app.bridge.needs_download and not win.first_run.isVisible()
    win.start()
    assert win.status_label.text() == "Loading the model…"
    qtbot.waitUntil(lambda: win.status_label.text() == "Listening to USB Mic", timeout=30000)
    assert dev.played.wait(20)
    win.stop()
    qtbot.waitUntil(lambda: win.last_saved is not None and win.status_label.text() == "Ready", timeout=20000)  # fmt: skip
    transcript = app.bridge.live.transcript
    assert transcript.duration > 3.0 and transcript.tokens
    assert win.captions.words == transcript.words and not win.banner.isVisible()
    assert app.shutdown(10)
    app.bridge.sd.streams.clear()
