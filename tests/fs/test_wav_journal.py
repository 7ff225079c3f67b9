"""The crash-safe WAV: read back by libsndfile and FFmpeg (independent decoders) bit for bit,
its header checked field by field against the WAVE spec, 0600, never written over an existing
file or through a link, readable after ``kill -9`` mid-recording with all but at most the
last second, and a write refused by the OS (a file size limit) is one error line with what
was written still readable."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.fs.wav_journal import WavJournal

ROOT = Path(__file__).resolve().parents[2]
RATE = 16000


def ramp(start: int, n: int) -> np.ndarray:
    """Samples that say where they are: any gap, repeat or shift shows."""
    return ((np.arange(start, start + n) % 4093) / 4093 - 0.5).astype(np.float32)


def read_ffmpeg(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])


def fields(path: Path) -> dict:
    """The header as the WAVE spec lays it out (RIFF, fmt with cbSize, fact, data)."""
    raw = path.read_bytes()[:58]
    riff, size, wave = struct.unpack("<4sI4s", raw[:12])
    fmt_id, fmt_size, tag, channels, rate, byte_rate, align, bits, cb = struct.unpack("<4sIHHIIHHH", raw[12:38])  # fmt: skip
    fact_id, fact_size, fact_frames = struct.unpack("<4sII", raw[38:50])
    data_id, data_size = struct.unpack("<4sI", raw[50:58])
    assert (riff, wave, fmt_id, fact_id, data_id) == (b"RIFF", b"WAVE", b"fmt ", b"fact", b"data")
    assert (fmt_size, tag, channels, rate, byte_rate, align, bits, cb, fact_size) == (
        18, 3, 1, RATE, 4 * RATE, 4, 32, 0, 4)  # fmt: skip
    return {"riff": size, "frames": fact_frames, "data": data_size}


def test_closed_file_is_a_valid_float_wav_with_every_sample(tmp_path):
    path = tmp_path / "take.wav"
    old = os.umask(0o022)
    try:
        wav = WavJournal(path, RATE)
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o600  # what someone said: only its owner reads it
    chunks = [ramp(0, 1600), ramp(1600, 37), np.zeros(0, np.float32), ramp(1637, 16000)]
    for chunk in chunks:
        wav.write(chunk)
    wav.close()
    wav.close()  # idempotent
    expected = np.concatenate(chunks)
    head = fields(path)
    n = len(expected)
    assert head == {"riff": 50 + 4 * n, "frames": n, "data": 4 * n}
    assert path.stat().st_size == 58 + 4 * n
    samples, rate = sf.read(path, dtype="float32")
    assert rate == RATE and sf.info(path).subtype == "FLOAT"
    np.testing.assert_array_equal(samples, expected)  # bit for bit
    np.testing.assert_array_equal(read_ffmpeg(path), expected)


def test_an_empty_recording_is_a_valid_empty_wav(tmp_path):
    path = tmp_path / "empty.wav"
    WavJournal(path).close()
    assert fields(path) == {"riff": 50, "frames": 0, "data": 0}
    assert sf.info(path).frames == 0


def test_an_existing_file_or_link_is_never_written(tmp_path):
    kept = tmp_path / "kept.wav"
    kept.write_bytes(b"someone's recording")
    with pytest.raises(VoxtralError, match="kept.wav exists"):
        WavJournal(kept)
    assert kept.read_bytes() == b"someone's recording"
    link = tmp_path / "link.wav"
    link.symlink_to(kept)
    with pytest.raises(VoxtralError, match="link.wav exists"):
        WavJournal(link)
    dangling = tmp_path / "dangling.wav"
    dangling.symlink_to(tmp_path / "nowhere.wav")
    with pytest.raises(VoxtralError, match="exists"):
        WavJournal(dangling)
    assert kept.read_bytes() == b"someone's recording" and not (tmp_path / "nowhere.wav").exists()
    with pytest.raises(VoxtralError, match="cannot keep the audio in .*No such file"):
        WavJournal(tmp_path / "no" / "such" / "folder.wav")


# The child writes 0.1 s chunks of the ramp for ever; its clock is the audio's own time, so
# "about once a second" is exactly every 16000 samples. It prints the samples written so far.
WRITER = """
import sys, time
from tests.fs.test_wav_journal import ramp
from voxtral_mlx.fs.wav_journal import WavJournal
now = [0.0]
wav = WavJournal(sys.argv[1], 16000, clock=lambda: now[0])
n = 0
while True:
    now[0] = (n + 1600) / 16000
    wav.write(ramp(n, 1600))
    n += 1600
    print(n, flush=True)
    time.sleep(0.001)
"""


def test_after_kill_9_the_file_plays_and_lacks_at_most_the_last_second(tmp_path):
    path = tmp_path / "crash.wav"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        written = 0
        while written < 3 * RATE + 4321:  # mid-recording, between two syncs
            written = int(child.stdout.readline())
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    head = fields(path)
    assert head["data"] == 4 * head["frames"] and head["riff"] == 50 + 4 * head["frames"]
    samples, _ = sf.read(path, dtype="float32")
    assert written - RATE < len(samples) <= (path.stat().st_size - 58) // 4
    np.testing.assert_array_equal(samples, ramp(0, len(samples)))
    np.testing.assert_array_equal(read_ffmpeg(path), samples)


# The child may write files of at most LIMIT bytes (RLIMIT_FSIZE): the OS refuses the write
# that would pass it (EFBIG; Python ignores SIGXFSZ) as a full disk would.
FULL = """
import resource, sys
from tests.fs.test_wav_journal import ramp
from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.fs.wav_journal import WavJournal
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
wav = WavJournal(sys.argv[1])
n = 0
try:
    while True:
        wav.write(ramp(n, 1600))
        n += 1600
except VoxtralError as err:
    wav.abandon()
    print(wav.frames, n, err, sep="\\n")
"""


def test_a_refused_write_is_one_line_and_what_was_written_stays_readable(tmp_path):
    path = tmp_path / "full.wav"
    limit = 58 + 4 * 20000 + 2  # the refused write ends inside a sample
    r = subprocess.run([sys.executable, "-c", FULL, str(path), str(limit)], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    frames, before, message = r.stdout.splitlines()
    assert int(frames) == 20000 and int(before) == 19200  # the chunk that hit the limit: part
    assert message == f"cannot keep the audio in {path}: File too large"
    assert fields(path)["frames"] == 20000  # abandon() made the header cover what was written
    samples, _ = sf.read(path, dtype="float32")
    np.testing.assert_array_equal(samples, ramp(0, 20000))
