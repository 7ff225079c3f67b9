""" "Engine: A server" in the app: Settings ▸ Engine chooses a real server on a loopback port
(``python -m voxtral_mlx serve``'s app on the tiny checkpoint, tests/serve/server_fixture.py);
the app's Start with the fake microphone captions through it, no model loaded here, and the
saved transcript's words are exactly a local run's on the audio the server heard (the kept WAV,
as PCM16 on the wire). A server that is not there is one message and the app goes on; the
choice is remembered; This computer again records with the model here."""

# ruff: noqa: F811  (the fixtures imported from test_main_window are the tests' parameters)
from __future__ import annotations

import json

import pytest
import soundfile as sf
from PySide6.QtCore import QSettings

from gui.app import VoxtralApp
from gui.engine import DELAY_OFF, DRAFTS_OFF, LOCAL, SERVER, Engine, chosen_engine
from gui.settings import Key, Settings
from gui.settings_window import SettingsWindow
from gui.sources import BOTH
from tests.gui.test_both_sources import OTHER
from tests.gui.test_main_window import folder, make_app, speech_device, threads_back  # noqa: F401
from tests.gui.test_system_audio_choice import choose, offer_computer_audio
from tests.serve.server_fixture import free_port, running_server
from tests.serve.test_clients import local_words, on_the_wire
from voxtral_mlx.live.source_set import OTHERS, YOU
from voxtral_mlx.text.transcript import Transcript


@pytest.fixture(scope="module")
def server(folder):
    with running_server(folder, max_streams=4) as (url, _hub):
        yield url


def ini(tmp_path) -> Settings:
    """The settings file make_app's apps use."""
    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


def choose_server(app: VoxtralApp, url: str):
    """Settings ▸ Engine: A server at ``url``, as a user types it."""
    dialog = app.open_settings()
    dialog.engine_panel.choose(SERVER)
    dialog.engine_panel.url.setText(url)
    return dialog


def record(qtbot, app: VoxtralApp, listening: str) -> Transcript:
    """Start, wait for ``listening`` in the status line and the whole speech, Stop; the
    autosaved transcript."""
    win = app.window
    win.start()
    qtbot.waitUntil(lambda: win.status_label.text() == listening, timeout=30000)
    assert app.bridge.sd.devices[0].played.wait(30)
    qtbot.waitUntil(lambda: len(win.captions.words) >= 2, timeout=30000)
    win.stop()
    ready = listening.replace("Listening to USB Mic", "Ready")
    qtbot.waitUntil(lambda: win.last_saved is not None and win.status_label.text() == ready, timeout=30000)  # fmt: skip
    return Transcript.from_dict(json.loads(win.last_saved.read_text()))


def test_start_captions_through_the_server_as_the_model_here_would(make_app, qtbot, tmp_path, server, folder, threads_back):  # fmt: skip
    before = ini(tmp_path)
    before.set(Key.KEEP_AUDIO, True)  # the audio the server heard, kept beside the transcript
    before.sync()
    app = make_app(speech_device())
    win = app.window
    win.device_box.setCurrentIndex(win.device_box.findData("USB Mic"))
    dialog = choose_server(app, server)  # a bare HOST:PORT is ws://HOST:PORT
    label = f"Server ws://{server}"
    # Drafts need the model here: their controls say so; our delay is not used either.
    assert not dialog.drafts.isEnabled() and dialog.drafts.toolTip() == DRAFTS_OFF
    assert not dialog.draft_delay.isEnabled() and dialog.drafts.isChecked()
    assert not win.delay_box.isEnabled() and win.delay_box.toolTip() == DELAY_OFF
    assert win.status_label.text() == f"{label}: it connects when you press Start"
    saved = record(qtbot, app, f"Listening to USB Mic · {label}")
    assert app.bridge._loader.threads == []  # the model here was never loaded
    assert not win.banner.isVisible(), win.banner.label.text()  # no drafts message either
    heard = sf.read(saved.metadata["audio"], dtype="float32")[0]
    want = local_words(folder, on_the_wire(heard))
    assert len(want) > 5 and saved.words == want
    assert saved.metadata["model"] == f"ws://{server}"  # where it was transcribed, as the CLI's
    assert win.captions.words == want and not win.captions.drafts
    # Remembered: a new settings object, a new settings window, a new app.
    assert chosen_engine(ini(tmp_path)) == Engine(SERVER, server)
    again = SettingsWindow(ini(tmp_path))
    qtbot.addWidget(again)
    assert again.engine_panel.kind == SERVER and again.engine_panel.url.text() == server
    app.shutdown(10)
    second = make_app(speech_device())
    assert second.bridge.engine == Engine(SERVER, server)
    assert second.window.status_label.text() == f"{label}: it connects when you press Start"


