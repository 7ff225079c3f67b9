"""Issue 19's proof for kept audio, through a real audio stack (the PulseAudio server and
virtual microphone of ``test_live_e2e``): a live take ``python -m voxtral_mlx --mic
--save-audio take.wav --delay-ms D --draft-delay-ms d --output live.json``, Ctrl-C; then the
file command on take.wav with ``--delay-ms D`` gives exactly the live json's ``tokens``, and
with ``--delay-ms d`` exactly its ``draft_tokens``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import soundfile as sf

from . import test_live_e2e as live_e2e
from .test_live_e2e import _cli, _wait_listening, play

# The PulseAudio server with its virtual microphone, the spoken sentence, the tiny checkpoint.
pulse, speech, folder = live_e2e.pulse, live_e2e.speech, live_e2e.folder

FINAL_MS, DRAFT_MS = 1200, 240


def _file_tokens(folder, wav, delay_ms: int, out) -> list[int]:
    r = subprocess.run([sys.executable, "-m", "voxtral_mlx", str(wav), "--model", str(folder),
                        "--delay-ms", str(delay_ms), "--format", "json", "-o", str(out)],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return json.loads((out / "take.json").read_text())["tokens"]


def test_kept_audio_as_a_file_gives_the_live_tokens_and_drafts(pulse, speech, folder, tmp_path):
    env = {**pulse, "VOXTRAL_MLX_DATA_DIR": str(tmp_path / "autosave")}
    wav, out = tmp_path / "take.wav", tmp_path / "live.json"
    proc = _cli(["--model", folder, "--save-audio", wav, "--output", out, "--delay-ms", FINAL_MS,
                 "--draft-delay-ms", DRAFT_MS], env, subprocess.PIPE)  # fmt: skip
    err = _wait_listening(proc)
    time.sleep(1.0)  # let the stream start
    play(speech, pulse)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    stderr = "".join(err) + rest
    assert proc.returncode == 0, stderr
    assert f"audio kept in {wav}" in stderr and "Traceback" not in stderr
    live = json.loads(out.read_text())
    assert live["metadata"]["audio"] == str(wav)
    assert (live["metadata"]["delay_ms"], live["metadata"]["draft_delay_ms"]) == (
        FINAL_MS,
        DRAFT_MS,
    )
    assert live["tokens"] and live["draft_tokens"]  # the tiny random model says plenty
    info = sf.info(wav)
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "FLOAT")
    assert abs(info.frames / 16000 - live["duration"]) < 1e-3  # the whole take
    assert os.stat(wav).st_mode & 0o777 == 0o600

    assert _file_tokens(folder, wav, FINAL_MS, tmp_path / "final") == live["tokens"]
    assert _file_tokens(folder, wav, DRAFT_MS, tmp_path / "draft") == live["draft_tokens"]
