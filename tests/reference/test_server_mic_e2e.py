"""``python -m voxtral_mlx --mic --server ws://...`` end to end: the command line captions a
real (PulseAudio) microphone through our server on a loopback port, and its transcript (words,
times, token ids) is a local run's on the audio the server heard (PCM16 of what was kept).
Needs pulseaudio, pulseaudio-utils and espeak-ng (.ci/run)."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import soundfile as sf

from tests.serve.server_fixture import local_events, running_server
from voxtral_mlx.checkpoint import weights
from voxtral_mlx.live.loader import folder_loader
from voxtral_mlx.serve.protocol import decode_pcm16, encode_pcm16
from voxtral_mlx.text.tokenizer import Tokenizer
from voxtral_mlx.text.transcript import Transcript, TranscriptBuilder

from .test_live_e2e import _cli, _wait_listening, folder, play, pulse, speech

__all__ = ["folder", "pulse", "speech"]  # fixtures used here by name


def test_mic_through_a_server_gives_the_local_transcript(pulse, speech, folder, tmp_path):
    env = {**pulse, "VOXTRAL_MLX_DATA_DIR": str(tmp_path / "autosave")}
    out, wav = tmp_path / "live.json", tmp_path / "live.wav"
    with running_server(folder, loader=folder_loader(folder), max_streams=2) as (url, _hub):
        proc = _cli(["--server", f"ws://{url}", "--output", out, "--save-audio", wav,
                     "--device", "pulse"], env, subprocess.DEVNULL)  # fmt: skip
        err = _wait_listening(proc)
        time.sleep(1.0)
        play(speech, pulse)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        err += proc.stderr.readlines()
        assert proc.wait(60) == 0, "".join(err)
    stderr = "".join(err)
    assert "Traceback" not in stderr and "error:" not in stderr, stderr
    got = Transcript.from_dict(json.loads(out.read_text()))
    kept, rate = sf.read(wav, dtype="float32")
    heard = decode_pcm16(encode_pcm16(kept))  # what went over the wire
    builder = TranscriptBuilder()
    builder.add(local_events(weights.load(folder)[0], heard, Tokenizer.from_file(folder)))
    want = builder.build()
    assert rate == 16000 and want.tokens and got.tokens == want.tokens
    assert [(w.text, w.start, w.end) for w in got.words] == [(w.text, w.start, w.end) for w in want.words]  # fmt: skip
    assert got.metadata["model"] == f"ws://{url}"