def test_a_server_not_there_is_one_message_and_this_computer_works_again(make_app, qtbot, tmp_path, threads_back):  # fmt: skip
    app = make_app(speech_device())
    win = app.window
    win.device_box.setCurrentIndex(win.device_box.findData("USB Mic"))
    nowhere = f"ws://127.0.0.1:{free_port()}"
    dialog = choose_server(app, nowhere)
    win.start()
    qtbot.waitUntil(lambda: not win.banner.isHidden(), timeout=20000)
    text = win.banner.label.text()
    assert text.startswith(f"cannot reach the server at {nowhere}/v1/realtime: ")
    assert "\n" not in text and "Traceback" not in text
    assert text.endswith("Check the server's address and API key in Settings (Engine), or choose This computer there")  # fmt: skip
    qtbot.waitUntil(lambda: win.start_button.text() == "Start" and not app.bridge.running, timeout=20000)  # fmt: skip
    assert win.status_label.text() == f"Stopped · Server {nowhere}"
    # Back to this computer: drafts controls and the delay come back; Start uses the model here.
    dialog.engine_panel.choose(LOCAL)
    assert dialog.drafts.isEnabled() and dialog.draft_delay.isEnabled() and win.delay_box.isEnabled()  # fmt: skip
    assert ini(tmp_path).get(Key.ENGINE) == LOCAL and app.bridge.engine == Engine()
    assert win.status_label.text() == "Model not loaded: it loads when you press Start"
    saved = record(qtbot, app, "Listening to USB Mic")
    assert app.bridge._loader.threads == ["voxtral-live"]
    assert saved.words and saved.words == app.bridge.live.transcript.words
    app.shutdown(10)


def test_switching_engine_while_idle_lets_the_transcriber_go_at_once(make_app, qtbot, server, threads_back):  # fmt: skip
    app = make_app(speech_device())
    win = app.window
    record(qtbot, app, "Listening to USB Mic")  # the model here, then idle with it loaded
    local = app.bridge.live
    assert local.running
    choose_server(app, f"http://{server}")
    qtbot.waitUntil(lambda: not local.running, timeout=20000)  # stopped now, not at Start
    label = f"Server http://{server}"
    qtbot.waitUntil(lambda: win.status_label.text() == f"{label}: it connects when you press Start")  # fmt: skip
    win.clear()
    record(qtbot, app, f"Listening to USB Mic · {label}")
    assert app.bridge.live is not local and app.bridge._loader.threads == ["voxtral-live"]
    app.shutdown(10)


def test_an_address_that_is_not_one_is_not_used(qtbot, tmp_path):
    settings = ini(tmp_path)
    dialog = SettingsWindow(settings)
    qtbot.addWidget(dialog)
    panel = dialog.engine_panel
    with qtbot.assertNotEmitted(dialog.engine_changed):
        panel.choose(SERVER)  # no address yet: this computer goes on
    assert "Enter the server's address" in panel.note.text() and dialog.drafts.isEnabled()
    with qtbot.waitSignal(dialog.engine_changed) as sent:
        panel.url.setText("https://example.org:8443")
    assert sent.args[0] == Engine(SERVER, "https://example.org:8443")
    with qtbot.waitSignal(dialog.engine_changed) as sent:
        panel.url.setText("ftp://example.org")
    assert sent.args[0] == Engine() and "not a server address" in panel.note.text()
    panel.url.setText("ws://example.org:80")
    with qtbot.waitSignal(dialog.engine_changed) as sent:
        panel.api_key.setText("secret")
    assert sent.args[0] == Engine(SERVER, "ws://example.org:80", "secret")
    assert settings.get(Key.API_KEY) == "secret"  # plain text, as docs/gui.md says


