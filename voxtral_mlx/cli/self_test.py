"""``python -m voxtral_mlx --self-test``: prove an install works end to end without the 8.9 GB
download or a microphone.

A tiny random model (``voxtral_mlx.testing.tiny_params``) is written to a temporary folder, then the bundled
speech sample goes through the two paths a user runs: as a file (decode, resample, mel,
encoder, decoder, every writer, each output read back) and live (the microphone path, from a
stand-in sound device that plays the sample at several times real time, with autosave). The
model is random, so the words it prints are random: the point is that every part loads and
runs. Nothing is written outside a temporary folder. Module-level imports are stdlib only.
"""

from __future__ import annotations

import json
import queue
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from voxtral_mlx.errors import VoxtralError

LIVE_SPEED = 8.0  # the stand-in microphone plays the sample at this many times real time
LIVE_TIMEOUT_S = 120.0
_SRT_TIME = re.compile(r"^\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}$", re.M)
_VTT_TIME = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}$", re.M)


class SelfTestError(VoxtralError):
    """One line: which step failed and how."""


def run(out: TextIO = sys.stdout, err: TextIO = sys.stderr, *, work: Path | None = None) -> int:
    """The whole self-test; returns the exit code (0 ok, 1 failed with one line on ``err``).
    ``work``: a folder to keep the model, outputs and autosave in (default: a temporary one)."""
    say = lambda line: print(f"self-test: {line}", file=out, flush=True)  # noqa: E731
    from voxtral_mlx.testing import RANDOM_NOTE

    say(RANDOM_NOTE)
    try:
        if work is not None:
            text = _run_all(Path(work), say)
        else:
            with tempfile.TemporaryDirectory(prefix="voxtral-self-test-") as tmp:
                text = _run_all(Path(tmp), say)
    except Exception as error:  # any failure is one line; the self-test never shows a traceback
        message = str(error) if isinstance(error, VoxtralError) else f"{type(error).__name__}: {error}"  # fmt: skip
        print(f"self-test failed: {message}".splitlines()[0], file=err, flush=True)
        return 1
    shown = "".join(c for c in text if c.isprintable())  # random bytes may be control codes
    print(f"self-test text (random words): {shown}", file=out)
    print("self-test ok", file=out, flush=True)
    return 0


def _run_all(work: Path, say) -> str:
    from voxtral_mlx.env import sample_audio
    from voxtral_mlx.testing import write_tiny_checkpoint

    sample = sample_audio()
    folder = write_tiny_checkpoint(work / "model")
    transcript = transcribe_sample(folder, sample, say)
    check_writers(transcript, sample, work / "out", say)
    run_live(folder, sample, work / "autosave", say)
    return transcript.text


def transcribe_sample(folder: Path, sample: Path, say):
    """The file path, as the CLI runs it: load, decode, transcribe."""
    from voxtral_mlx.audio.files import probe_duration
    from voxtral_mlx.checkpoint import weights
    from voxtral_mlx.decode.transcribe import transcribe_file
    from voxtral_mlx.text.tokenizer import Tokenizer

    t0 = time.perf_counter()
    model, _ = weights.load(folder)
    tokenizer = Tokenizer.from_file(folder)
    duration = probe_duration(sample)
    transcript = transcribe_file(sample, model, tokenizer, duration=duration)
    if not transcript.tokens or transcript.duration < 0.9 * (duration or 0):
        raise SelfTestError(f"the file transcript does not cover {sample.name}")
    took = time.perf_counter() - t0
    say(f"file: {sample.name}, {transcript.duration:.1f} s of audio, "
        f"{len(transcript.tokens)} tokens, {took:.1f} s with the model load")  # fmt: skip
    return transcript


def check_writers(transcript, sample: Path, folder: Path, say) -> list[Path]:
    """Every writer, each output read back."""
    from voxtral_mlx.text import writers
    from voxtral_mlx.text.transcript import Transcript

    paths = writers.write(transcript, sample, ["all"], output_dir=folder)
    by_format = {p.suffix.lstrip("."): p.read_text(encoding="utf-8") for p in paths}
    if set(by_format) != set(writers.FORMATS):
        raise SelfTestError(f"the writers wrote {sorted(by_format)}, not {list(writers.FORMATS)}")
    back = Transcript.from_dict(json.loads(by_format["json"]))
    if back.text != transcript.text or back.tokens != transcript.tokens:
        raise SelfTestError("the json output does not read back as the transcript")
    if by_format["txt"].split() != transcript.text.split():
        raise SelfTestError("the txt output is not the transcript's text")
    cues = len(_SRT_TIME.findall(by_format["srt"]))
    if (
        not by_format["vtt"].startswith("WEBVTT")
        or len(_VTT_TIME.findall(by_format["vtt"])) != cues
    ):
        raise SelfTestError("the srt and vtt outputs do not have the same cues")
    if transcript.text.strip() and cues == 0:
        raise SelfTestError("the srt output has no cues")
    say(f"wrote {', '.join(sorted(by_format))} (caption cues: {cues}), each read back")
    return paths


def run_live(folder: Path, sample: Path, autosave: Path, say):
    """The microphone path: LiveTranscriber + MicSource on a stand-in device playing the sample."""
    from voxtral_mlx.audio.mic import MicSource
    from voxtral_mlx.live.engine import FolderLoader, LiveTranscriber
    from voxtral_mlx.testing import FileSoundDevice

    device = FileSoundDevice.from_file(sample, speed=LIVE_SPEED)
    t0 = time.perf_counter()
    live = LiveTranscriber(FolderLoader(folder), MicSource(None, sd=device), autosave_dir=autosave)
    live.start()
    finished = _live_events(live, device.played, time.perf_counter() + LIVE_TIMEOUT_S)
    live.join(10)
    if finished.transcript.duration < 0.9 * device.seconds:
        raise SelfTestError("the live transcript does not cover the sample")
    if finished.path is None or not finished.path.is_file():
        raise SelfTestError("the live transcript was not autosaved")
    say(f"live: {sample.name} through the microphone path (a stand-in device at {LIVE_SPEED:g}x "
        f"real time), {finished.transcript.duration:.1f} s of audio, "
        f"{len(finished.transcript.tokens)} tokens, {time.perf_counter() - t0:.1f} s; autosaved")  # fmt: skip
    return finished


def _live_events(live, played, deadline: float):
    """Read events until the sample has played, stop, and return the TranscriptEvent."""
    from voxtral_mlx.live.events import ErrorEvent, Status, StatusEvent, TranscriptEvent

    finished = None
    stopping = False
    while True:
        if time.perf_counter() > deadline:
            live.stop()
            raise SelfTestError(f"the live path did not finish in {LIVE_TIMEOUT_S:.0f} s")
        if played.is_set() and not stopping:
            live.stop()  # drains: what the device delivered is still transcribed
            stopping = True
        try:
            event = live.events.get(timeout=0.05)
        except queue.Empty:
            continue
        if isinstance(event, ErrorEvent) and event.fatal:
            raise SelfTestError(f"live: {event.message}")
        finished = event if isinstance(event, TranscriptEvent) else finished
        if isinstance(event, StatusEvent) and event.status is Status.STOPPED:
            if finished is None:
                raise SelfTestError("the live path stopped without a transcript")
            return finished


if __name__ == "__main__":  # python -m voxtral_mlx.cli.self_test
    sys.exit(run())
