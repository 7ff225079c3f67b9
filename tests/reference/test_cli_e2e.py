"""The CLI end to end on a tiny native-layout checkpoint with the stand-in tekken.json.

Runs ``python -m voxtral_mlx`` as a user would (subprocess), with a real speech file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import srt
import webvtt

from . import hf_reference as ref
from .tekken_fixture import write_tekken

SPEECH = Path(__file__).parents[1] / "data" / "speech_en_22k.flac"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = ref.save_native(ref.build("tiny", seed=0), tmp_path_factory.mktemp("model"))
    write_tekken(folder / "tekken.json")
    return folder


def cli(*args):
    return subprocess.run([sys.executable, "-m", "voxtral_mlx", *map(str, args)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_stdout_transcript_and_all_formats(model_dir, tmp_path):
    audio = tmp_path / "talk.flac"
    shutil.copy(SPEECH, audio)
    r = cli(audio, "--model", model_dir)
    assert r.returncode == 0, r.stderr
    printed = r.stdout.strip()

    out = tmp_path / "out"
    r = cli(audio, "--model", model_dir, "--format", "all", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "talk.json",
        "talk.srt",
        "talk.txt",
        "talk.vtt",
    ]

    data = json.loads((out / "talk.json").read_text())
    assert data["tokens"] and all(isinstance(t, int) for t in data["tokens"])
    assert data["metadata"]["delay_ms"] == 480
    assert (out / "talk.txt").read_text().strip() == printed == data["text"]
    assert printed  # the random-weight model emits text tokens (byte pieces), so there is text
    # Subtitles parse with real parsers and agree with each other and with the JSON.
    cues = list(srt.parse((out / "talk.srt").read_text()))
    vtt = webvtt.read(str(out / "talk.vtt"))
    assert cues and len(cues) == len(vtt.captions)
    for cue, cap in zip(cues, vtt.captions, strict=True):
        assert 0 <= cue.start.total_seconds() <= cue.end.total_seconds() <= data["duration"] + 1e-3
        h, m, sec = cap.start.split(":")
        assert abs(cue.start.total_seconds() - (int(h) * 3600 + int(m) * 60 + float(sec))) < 1e-3
    words = [w for s in data["segments"] for w in s["words"]]
    assert " ".join(c.content.replace("\n", " ") for c in cues).split() == [
        w["text"] for w in words
    ]


def test_several_files_one_missing_one_not_audio(model_dir, tmp_path):
    good = tmp_path / "a.flac"
    shutil.copy(SPEECH, good)
    text = tmp_path / "notes.txt"
    text.write_text("not audio at all")
    r = cli(good, tmp_path / "missing.wav", text, "--model", model_dir, "--format", "srt")
    assert r.returncode == 1
    assert (tmp_path / "a.srt").is_file()
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, r.stderr
    assert "missing.wav" in errors[0] and "not found" in errors[0]
    assert "notes.txt" in errors[1]
    assert "Traceback" not in r.stderr


def test_missing_model_folder(tmp_path):
    r = cli(SPEECH, "--model", tmp_path / "no-model")
    assert r.returncode == 1
    assert r.stderr.strip().startswith("error:") and "not found" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_model_folder_without_tokenizer(model_dir, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(model_dir, folder)
    (folder / "tekken.json").unlink()
    r = cli(SPEECH, "--model", folder)
    assert r.returncode == 1 and "tekken.json" in r.stderr and "Traceback" not in r.stderr


def test_usage_errors():
    assert cli().returncode == 2
    assert cli(SPEECH, "--format", "docx").returncode == 2


def test_bad_delay_is_a_usage_error(model_dir):
    r = cli(SPEECH, "--model", model_dir, "--delay-ms", "100")
    assert r.returncode == 2 and "multiple of 80" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_signal_writes_what_was_transcribed(model_dir, tmp_path, signame):
    """SIGTERM and SIGHUP end a file run like Ctrl-C: the transcript so far is written and
    the exit code is 128 + the signal's number."""
    import os
    import pty
    import re
    import signal

    import numpy as np
    import soundfile as sf

    x, rate = sf.read(SPEECH, dtype="float32")
    audio = tmp_path / "long.flac"
    sf.write(audio, np.tile(x, 330), rate)  # 20 minutes: still running when signalled
    # stderr on a terminal, so the progress line shows how far the transcription is.
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "voxtral_mlx", str(audio), "--model", str(model_dir),
         "--format", "json"],
        stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(slave)
    err = b""
    while not re.search(rb"long\.flac: 0:[1-5]\d /", err):  # 10 s or more transcribed
        chunk = _read(master)
        assert chunk, f"ended before the signal: {err!r}"
        err += chunk
    sig = getattr(signal, signame)
    proc.send_signal(sig)
    while chunk := _read(master):
        err += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 128 + sig, err
    text = err.decode(errors="replace")
    assert "Traceback" not in text and "interrupted" in text
    data = json.loads((tmp_path / "long.json").read_text())
    assert data["metadata"]["interrupted"] is True and data["tokens"]


