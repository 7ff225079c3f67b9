"""vLLM's own realtime example client, unchanged, against our server: it connects, streams a
file as PCM16 and prints the transcription, which is a local session's words for that audio."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import soundfile as sf

from tests.live import tiny_live
from tests.live.tiny_live import SPEECH
from tests.serve.server_fixture import heard, local_text, pcm_messages, running_server
from tests.serve.vllm_example import example_client, write_stand_ins
from voxtral_mlx.checkpoint import weights

folder = tiny_live.folder


def test_vllm_example_client_runs_unchanged_against_the_server(folder, tmp_path):
    try:
        script = example_client()
    except OSError as err:  # no network: CI fetches it from PyPI, which is reachable there
        pytest.skip(f"vLLM's example client could not be fetched from PyPI: {err}")
    audio = SPEECH[: 16000 * 4]
    wav = tmp_path / "speech.wav"
    sf.write(wav, audio, 16000, subtype="FLOAT")
    env = {**os.environ, "PYTHONPATH": str(write_stand_ins(tmp_path / "stand-ins"))}
    with running_server(folder) as (url, _):
        host, port = url.split(":")
        done = subprocess.run([sys.executable, str(script), "--audio_path", str(wav), "--host",
                               host, "--port", port], env=env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
    out = done.stdout
    assert done.returncode == 0 and "Traceback" not in done.stderr, (out, done.stderr)
    assert out.startswith("Session created: ")
    assert "Error:" not in out
    text, steps = local_text(weights.load(folder)[0], heard(pcm_messages(audio)))
    assert steps > 20 and text.strip()
    final = out.split("\n\nFinal transcription: ", 1)[1]
    final, _, usage = final.partition("\nUsage: ")
    assert final.rstrip("\n") == text
    assert out.split("Transcription: ", 1)[1].startswith(text)  # the deltas, as they came
    assert "prompt_tokens" in usage  # the client prints the done event's usage
