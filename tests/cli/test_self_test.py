"""``voxtral_mlx.cli.self_test.run``: the no-download self-test (issue 16, section 6)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import srt
import webvtt

from voxtral_mlx import env
from voxtral_mlx.cli import self_test
from voxtral_mlx.testing import RANDOM_NOTE
from voxtral_mlx.text.transcript import Transcript


def test_self_test_runs_the_file_path_every_writer_and_the_live_path(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    assert self_test.run(out, err, work=tmp_path) == 0, err.getvalue()
    lines = out.getvalue().splitlines()
    assert "random" in lines[0] and "no download" in lines[0]
    assert any(line.startswith("self-test: file: sample-en.flac") for line in lines)
    assert any(line.startswith("self-test: live: ") for line in lines)
    assert lines[-2].startswith("self-test text (random words): ")
    assert lines[-1] == "self-test ok" and err.getvalue() == ""

    # Every writer's output exists and parses with an independent reader.
    outputs = {p.suffix: p for p in (tmp_path / "out").iterdir()}
    assert set(outputs) == {".txt", ".srt", ".vtt", ".json"}
    transcript = Transcript.from_dict(json.loads(outputs[".json"].read_text()))
    assert transcript.tokens and transcript.duration > 6.0  # the 6.3 s sample, decoded
    assert outputs[".txt"].read_text().split() == transcript.text.split()
    cues = list(srt.parse(outputs[".srt"].read_text()))
    captions = webvtt.read(str(outputs[".vtt"]))
    assert len(cues) == len(captions) >= 1
    assert " ".join(c.content.replace("\n", " ") for c in cues).split() == transcript.text.split()
    assert all(0 <= c.start.total_seconds() < c.end.total_seconds() <= 6.4 for c in cues)
    # The live path autosaved its transcript in the work folder, not the user's.
    assert any(p.is_file() for p in (tmp_path / "autosave").rglob("*"))


def test_missing_sample_fails_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(env, "SAMPLE", "no-such-sample.flac")
    out, err = io.StringIO(), io.StringIO()
    assert self_test.run(out, err, work=tmp_path) == 1
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("self-test failed: ")
    assert "no-such-sample.flac" in lines[0] and "reinstall" in lines[0]
    assert "self-test ok" not in out.getvalue()


def test_app_self_test_says_the_words_are_random():
    """``python -m gui --self-test`` (as ``voxtral-mlx-app --self-test``) through the app."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-m", "gui", "--self-test"], env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert f"self-test: {RANDOM_NOTE}" in lines and lines[-1] == "self-test ok"
