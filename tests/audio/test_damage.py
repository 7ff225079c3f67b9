"""Damaged input keeps what decodes: garbage mid-file, cut-off tails and NaN/Inf samples give
the clean decode outside the damaged span, at its true position in the file, and one
``on_damage`` report per span; ``strict=True`` raises instead.

Every damaged file is made here from a clean one written by soundfile or PyAV; the clean
file's decode is the expectation.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
import soundfile as sf

from voxtral_mlx.audio.damage import DamageLog
from voxtral_mlx.audio.files import Damage, iter_audio, load_audio, summarize_damage
from voxtral_mlx.audio.pyav import _place
from voxtral_mlx.errors import AudioError

from .test_audio import write_pyav

RATE = 44100
SECONDS = 12.0


def noise(seconds: float = SECONDS, rate: int = RATE) -> np.ndarray:
    """Noise, not a tone: a shifted copy of it cannot match, so misplaced samples show."""
    rng = np.random.default_rng(0)
    return (0.2 * rng.standard_normal(int(seconds * rate))).astype(np.float32)


def write_clean(path: Path) -> Path:
    suffix = path.suffix
    if suffix == ".m4a":  # index first, as a phone or ffmpeg -movflags faststart writes it
        write_pyav(path, noise(), RATE, "aac", options={"movflags": "faststart"})
    elif suffix == ".mp3":
        sf.write(path, noise(), RATE, format="MP3")
    elif suffix == ".ogg":
        sf.write(path, noise(), RATE, format="OGG", subtype="VORBIS")
    elif suffix == ".opus":  # Opus runs at 48 kHz only
        sf.write(path, noise(rate=48000), 48000, format="OGG", subtype="OPUS")
    else:
        sf.write(path, noise(), RATE, subtype="PCM_16")
    return path


def overwrite_middle(clean: Path, out: Path, n_bytes: int = 4096) -> tuple[Path, float]:
    """``n_bytes`` of random garbage over the middle; returns the file and where (seconds)."""
    data = bytearray(clean.read_bytes())
    at = len(data) // 2
    data[at : at + n_bytes] = np.random.default_rng(1).bytes(n_bytes)
    out.write_bytes(bytes(data))
    return out, SECONDS * at / len(data)


def cut_tail(clean: Path, out: Path, keep: float = 0.7) -> Path:
    data = clean.read_bytes()
    out.write_bytes(data[: int(len(data) * keep)])
    return out


def load_with_reports(path: Path, **kwargs) -> tuple[np.ndarray, list[Damage]]:
    reports: list[Damage] = []
    return load_audio(path, on_damage=reports.append, **kwargs), reports


def best_lag(got: np.ndarray, want: np.ndarray, at: int, n: int, search: int) -> int:
    """The shift of ``want[at:at+n]`` inside ``got`` (cross-correlation over +-search)."""
    window = got[at - search : at + n + search]
    corr = np.correlate(window, want[at : at + n], "valid")
    return int(np.argmax(corr)) - search


# --- garbage mid-file ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".flac", ".ogg", ".opus", ".m4a"])
def test_garbage_mid_file_keeps_everything_else_in_place(tmp_path, suffix):
    """Containers with real timestamps (FLAC frame numbers, ogg granules, mp4 tables): the
    lost frames become zeros of their length, and the rest is the clean decode exactly."""
    clean = write_clean(tmp_path / f"clean{suffix}")
    damaged, at_s = overwrite_middle(clean, tmp_path / f"talk{suffix}")
    want = load_audio(clean)
    got, reports = load_with_reports(damaged)
    assert len(got) == len(want)
    assert len(reports) == 1
    span = reports[0]
    assert span.path == str(damaged) and span.reason == "corrupt frames"
    # Bytes are not quite proportional to time (header, frame sizes vary): 0.2 s of slack.
    assert span.start_s - 0.2 <= at_s <= span.end_s + 0.2 and span.end_s - span.start_s < 2.5
    # Outside the span plus the reach of the resampling filter (~40 ms), the clean decode
    # exactly. Lossy decoders need longer to settle after a gap (garbage that still parses as
    # AAC frames decodes to noise, up to 0.8 s seen), but then match to the sample.
    lossless = suffix == ".flac"
    a = int((span.start_s - 0.05) * 16000)
    b = int((span.end_s + (0.05 if lossless else 1.0)) * 16000)
    np.testing.assert_array_equal(got[:a], want[:a])
    np.testing.assert_array_equal(got[b:], want[b:])
    if lossless:  # silence where the frames were lost
        assert np.abs(got[a + 1600 : b - 1600]).max() < 1e-3
    assert span.message().startswith(f"{damaged}: damaged audio from 0:0")


def test_mp3_with_garbage_mid_file_keeps_later_audio_at_its_time(tmp_path):
    """Raw mp3 has no frame numbers: the lost time comes from the lost bytes at the byte rate."""
    clean = write_clean(tmp_path / "clean.mp3")
    damaged, at_s = overwrite_middle(clean, tmp_path / "talk.mp3")
    want = load_audio(clean)
    got, reports = load_with_reports(damaged)
    assert len(reports) == 1 and reports[0].reason == "corrupt frames"
    assert reports[0].start_s - 0.2 <= at_s <= reports[0].end_s + 0.2
    assert abs(len(got) - len(want)) < 0.03 * 16000
    lag = best_lag(got, want, 9 * 16000, 16000, 8000)
    assert abs(lag) < 0.01 * 16000, lag  # without the fill, 0.4 s early
    np.testing.assert_allclose(got[: 5 * 16000], want[: 5 * 16000], atol=1e-6)


@pytest.mark.parametrize("suffix", [".flac", ".mp3"])
def test_garbage_mid_file_is_an_error_when_strict(tmp_path, suffix):
    damaged, _ = overwrite_middle(write_clean(tmp_path / f"clean{suffix}"), tmp_path / f"t{suffix}")
    # Where the garbage is (mid-file, 6 s), not where a reader's block began.
    with pytest.raises(AudioError, match=rf"t{suffix}: corrupt audio at (5\.[5-9]|6\.[0-4]) s"):
        load_audio(damaged, strict=True)
    with pytest.raises(AudioError):
        list(iter_audio(damaged, 0.5, strict=True))


@pytest.mark.parametrize("suffix", [".flac", ".mp3"])
def test_iter_audio_on_damaged_file_equals_load_audio(tmp_path, suffix):
    damaged, _ = overwrite_middle(write_clean(tmp_path / f"clean{suffix}"), tmp_path / f"t{suffix}")
    whole, whole_reports = load_with_reports(damaged)
    reports: list[Damage] = []
    chunks = list(iter_audio(damaged, 0.7, on_damage=reports.append))
    np.testing.assert_array_equal(np.concatenate(chunks), whole)
    assert reports == whole_reports


# --- a cut-off tail -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3", ".m4a"])
def test_truncated_tail_keeps_what_came_before(tmp_path, suffix):
    clean = write_clean(tmp_path / f"clean{suffix}")
    cut = cut_tail(clean, tmp_path / f"cut{suffix}")
    want = load_audio(clean)
    got, reports = load_with_reports(cut)
    # Byte 70 % is about 70 % of the time (within a codec frame or two, and the header).
    assert abs(len(got) / 16000 - 0.7 * SECONDS) < 0.3, len(got) / 16000
    n = len(got) - 1600  # the resampler's flush differs in the last few ms
    np.testing.assert_allclose(got[:n], want[:n], atol=1e-5, rtol=0)
    assert len(reports) == 1
    span = reports[0]
    assert span.reason == "file truncated"
    assert span.start_s == pytest.approx(len(got) / 16000, abs=0.1)
    assert span.end_s == pytest.approx(SECONDS, abs=0.1)  # every header here says how long
    assert span.message().endswith("(file truncated); transcribed what came before")
    with pytest.raises(AudioError, match=f"cut{suffix}: ") as info:
        load_audio(cut, strict=True)
    assert "transcribed" not in str(info.value)


def test_truncated_mp3_behind_a_large_id3_tag_still_knows_its_length(tmp_path):
    """The Xing frame (exact length) sits after the tag: 200 KB of cover art, say."""
    clean = write_clean(tmp_path / "clean.mp3")
    size = 200_000
    syncsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    tagged = tmp_path / "tagged.mp3"
    tagged.write_bytes(b"ID3\x04\x00\x00" + syncsafe + bytes(size) + clean.read_bytes())
    data = tagged.read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: size + int(0.7 * (len(data) - size))])
    _, reports = load_with_reports(cut)
    assert [(r.reason, round(r.end_s)) for r in reports] == [("file truncated", SECONDS)]


def test_wav_with_a_streaming_placeholder_size_is_not_truncated(tmp_path):
    """Recorders writing to a pipe cannot seek back, and leave 0xFFFFFFFF as the data size."""
    path = write_clean(tmp_path / "live.wav")
    data = bytearray(path.read_bytes())
    at = data.index(b"data") + 4
    data[at : at + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    got, reports = load_with_reports(path)
    assert reports == [] and len(got) == SECONDS * 16000


def test_clean_files_report_no_damage(tmp_path):
    for suffix in (".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus"):
        _, reports = load_with_reports(write_clean(tmp_path / f"clean{suffix}"))
        assert reports == [], suffix


def test_truncated_m4a_with_its_index_at_the_end_is_one_line_error(tmp_path):
    """mp4's sample table (moov) written last: cut off, no frame can be located at all."""
    clean = tmp_path / "clean.m4a"
    write_pyav(clean, noise(), RATE, "aac")
    cut = cut_tail(clean, tmp_path / "cut.m4a")
    with pytest.raises(AudioError, match="cut.m4a: .*damaged file"):
        load_audio(cut)


