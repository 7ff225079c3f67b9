"""``LiveTranscriber(save_audio=...)``: the WAV holds bit for bit the audio the model was fed,
across device and delay switches (the transcript's time line); the transcript says where it
is; the app's kind (True) writes one beside each recording's journal, complete while idle; a
file that exists is one error and never touched; a disk that refuses the audio is one error
while the recording and its transcript go on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.live import tiny_live
from tests.live.tiny_live import SPEECH, live, offline_tokens, wait_for
from voxtral_mlx.audio.mic import MicSource
from voxtral_mlx.audio.sources import IteratorSource
from voxtral_mlx.checkpoint import weights
from voxtral_mlx.live.events import ErrorEvent, Status, TranscriptEvent
from voxtral_mlx.testing import FakeDevice, FakeSoundDevice, stereo_at

folder = tiny_live.folder
ROOT = Path(__file__).resolve().parents[2]


def kept(path: Path) -> np.ndarray:
    samples, rate = sf.read(path, dtype="float32")
    assert rate == 16000 and sf.info(path).subtype == "FLOAT"
    return samples


def fed(run) -> np.ndarray:
    return np.concatenate([np.concatenate(s) for s in run.fed])


def test_the_wav_is_what_the_model_heard_across_switches(folder, tmp_path, threads_back):
    first = FakeDevice("Built-in", signal=stereo_at(SPEECH[:32000], 48000), speed=4.0)
    second = FakeDevice("USB Mic", signal=stereo_at(SPEECH[16000:], 44100), rate=44100, speed=4.0)
    sd = FakeSoundDevice([first, second])
    wav = tmp_path / "take.wav"
    lt, run, _ = live(folder, MicSource("built", sd=sd), tmp_path, save_audio=str(wav))
    lt.start()
    assert first.played.wait(20)
    lt.switch(source=MicSource("usb", sd=sd), delay_ms=160)
    assert second.played.wait(20)
    lt.switch(delay_ms=960)
    wait_for(lambda: run.statuses().count("listening") == 3)
    time.sleep(0.3)
    lt.stop()
    assert lt.join(20)

    assert not run.of(ErrorEvent)
    audio = kept(wav)
    np.testing.assert_array_equal(audio, fed(run))  # bit for bit, all three sessions
    assert len(audio) / 16000 == pytest.approx(lt.transcript.duration, abs=1e-3)
    assert os.stat(wav).st_mode & 0o777 == 0o600
    assert lt.transcript.metadata["audio"] == str(wav.absolute())
    saved = json.loads(run.of(TranscriptEvent)[-1].path.read_text())
    assert saved["metadata"]["audio"] == str(wav.absolute())
    # Each session's tokens are those of its stretch of the kept file.
    model, cuts = (
        weights.load(folder)[0],
        np.cumsum([0] + [len(np.concatenate(s)) for s in run.fed]),
    )
    pieces = [audio[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    tokens = [offline_tokens(model, p, d) for p, d in zip(pieces, (480, 160, 960), strict=True)]
    assert lt.transcript.tokens == sum(tokens, [])


def test_the_apps_audio_goes_beside_each_journal_and_is_complete_while_idle(
    folder, tmp_path, threads_back
):
    lt, run, _ = live(folder, None, tmp_path, idle_on_end=True, save_audio=True)
    lt.start()
    lt.switch(source=IteratorSource([SPEECH[:8000], SPEECH[8000:20000]], name="clip"),
              new_transcript=True)  # fmt: skip
    wait_for(lambda: run.statuses()[-1:] == ["idle"] and len(run.of(TranscriptEvent)) == 1)
    first = lt.journal.with_suffix(".wav")
    np.testing.assert_array_equal(kept(first), SPEECH[:20000])  # readable while idle
    lt.switch(source=[SPEECH[20000:36000]])  # the same recording goes on
    wait_for(lambda: run.statuses()[-1:] == ["idle"] and len(run.of(TranscriptEvent)) == 2)
    lt.save_audio = False  # the setting turned off: from the next recording
    lt.switch(source=[SPEECH[:4000]], new_transcript=True)
    wait_for(lambda: run.statuses()[-1:] == ["idle"] and len(run.of(TranscriptEvent)) == 4)
    lt.stop()
    assert lt.join(20)

    assert not run.of(ErrorEvent)
    np.testing.assert_array_equal(kept(first), SPEECH[:36000])
    journals = sorted((tmp_path / "autosave").glob("*.jsonl"))
    assert len(journals) == 2 and sorted((tmp_path / "autosave").glob("*.wav")) == [first]
    assert first.with_suffix(".jsonl") in journals  # same stem as its journal
    metas = [e.transcript.metadata for e in run.of(TranscriptEvent)]
    # first recording: idle, idle, closed; the second (no audio): idle, closed at stop
    assert [m.get("audio") for m in metas] == [str(first)] * 3 + [None] * 2


def test_an_existing_file_is_one_error_and_never_touched(folder, tmp_path, threads_back):
    wav = tmp_path / "meeting.wav"
    wav.write_bytes(b"yesterday's meeting")
    lt, run, _ = live(folder, [SPEECH[:16000]], tmp_path, save_audio=wav)
    lt.start()
    assert lt.join(20)
    (error,) = run.of(ErrorEvent)
    assert not error.fatal and str(wav) in error.message and "not kept" in error.message
    assert wav.read_bytes() == b"yesterday's meeting"
    assert lt.transcript.words and "audio" not in lt.transcript.metadata
    assert run.statuses()[-1] == Status.STOPPED.value


# A child whose files may not pass LIMIT bytes (RLIMIT_FSIZE: the OS refuses the write, EFBIG,
# as a full disk would): the WAV fails 1.5 s in; the journal and the transcript are small.
CHILD = """
import json, resource, sys
from pathlib import Path
from tests.live.tiny_live import SPEECH, Loader
from voxtral_mlx.live.engine import LiveTranscriber
from voxtral_mlx.live.events import ErrorEvent, TranscriptEvent
folder, out = Path(sys.argv[1]), Path(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (58 + 4 * 24000, resource.RLIM_INFINITY))
events = []
chunks = [SPEECH[i : i + 1600] for i in range(0, len(SPEECH), 1600)]
lt = LiveTranscriber(Loader(folder), chunks, on_event=events.append, autosave_dir=out,
                     save_audio=out / "take.wav")
lt.start()
lt.join()
done = [e for e in events if isinstance(e, TranscriptEvent)][-1]
print(json.dumps({"errors": [e.message for e in events if isinstance(e, ErrorEvent)],
                  "tokens": lt.transcript.tokens, "json": str(done.path)}))
"""


def test_a_refused_write_is_one_error_and_the_transcript_goes_on(folder, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    r = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.splitlines()[-1])
    wav = out / "take.wav"
    assert report["errors"] == [f"cannot keep the audio in {wav}: File too large; the audio "
                                "after 1.5 s is not kept (the transcript goes on)"]  # fmt: skip
    model = weights.load(folder)[0]
    assert report["tokens"] == offline_tokens(model, SPEECH)  # the whole take, not 1.5 s
    assert json.loads(Path(report["json"]).read_text())["tokens"] == report["tokens"]
    np.testing.assert_array_equal(kept(wav), SPEECH[:24000])  # what fitted, readable
