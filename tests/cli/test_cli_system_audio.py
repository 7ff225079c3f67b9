"""``--system-audio``: live captions of what the computer plays, like ``--mic`` (same display,
outputs, kept audio and exit codes) with a SystemAudioSource instead of a MicSource; refused
(one line, exit 2, before the model loads) with --device (without --mic) or a FILE, and on
Windows; with --mic both are recorded, labelled "You" and "Others". The
transcriber is a fake (the real one on a real PulseAudio server: tests/reference/
test_system_audio_cli_e2e.py)."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from tests.cli.test_cli_live import FakeLive, finished
from voxtral_mlx.audio.mic import MicSource
from voxtral_mlx.audio.system import SystemAudioSource
from voxtral_mlx.cli.mic import system_audio_missing


class Recorder(FakeLive):
    """FakeLive that keeps what it was made with (the source: its second argument)."""

    made = 0

    def __call__(self, *args, **kwargs):
        self.args, self.kwargs, self.made = args, kwargs, self.made + 1
        return self


def live_run(monkeypatch, tmp_path, script, *argv) -> tuple[int, Recorder]:
    from voxtral_mlx.cli import main as cli
    from voxtral_mlx.live import engine

    fake = Recorder(script, tmp_path / "live-1.jsonl")
    monkeypatch.setattr(engine, "LiveTranscriber", fake)
    monkeypatch.setattr(cli, "_run_mic", cli._mic_session)  # not exit_if_streams_left
    monkeypatch.setattr(sys, "platform", "linux")
    return cli.main(list(argv)), fake


def test_system_audio_records_the_computer_and_writes_the_transcript(tmp_path, monkeypatch, capsys):  # fmt: skip
    out, wav = tmp_path / "call.srt", tmp_path / "call.wav"
    code, fake = live_run(monkeypatch, tmp_path, finished(tmp_path), "--system-audio",
                          "--output", str(out), "--save-audio", str(wav),
                          "--draft-delay-ms", "320")  # fmt: skip
    assert code == 0 and fake.made == 1
    source = fake.args[1]
    assert isinstance(source, SystemAudioSource) and source.name == "system audio"
    assert fake.kwargs["save_audio"] == wav and fake.kwargs["draft_delay_ms"] == 320
    assert "Hello." in out.read_text()
    assert capsys.readouterr().err.splitlines()[-1] == f"autosaved {tmp_path / 'live-1.json'}"


def test_mic_still_records_the_device_it_names(tmp_path, monkeypatch):
    code, fake = live_run(monkeypatch, tmp_path, finished(tmp_path), "--mic", "--device", "usb")
    assert code == 0 and isinstance(fake.args[1], MicSource)
    assert not isinstance(fake.args[1], SystemAudioSource)


def test_with_mic_both_are_recorded_labelled(tmp_path, monkeypatch):
    code, fake = live_run(monkeypatch, tmp_path, finished(tmp_path), "--mic", "--system-audio",
                          "--device", "usb")  # fmt: skip
    sources = fake.args[1]
    assert code == 0 and list(sources) == ["You", "Others"]
    assert isinstance(sources["You"], MicSource) and not isinstance(sources["You"], SystemAudioSource)  # fmt: skip
    assert sources["You"].device_spec == "usb"
    assert isinstance(sources["Others"], SystemAudioSource)


def test_ctrl_c_stops_and_sigterm_names_its_signal(tmp_path, monkeypatch, capsys):
    script = finished(tmp_path)
    script.insert(1, KeyboardInterrupt())  # Ctrl-C: the transcriber is asked to stop
    code, fake = live_run(monkeypatch, tmp_path, script, "--system-audio")
    assert code == 0 and fake.stopped and "stopping" in capsys.readouterr().err

    script = finished(tmp_path)
    script.insert(1, lambda: os.kill(os.getpid(), signal.SIGTERM))  # a polite kill
    code, fake = live_run(monkeypatch, tmp_path, script, "--system-audio")
    assert code == 128 + signal.SIGTERM and fake.stopped


@pytest.mark.parametrize(
    "argv, says",
    [
        (
            ["--device", "usb"],
            "--device picks a microphone: --system-audio records the default output (add --mic for both)",
        ),  # fmt: skip
        (["talk.wav"], "error: --system-audio takes no FILE"),
        (["--output", "gone/x.srt"], "error: --output gone/x.srt: the folder gone does not exist"),
    ],
)
def test_usage_errors_before_anything_loads(tmp_path, monkeypatch, capsys, argv, says):
    from voxtral_mlx.cli.app import App

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(App, "load", lambda self: pytest.fail("the model must not load"))
    try:
        code, fake = live_run(monkeypatch, tmp_path, [], "--system-audio", *argv)
    except SystemExit as exit_:  # argparse's usage errors
        code, fake = exit_.code, None
    assert code == 2 and (fake is None or fake.made == 0)
    err = capsys.readouterr().err
    assert err.splitlines()[-1].endswith(says)


def test_on_macos_it_records_through_screencapturekit(tmp_path, monkeypatch):
    """On macOS the computer's audio is the ScreenCaptureKit source (nothing of PyObjC is
    imported until it opens: the fake transcriber never opens it)."""
    from voxtral_mlx.audio.system_mac import MacSystemAudioSource
    from voxtral_mlx.cli import main as cli
    from voxtral_mlx.live import engine

    code, fake = live_run(monkeypatch, tmp_path, finished(tmp_path), "--system-audio")
    assert code == 0 and not isinstance(fake.args[1], MacSystemAudioSource)  # Linux's
    fake = Recorder(finished(tmp_path), tmp_path / "live-1.jsonl")
    monkeypatch.setattr(engine, "LiveTranscriber", fake)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert cli.main(["--mic", "--system-audio"]) == 0
    sources = fake.args[1]
    assert isinstance(sources["Others"], MacSystemAudioSource) and isinstance(sources["You"], MicSource)  # fmt: skip


def test_elsewhere_one_line_says_it_is_not_there(tmp_path, monkeypatch, capsys):
    from voxtral_mlx.cli import main as cli
    from voxtral_mlx.live import engine

    fake = Recorder([], None)
    monkeypatch.setattr(engine, "LiveTranscriber", fake)
    monkeypatch.setattr(cli, "_run_mic", lambda app: pytest.fail("nothing may start"))
    monkeypatch.setattr(sys, "platform", "win32")
    assert cli.main(["--system-audio"]) == 2 and fake.made == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: --system-audio is not available on win32: use --mic")


def test_where_system_audio_exists():
    assert system_audio_missing("linux") is None and system_audio_missing("darwin") is None
    assert "win32" in system_audio_missing("win32")


def test_help_names_it():
    from voxtral_mlx.cli.args import build_parser

    text = build_parser().format_help()
    assert "--system-audio" in text and "what the computer plays" in text