def _read(fd) -> bytes:
    import os

    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the child closed the terminal
        return b""


def test_info(model_dir):
    r = cli("--info", "--model", model_dir)
    assert r.returncode == 0 and "native layout" in r.stdout and "delay 480 ms" in r.stdout


def test_a_damaged_file_is_transcribed_around_with_one_warning(model_dir, tmp_path):
    """4 KB of garbage in the middle of a FLAC: what decodes is transcribed, the outputs are
    written, one warning names the span, exit 0; ``--strict`` makes it an error."""
    import numpy as np
    import soundfile as sf

    x, rate = sf.read(SPEECH, dtype="float32")
    audio = tmp_path / "hurt.flac"
    sf.write(audio, np.tile(x, 6), rate)
    data = bytearray(audio.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 4096] = np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes()
    audio.write_bytes(bytes(data))
    r = cli(audio, "--model", model_dir, "--format", "json")
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "hurt.flac" in warnings[0] and "damaged" in warnings[0]
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) <= 2
    out = json.loads((tmp_path / "hurt.json").read_text())
    assert out["tokens"] and out["duration"] > 0.9 * 6 * len(x) / rate
    (span,) = out["metadata"]["damaged"]
    assert 0 < span["start"] < out["duration"]
    (tmp_path / "hurt.json").unlink()
    r = cli(audio, "--model", model_dir, "--format", "json", "--strict")
    assert r.returncode == 1 and "hurt.flac" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "hurt.json").exists()


def test_a_closed_or_full_stdout_is_one_line(model_dir, tmp_path):
    audio = tmp_path / "a.flac"
    shutil.copy(SPEECH, audio)
    argv = [sys.executable, "-m", "voxtral_mlx", str(audio), str(audio), "--model", str(model_dir)]
    with open("/dev/full", "w") as full:  # every write fails with ENOSPC
        r = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().count("\n") == 0 and "could not print" in r.stderr
    # A pipe whose reader has gone (`| head -0`).
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 1 and "Traceback" not in err, err
    assert err.strip().count("\n") == 0 and "closed" in err


def test_several_files_side_by_side_equal_their_own_runs(model_dir, tmp_path):
    """Files decoded as rows of one batch write exactly what each gives alone (--batch 1), and
    printed transcripts keep the command line's order (a 70 s file goes alone, after the
    wave of short ones)."""
    import numpy as np
    import soundfile as sf

    x, rate = sf.read(SPEECH, dtype="float32")
    names = []
    for name, tiles in (("long", 19), ("a", 1), ("b", 2), ("c", 3)):
        sf.write(tmp_path / f"{name}.flac", np.tile(x, tiles), rate)
        names.append(tmp_path / f"{name}.flac")
    outs = {}
    for batch in ("8", "1"):
        out = tmp_path / f"out{batch}"
        r = cli(*names, "--model", model_dir, "--format", "json", "-o", out, "--batch", batch)
        assert r.returncode == 0, r.stderr
        outs[batch] = {p.name: json.loads(p.read_text()) for p in out.iterdir()}
    assert outs["8"] == outs["1"] and len(outs["8"]) == 4
    printed = cli(*names, "--model", model_dir).stdout.strip().splitlines()
    assert printed == [outs["1"][f"{p.stem}.json"]["text"] for p in names]