# --- NaN / Inf samples --------------------------------------------------------------------------


def nan_wav(path: Path) -> tuple[Path, np.ndarray]:
    x = noise(4.0, 16000)
    x[8000] = np.nan  # 0.5 s
    x[9600:9700] = np.inf  # 0.6 s, close to the first: the same span to a reader
    x[48000:48010] = -np.inf  # 3.0 s: a second span
    sf.write(path, x, 16000, subtype="FLOAT", format="WAV")
    return path, x


@pytest.mark.parametrize("name", ["bad.wav", "bad.dat"])  # soundfile, and FFmpeg's wav reader
def test_nan_and_inf_samples_become_silence(tmp_path, name):
    path, x = nan_wav(tmp_path / name)
    got, reports = load_with_reports(path)
    want = np.where(np.isfinite(x), x, 0.0)
    np.testing.assert_array_equal(got, want)
    assert [(r.start_s, r.end_s, r.reason) for r in reports] == [
        (0.5, 9700 / 16000, "NaN/Inf samples"),
        (3.0, 48010 / 16000, "NaN/Inf samples"),
    ]
    chunks, streamed = [], []
    chunks = list(iter_audio(path, 0.3, on_damage=streamed.append))
    np.testing.assert_array_equal(np.concatenate(chunks), want)
    assert streamed == reports
    with pytest.raises(AudioError, match=r"contains NaN or infinite samples \(first at 0.500 s\)"):
        load_audio(path, strict=True)


