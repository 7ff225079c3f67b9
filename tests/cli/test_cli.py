import subprocess
import sys

from voxtral_mlx.checkpoint import weights
from voxtral_mlx.cli.main import main


def test_info_on_a_model_folder(tmp_path, tiny_model, capsys):
    folder = weights.save(tiny_model, tmp_path / "m")
    assert main(["--info", "--model", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "mlx layout" in out and "2 layers, dim 64" in out and "1280 samples/token" in out
    assert "tokenizer  unusable" in out and "tekken.json" in out


def test_missing_model_is_one_line_exit_1(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "voxtral_mlx", "--info", "--model", str(tmp_path / "none")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "not found" in r.stderr
    assert "Traceback" not in r.stderr


def test_usage_exit_2(capsys):
    assert main([]) == 2
    assert "FILE" in capsys.readouterr().err


def test_transcribing_needs_the_tokenizer(tmp_path, tiny_model, capsys):
    folder = weights.save(tiny_model, tmp_path / "m")
    assert main([str(_wav(tmp_path / "x.wav")), "--model", str(folder)]) == 1
    assert "tekken.json" in capsys.readouterr().err


def test_ctrl_c_writes_the_partial_transcript(tmp_path, monkeypatch, capsys):
    """Interrupted carries what was transcribed; the CLI writes it and exits 130."""
    from voxtral_mlx.cli import main as cli
    from voxtral_mlx.decode import transcribe
    from voxtral_mlx.text.transcript import TokenEvent, TranscriptBuilder

    builder = TranscriptBuilder()
    builder.add(
        [TokenEvent(1000, "Hello", 0.0, 0.08, True), TokenEvent(1001, " there", 0.5, 0.58, False)]
    )
    partial = builder.build(duration=0.6, interrupted=True)

    def fake_transcribe(path, *a, **k):
        raise transcribe.Interrupted(partial)

    monkeypatch.setattr(cli.App, "load", lambda self: setattr(self, "dtype", "float32"))
    monkeypatch.setattr(transcribe, "transcribe_file", fake_transcribe)
    audio = _wav(tmp_path / "talk.wav")
    assert cli.main([str(audio), "--format", "srt"]) == cli.EXIT_INTERRUPTED
    assert "Hello there" in (tmp_path / "talk.srt").read_text()
    assert "interrupted" in capsys.readouterr().err


def test_streams_reach_the_file_transcriber(tmp_path, monkeypatch, capsys):
    import pytest

    from voxtral_mlx.cli import main as cli
    from voxtral_mlx.decode import transcribe
    from voxtral_mlx.text.transcript import Transcript

    seen = {}

    def fake_transcribe(path, *a, **k):
        seen.update(k)
        return Transcript()

    monkeypatch.setattr(cli.App, "load", lambda self: setattr(self, "dtype", "float32"))
    monkeypatch.setattr(transcribe, "transcribe_file", fake_transcribe)
    audio = _wav(tmp_path / "talk.wav")
    assert cli.main([str(audio), "--streams", "3"]) == cli.EXIT_OK
    assert seen["streams"] == 3
    assert cli.main([str(audio)]) == cli.EXIT_OK and seen["streams"] is None
    for bad in ("0", "65", "two"):
        with pytest.raises(SystemExit):
            cli.main([str(audio), "--streams", bad])
        assert "--streams" in capsys.readouterr().err


def _wav(path, seconds: float = 0.5):
    import numpy as np
    import soundfile as sf

    sf.write(path, np.zeros(int(16000 * seconds), np.float32), 16000)
    return path


def _no_load(monkeypatch):
    """The model must not be loaded (or downloaded): loading fails the test."""
    from voxtral_mlx.cli import main as cli

    def load(self):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(cli.App, "load", load)


def test_bad_delays_are_usage_errors_before_any_load(tmp_path, monkeypatch, capsys):
    import pytest

    _no_load(monkeypatch)
    audio = _wav(tmp_path / "a.wav")
    for bad in ("0", "81", "-80", "99999", "soon"):
        with pytest.raises(SystemExit) as stop:
            main([str(audio), "--delay-ms", bad])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert "--delay-ms" in err and "multiple of 80" in err


def test_missing_input_fails_before_the_model_loads(tmp_path, monkeypatch, capsys):
    """A misspelled name never starts the first-run download."""
    _no_load(monkeypatch)
    assert main([str(tmp_path / "typo.wav")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "typo.wav" in err[0] and "not found" in err[0]


def test_a_fifo_is_refused_and_the_other_files_are_done(tmp_path, monkeypatch, capsys):
    import os

    from voxtral_mlx.cli import main as cli
    from voxtral_mlx.decode import transcribe
    from voxtral_mlx.text.transcript import Transcript

    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)  # nothing ever writes to it: opening it to read would block for ever
    good = _wav(tmp_path / "good.wav")
    done = []
    monkeypatch.setattr(cli.App, "load", lambda self: setattr(self, "dtype", "float32"))
    monkeypatch.setattr(
        transcribe, "transcribe_file", lambda path, *a, **k: done.append(path) or Transcript()
    )
    assert cli.main([str(fifo), str(good)]) == cli.EXIT_FAILED
    assert done == [good]
    err = capsys.readouterr().err
    assert "pipe.wav" in err and "not a regular file" in err


def test_float32_turns_tf32_off_before_the_model_loads(tmp_path, monkeypatch):
    """MLX computes float32 matmuls as TF32 on CUDA and M5 GPUs unless told not to."""
    import os

    from voxtral_mlx.cli import main as cli
    from voxtral_mlx.decode import transcribe
    from voxtral_mlx.text.transcript import Transcript

    seen = []
    monkeypatch.setenv("MLX_ENABLE_TF32", "unset at the end")  # so teardown removes ours
    monkeypatch.delenv("MLX_ENABLE_TF32")
    monkeypatch.setattr(
        cli.App,
        "load",
        lambda self: (
            seen.append(os.environ.get("MLX_ENABLE_TF32")) or setattr(self, "dtype", "float32")
        ),
    )
    monkeypatch.setattr(transcribe, "transcribe_file", lambda *a, **k: Transcript())
    audio = _wav(tmp_path / "a.wav")
    assert cli.main([str(audio)]) == 0 and seen == [None]  # not asked: MLX's default
    assert cli.main([str(audio), "--dtype", "float32"]) == 0 and seen[-1] == "0"


def test_self_test_flag_runs_the_no_download_check(capsys):
    assert main(["--self-test"]) == 0
    out = capsys.readouterr().out
    assert "random" in out and out.strip().endswith("self-test ok")


def test_info_reads_no_tensors(tmp_path, tiny_model, monkeypatch, capsys):
    """--info describes from the config and the headers: on the CPU a full-size load takes
    about a minute, which a description does not need."""
    from voxtral_mlx.checkpoint import weights as w

    folder = w.save(tiny_model, tmp_path / "m")

    def load(*a, **k):
        raise AssertionError("--info loaded the weights")

    monkeypatch.setattr(w, "load", load)
    assert main(["--info", "--model", str(folder)]) == 0
    assert "2 layers, dim 64" in capsys.readouterr().out
