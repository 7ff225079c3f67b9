"""``--mic --save-audio FILE.wav``: the live transcriber is asked to keep the audio there, its
path is printed at the end beside the autosave's; refused (exit 2, one line, before the model
loads) without --mic, for a file that exists, a name that is not .wav or a folder that is not
there."""

from __future__ import annotations

import pytest

from tests.cli.test_cli_live import FakeLive, finished, mic_run
from voxtral_mlx.live.events import TranscriptEvent


class Recorder(FakeLive):
    made = 0

    def __call__(self, *args, **kwargs):
        self.kwargs, self.made = kwargs, self.made + 1
        return self


def with_audio(script: list, wav) -> list:
    """``script`` with the finished transcript saying where its audio was kept."""
    done = next(e for e in script if isinstance(e, TranscriptEvent))
    done.transcript.metadata["audio"] = str(wav)
    return script


def test_the_audio_path_goes_to_the_transcriber_and_is_printed_at_the_end(tmp_path, monkeypatch, capsys):  # fmt: skip
    from voxtral_mlx.cli import main as cli
    from voxtral_mlx.live import engine

    wav = tmp_path / "meeting.wav"
    fake = Recorder(with_audio(finished(tmp_path), wav), tmp_path / "live-1.jsonl")
    monkeypatch.setattr(engine, "LiveTranscriber", fake)
    monkeypatch.setattr(cli, "_run_mic", cli._mic_session)
    assert cli.main(["--mic", "-q", "--save-audio", str(wav)]) == 0
    assert fake.kwargs["save_audio"] == wav
    err = capsys.readouterr().err.splitlines()  # --quiet: still said, like the autosave
    assert err[-2:] == [f"audio kept in {wav}", f"autosaved {tmp_path / 'live-1.json'}"]


def test_without_save_audio_nothing_is_kept_or_said(tmp_path, monkeypatch, capsys):
    from voxtral_mlx.cli import main as cli
    from voxtral_mlx.live import engine

    fake = Recorder(finished(tmp_path), tmp_path / "live-1.jsonl")
    monkeypatch.setattr(engine, "LiveTranscriber", fake)
    monkeypatch.setattr(cli, "_run_mic", cli._mic_session)
    assert cli.main(["--mic"]) == 0
    assert fake.kwargs["save_audio"] is None and "audio kept" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, says",
    [
        (["x.wav"], "--save-audio keeps a live recording's audio: it needs --mic"),
        (["x.flac", "--mic"], "the audio is kept as WAV: give a FILE.wav, got 'x.flac'"),
        (["kept.wav", "--mic"], "kept.wav exists: give a new file name (it is never written over)"),
        (["gone/x.wav", "--mic"], "--save-audio gone/x.wav: the folder gone does not exist"),
        (["here", "--mic"], "the audio is kept as WAV"),
    ],
)
def test_usage_errors_before_anything_loads(tmp_path, monkeypatch, capsys, argv, says):
    from voxtral_mlx.cli import main as cli
    from voxtral_mlx.cli.app import App
    from voxtral_mlx.live import engine

    monkeypatch.chdir(tmp_path)
    (tmp_path / "kept.wav").write_bytes(b"yesterday")
    (tmp_path / "here").mkdir()
    fake = Recorder([], None)
    monkeypatch.setattr(engine, "LiveTranscriber", fake)
    monkeypatch.setattr(App, "load", lambda self: pytest.fail("the model must not load"))
    monkeypatch.setattr(cli, "_run_mic", cli._mic_session)
    try:
        code = cli.main(["--save-audio", *argv])
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    assert code == 2 and fake.made == 0
    assert says in capsys.readouterr().err
    assert (tmp_path / "kept.wav").read_bytes() == b"yesterday"


def test_a_folder_named_like_a_wav_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "d.wav").mkdir()
    with pytest.raises(SystemExit) as exit_:
        mic_run(monkeypatch, tmp_path, [], "--save-audio", str(tmp_path / "d.wav"))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--save-audio" in err and "d.wav exists" in err