# --- the report ---------------------------------------------------------------------------------


def test_damage_message_is_one_line_with_the_span():
    d = Damage("talk.flac", 31.2, 31.5, "corrupt frames")
    assert d.message() == (
        "talk.flac: damaged audio from 0:31.2 to 0:31.5 (corrupt frames); transcribed the rest"
    )
    late = Damage("a.mp3", 3725.04, None, "file truncated")
    assert late.message() == (
        "a.mp3: damaged audio from 1:02:05.0 to the end (file truncated); "
        "transcribed what came before"
    )
    assert (
        Damage("b.wav", 2.0, 2.0, "corrupt frames")
        .message()
        .startswith("b.wav: damaged audio at 0:02.0 (")
    )


def test_summarize_damage_gives_one_line_per_file():
    spans = [
        Damage("t.flac", 40.0, None, "file truncated"),
        Damage("t.flac", 3.0, 3.1, "NaN/Inf samples"),
        Damage("t.flac", 10.0, 10.2, "corrupt frames"),
    ]
    summary = summarize_damage(spans)
    assert summary == Damage(
        "t.flac", 3.0, None, "NaN/Inf samples; corrupt frames; file truncated", 3
    )
    assert summary.message() == (
        "t.flac: damaged audio in 3 places from 0:03.0 to the end "
        "(NaN/Inf samples; corrupt frames; file truncated); transcribed the rest"
    )
    assert summarize_damage([]) is None
    assert summarize_damage(spans[1:2]) == spans[1]


# --- timestamps that cannot be trusted ----------------------------------------------------------


class _FakePackets:
    """What _place reads from the demuxer: its format, its length, and nothing lost."""

    def __init__(self, n_samples: int, rate: int):
        self.container = SimpleNamespace(
            format=SimpleNamespace(name="matroska,webm"), duration=n_samples * 10**6 // rate
        )
        self.stream = SimpleNamespace(duration=None, time_base=None)

    def take_loss(self) -> tuple[int, int]:
        return 0, 0


def _frame(pts: int, rate: int = 16000, n: int = 1024) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(
        np.full((1, n), 0.5, np.float32), format="fltp", layout="mono"
    )
    frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
    return frame


def test_a_bogus_timestamp_does_not_make_hours_of_silence():
    """A frame stamped 6 hours ahead in a 0.3 s file is a discontinuity, not lost audio."""
    frames = [_frame(p) for p in (0, 1024, 16000 * 6 * 3600, 2048, 3072)]
    log = DamageLog("x.mkv", strict=False, on_damage=None)
    out = list(
        _place("x.mkv", _FakePackets(5 * 1024, 16000), iter(frames[1:]), frames[0], 16000, log)
    )
    samples = np.concatenate(out)
    assert len(samples) == 5 * 1024 and (samples == 0.5).all()
