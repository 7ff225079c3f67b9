"""``python -m voxtral_mlx --system-audio`` end to end on a real sound server: the PulseAudio
server of ``test_live_e2e`` (its null sink the default output), espeak-ng played to it with
``paplay`` while the command runs as a child process, then Ctrl-C. The kept audio
(``--save-audio``) is what was played, and an offline StreamingSession on it gives exactly the
live json's ``tokens`` (at the final delay) and ``draft_tokens`` (at the draft delay),
up to ties within the live encoder's rounding (``assert_offline_words``).
Needs pulseaudio, pulseaudio-utils and espeak-ng (.ci/run; see tests/conftest.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import soundfile as sf

from voxtral_mlx.testing import write_tiny_checkpoint

from .test_live_e2e import _wait_listening, assert_offline_words, correlation, pulse, speech
from .test_system_audio_e2e import MIN_CORRELATION, play, reference

__all__ = ["pulse", "speech"]  # fixtures used here by name
FINAL_MS, DRAFT_MS = 1200, 240
# A null sink's first stream may deliver its first audio up to 2 s late (audio/system.py).
FIRST_AUDIO_S = 2.5


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("system-cli") / "m")


def test_cli_captions_what_the_computer_plays_and_ctrl_c_writes_it(pulse, speech, folder, tmp_path):  # fmt: skip
    env = {**os.environ, **pulse, "VOXTRAL_MLX_DATA_DIR": str(tmp_path / "autosave")}
    wav, out = tmp_path / "call.wav", tmp_path / "out.json"
    argv = ["--system-audio", "--model", folder, "--output", out, "--save-audio", wav,
            "--delay-ms", FINAL_MS, "--draft-delay-ms", DRAFT_MS]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "voxtral_mlx", *map(str, argv)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    err = _wait_listening(proc)
    time.sleep(FIRST_AUDIO_S)
    play(speech, pulse)  # to the default output: what --system-audio hears
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    stderr = "".join(err) + rest
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and "error:" not in stderr
    assert f"wrote {out}" in stderr and f"audio kept in {wav}" in stderr and "autosaved" in stderr

    live = json.loads(out.read_text())
    assert live["metadata"]["source"] == "system audio"
    assert live["metadata"]["audio"] == str(wav)
    kept, rate = sf.read(wav, dtype="float32")
    assert rate == 16000 and abs(len(kept) / 16000 - live["duration"]) < 1e-3
    corr, _ = correlation(kept, reference(speech))
    assert corr > MIN_CORRELATION, f"the kept audio is not what was played (r={corr:.3f})"
    assert live["tokens"] and live["draft_tokens"]  # the tiny random model says plenty
    assert_offline_words(folder, kept, live["tokens"], FINAL_MS)
    assert_offline_words(folder, kept, live["draft_tokens"], DRAFT_MS)