def test_a_server_that_goes_away_while_listening_ends_the_recording_with_its_words(make_app, qtbot, folder, threads_back):  # fmt: skip
    app = make_app(speech_device())
    win = app.window
    with running_server(folder, max_streams=2) as (url, _hub):
        choose_server(app, url)
        win.start()
        qtbot.waitUntil(lambda: len(win.captions.words) >= 2, timeout=30000)
    # The server has shut down under the stream: one message, the words kept and saved.
    qtbot.waitUntil(lambda: win.last_saved is not None and not app.bridge.running, timeout=30000)  # fmt: skip
    assert not win.banner.isHidden() and "server" in win.banner.label.text()
    saved = Transcript.from_dict(json.loads(win.last_saved.read_text()))
    text = win.banner.label.text()
    assert text.startswith("the connection to the server was lost (") and "\n" not in text
    assert text.endswith("Press Start to connect again, or choose This computer in Settings (Engine)")  # fmt: skip
    # The window shows the saved words, the one that was in progress when it failed included.
    assert saved.words and saved.words == win.captions.words
    assert win.start_button.text() == "Start"
    assert win.status_label.text() == f"Stopped · Server ws://{url}"


def test_an_engine_chosen_while_recording_is_used_from_the_next_start(make_app, qtbot, server, threads_back):  # fmt: skip
    app = make_app(speech_device())
    win = app.window
    win.start()
    qtbot.waitUntil(lambda: win.status_label.text() == "Listening to USB Mic", timeout=30000)
    local = app.bridge.live
    choose_server(app, server)
    assert app.bridge.listening and local.running  # the recording goes on with the model here
    win.stop()
    qtbot.waitUntil(lambda: not local.running, timeout=20000)  # let go once it stopped
    label = f"Server ws://{server}"
    qtbot.waitUntil(lambda: win.status_label.text() == f"{label}: it connects when you press Start")  # fmt: skip
    assert local.transcript.words  # the recording with the model here was saved
    win.clear()
    record(qtbot, app, f"Listening to USB Mic · {label}")
    assert app.bridge.live is not local
    app.shutdown(10)


def test_the_api_key_is_sent_a_wrong_one_is_one_message(make_app, qtbot, folder, threads_back):  # fmt: skip
    app = make_app(speech_device())
    win = app.window
    with running_server(folder, max_streams=2, api_key="s3cret") as (url, _hub):
        dialog = choose_server(app, f"http://{url}")
        dialog.engine_panel.api_key.setText("wrong")
        win.start()
        qtbot.waitUntil(lambda: not win.banner.isHidden(), timeout=20000)
        text = win.banner.label.text()
        assert text.startswith(f"cannot reach the server at ws://{url}/v1/realtime: ") and "HTTP 403" in text  # fmt: skip
        qtbot.waitUntil(lambda: win.start_button.text() == "Start" and not app.bridge.running, timeout=20000)  # fmt: skip
        dialog.engine_panel.api_key.setText("s3cret")
        assert app.bridge.engine.api_key == "s3cret"
        win.start()
        qtbot.waitUntil(lambda: win.status_label.text() == f"Listening to USB Mic · Server http://{url}", timeout=30000)  # fmt: skip
        qtbot.waitUntil(lambda: len(win.captions.words) >= 2, timeout=30000)
        win.stop()
        qtbot.waitUntil(lambda: win.last_saved is not None and not app.bridge.busy, timeout=30000)
    app.shutdown(10)


def test_both_sources_through_the_server_are_two_labelled_streams(make_app, qtbot, server, threads_back):  # fmt: skip
    app = make_app(speech_device())
    win = app.window
    offer_computer_audio(app, OTHER)
    win.device_box.setCurrentIndex(win.device_box.findData("USB Mic"))
    choose(win, BOTH)
    choose_server(app, server)
    win.start()
    both = f"Listening to You: USB Mic, Others: system audio · Server ws://{server}"
    qtbot.waitUntil(lambda: win.status_label.text() == both, timeout=30000)
    qtbot.waitUntil(lambda: {w.source for w in win.captions.words} == {YOU, OTHERS}, timeout=30000)
    win.stop()
    qtbot.waitUntil(lambda: win.last_saved is not None and not app.bridge.busy, timeout=30000)
    saved = Transcript.from_dict(json.loads(win.last_saved.read_text()))
    assert {w.source for w in saved.words} == {YOU, OTHERS}
    assert saved.metadata["sources"] == {YOU: "USB Mic", OTHERS: "system audio"}
    assert app.bridge._loader.threads == []
    app.shutdown(10)
