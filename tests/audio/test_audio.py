"""Audio in: decoding every format from files the test writes, soxr resampling quality, bad
inputs -> AudioError with a useful message, and StreamingMel == batch log_mel for any chunking.

The mel-vs-transformers parity lives in tests/reference/test_mel_parity.py (the only place torch
may be imported). tests/data/speech_en_22k.flac was made with
``espeak-ng -v en-us -s 160 -w speech.wav "Hello world. This is a test of the speech recognizer."``
(22050 Hz, 16-bit, 3.6 s), stored as FLAC.
"""

from __future__ import annotations

import os
import select
import signal
import struct
import tempfile
from pathlib import Path

import av
import mlx.core as mx
import numpy as np
import pytest
import soundfile as sf
import soxr

from voxtral_mlx.audio.files import iter_audio, load_audio
from voxtral_mlx.audio.mel import StreamingMel, log_mel, pad_for_stream
from voxtral_mlx.errors import AudioError
from voxtral_mlx.protocol import SAMPLE_RATE

DATA = Path(__file__).parents[1] / "data"
SPEECH = DATA / "speech_en_22k.flac"


def two_tones(rate: int, seconds: float = 1.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    left = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1234 * t)
    if channels == 1:
        return left.astype(np.float32)
    right = 0.3 * np.sin(2 * np.pi * 660 * t)
    return np.stack([left, right], axis=1).astype(np.float32)


def resampled(x: np.ndarray, rate: int) -> np.ndarray:
    """The independent expectation: mono mix, one-shot soxr HQ."""
    mono = x.mean(axis=1) if x.ndim == 2 else x
    return mono if rate == SAMPLE_RATE else soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ")


def write_pyav(
    path: Path, x: np.ndarray, rate: int, codec: str, with_video: bool = False, options=None
) -> None:
    """Encode ``x`` ([n] or [n, 2]) with FFmpeg through PyAV; optionally beside a video track.

    ``options``: muxer options, e.g. ``{"movflags": "faststart"}`` (mp4 index first).
    """
    planar = np.ascontiguousarray((x[None, :] if x.ndim == 1 else x.T).astype(np.float32))
    layout = "mono" if planar.shape[0] == 1 else "stereo"
    with av.open(str(path), "w", options=options or {}) as out:
        video = out.add_stream("mpeg4", rate=10) if with_video else None
        audio = out.add_stream(codec, rate=rate, layout=layout)
        if video is not None:
            video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
            for k in range(5):
                frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
                frame.pts = k
                out.mux(video.encode(frame))
            out.mux(video.encode())
        for i in range(0, planar.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(
                planar[:, i : i + 1024], format="fltp", layout=layout
            )
            frame.sample_rate, frame.pts = rate, i
            out.mux(audio.encode(frame))
        out.mux(audio.encode())


def aligned_snr_db(got: np.ndarray, want: np.ndarray) -> float:
    """SNR of ``got`` against ``want`` after removing a codec delay found by cross-correlation."""
    n = len(want)
    corr = np.fft.irfft(np.fft.rfft(got, 4 * n) * np.conj(np.fft.rfft(want, 4 * n)))
    lag = int(np.argmax(corr[: 2 * n]))  # codecs only ever delay
    seg = got[lag : lag + n]
    ref = want[: len(seg)]
    return 10 * np.log10(np.sum(ref**2) / np.sum((seg - ref) ** 2))


# --- decoding: every format round-trips through a file written here ---------------------------

LOSSLESS = [  # suffix, soundfile format, subtype, rate, max abs error from quantisation
    ("wav", "WAV", "PCM_U8", 8000, 1.2e-2),
    ("wav", "WAV", "PCM_16", 44100, 1e-4),
    ("wav", "WAV", "PCM_24", 48000, 1e-6),
    ("wav", "WAV", "PCM_32", 22050, 1e-6),
    ("wav", "WAV", "FLOAT", 16000, 0.0),
    ("flac", "FLAC", "PCM_16", 44100, 1e-4),
    ("flac", "FLAC", "PCM_24", 96000, 1e-6),
]


@pytest.mark.parametrize("suffix,fmt,subtype,rate,tol", LOSSLESS)
def test_lossless_soundfile_round_trip(tmp_path, suffix, fmt, subtype, rate, tol):
    x = two_tones(rate)
    path = tmp_path / f"tones_{subtype}.{suffix}"
    sf.write(path, x, rate, format=fmt, subtype=subtype)
    got = load_audio(path)
    want = resampled(x, rate)
    assert got.dtype == np.float32 and got.ndim == 1
    assert len(got) == len(want) == SAMPLE_RATE
    assert np.abs(got - want).max() <= tol + 1e-6


LOSSY_SOUNDFILE = [  # suffix, format, subtype, rate
    ("ogg", "OGG", "VORBIS", 44100),
    ("opus", "OGG", "OPUS", 48000),
    ("mp3", "MP3", "MPEG_LAYER_III", 44100),
]
LOSSY_PYAV = [  # suffix, codec, rate, with a video track
    ("m4a", "aac", 44100, False),
    ("aac", "aac", 22050, False),
    ("mp4", "aac", 48000, True),
    ("mov", "aac", 44100, True),
    ("webm", "libopus", 48000, False),
    ("mkv", "libmp3lame", 44100, False),
]


def _check_lossy(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == np.float32 and got.ndim == 1
    # Codec priming and padding change the length by up to two codec frames (raw ADTS AAC keeps
    # 1024 priming samples plus up to 1024 of padding: 93 ms at 22.05 kHz).
    assert abs(len(got) - len(want)) <= 0.1 * SAMPLE_RATE, len(got)
    assert aligned_snr_db(got, want) > 12


@pytest.mark.parametrize("suffix,fmt,subtype,rate", LOSSY_SOUNDFILE)
def test_lossy_soundfile_round_trip(tmp_path, suffix, fmt, subtype, rate):
    x = two_tones(rate)
    path = tmp_path / f"tones.{suffix}"
    sf.write(path, x, rate, format=fmt, subtype=subtype)
    _check_lossy(load_audio(path), resampled(x, rate))


@pytest.mark.parametrize("suffix,codec,rate,with_video", LOSSY_PYAV)
def test_pyav_round_trip(tmp_path, suffix, codec, rate, with_video):
    x = two_tones(rate)
    path = tmp_path / f"tones.{suffix}"
    write_pyav(path, x, rate, codec, with_video=with_video)
    _check_lossy(load_audio(path), resampled(x, rate))


def test_stereo_24bit_wav_is_channel_average(tmp_path):
    x = two_tones(48000, channels=2)
    path = tmp_path / "stereo24.wav"
    sf.write(path, x, 48000, subtype="PCM_24")
    got = load_audio(path)
    want = resampled(x, 48000)
    assert np.abs(got - want).max() < 1e-5
    # Not just the left channel: the 660 Hz right-channel tone is present at half amplitude.
    assert np.abs(got - resampled(x[:, 0], 48000)).max() > 0.1


def test_stereo_m4a_is_channel_average(tmp_path):
    x = two_tones(44100, channels=2)
    path = tmp_path / "stereo.m4a"
    write_pyav(path, x, 44100, "aac")
    _check_lossy(load_audio(path), resampled(x, 44100))


def test_mp3_with_wrong_suffix_falls_back_to_ffmpeg(tmp_path):
    path = tmp_path / "really_mp3.m4a"
    sf.write(tmp_path / "a.mp3", two_tones(44100), 44100, format="MP3")
    os.rename(tmp_path / "a.mp3", path)
    _check_lossy(load_audio(path), resampled(two_tones(44100), 44100))


def test_committed_speech_file_decodes():
    speech = load_audio(SPEECH)
    assert abs(len(speech) - round(sf.info(SPEECH).frames * 16000 / 22050)) <= 1
    assert 0.05 < np.abs(speech).max() <= 1.0


def test_clipping_and_silence_are_not_errors(tmp_path):
    silent = tmp_path / "silence.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    assert not load_audio(silent).any()
    hot = tmp_path / "clipped.wav"  # float WAV may exceed full scale; we pass it through as-is
    sf.write(hot, np.full(16000, 1.5, np.float32), 16000, subtype="FLOAT")
    assert load_audio(hot).max() == pytest.approx(1.5)
    square = tmp_path / "square.wav"
    sf.write(square, np.sign(two_tones(16000)), 16000, subtype="PCM_16")
    assert np.abs(load_audio(square)).max() == pytest.approx(1.0, abs=1e-4)


def test_exactly_one_token_is_enough(tmp_path):
    path = tmp_path / "one_token.wav"
    sf.write(path, two_tones(16000)[:1280], 16000)
    assert len(load_audio(path)) == 1280


# --- resampling quality --------------------------------------------------------------------------


def _blackman_harris(n: int) -> np.ndarray:
    k = 2 * np.pi * np.arange(n) / (n - 1)
    return 0.35875 - 0.48829 * np.cos(k) + 0.14128 * np.cos(2 * k) - 0.01168 * np.cos(3 * k)


def spurious_db(y: np.ndarray, tone_hz: float = 1000.0) -> tuple[float, float]:
    """(peak frequency, energy outside tone_hz +- 20 Hz relative to the total, in dB)."""
    spec = np.abs(np.fft.rfft(y * _blackman_harris(len(y)))) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / SAMPLE_RATE)
    outside = np.abs(freqs - tone_hz) > 20
    return float(freqs[np.argmax(spec)]), float(10 * np.log10(spec[outside].sum() / spec.sum()))


def tone_file(tmp_path: Path, rate: int) -> tuple[Path, int]:
    """2 s of 1 kHz, plus (where the source rate allows) a 12 kHz tone that must not alias."""
    t = np.arange(2 * rate) / rate
    x = 0.5 * np.sin(2 * np.pi * 1000 * t)
    if rate > 24000:
        x += 0.4 * np.sin(2 * np.pi * 12000 * t)  # would fold to 4 kHz without a low-pass
    path = tmp_path / f"tone_{rate}.wav"
    sf.write(path, x.astype(np.float32), rate, subtype="FLOAT")
    return path, len(x)


@pytest.mark.parametrize("rate", [44100, 48000, 8000])
def test_resampled_tone_is_clean(tmp_path, rate):
    path, n = tone_file(tmp_path, rate)
    y = load_audio(path)
    assert abs(len(y) - n * SAMPLE_RATE / rate) <= 1
    peak, spurious = spurious_db(y)
    assert peak == pytest.approx(1000.0, abs=1.0)
    assert spurious < -60, spurious


def test_tone_metric_catches_naive_resampling(tmp_path):
    """The metric above can fail: linear interpolation of the same files breaks -60 dB."""
    for rate in (44100, 8000):
        path, n = tone_file(tmp_path, rate)
        x, _ = sf.read(path, dtype="float32")
        t_out = np.arange(round(n * SAMPLE_RATE / rate)) * rate / SAMPLE_RATE
        naive = np.interp(t_out, np.arange(n), x).astype(np.float32)
        assert spurious_db(naive)[1] > -60


# --- iter_audio: bounded blocks, same samples as load_audio -------------------------------------


@pytest.mark.parametrize("block_seconds", [0.01, 0.37, 30.0])
def test_iter_audio_equals_load_audio_soundfile(block_seconds):
    chunks = list(iter_audio(SPEECH, block_seconds=block_seconds))
    whole = load_audio(SPEECH)
    # soxr's streaming and one-shot paths compute the same samples: no edge effect at all.
    np.testing.assert_array_equal(np.concatenate(chunks), whole)
    assert max(len(c) for c in chunks) <= block_seconds * SAMPLE_RATE + 1000


@pytest.mark.parametrize("block_seconds", [0.05, 30.0])
def test_iter_audio_equals_load_audio_pyav(tmp_path, block_seconds):
    path = tmp_path / "speech.m4a"
    speech, rate = sf.read(SPEECH, dtype="float32")
    write_pyav(path, speech, rate, "aac")
    chunks = list(iter_audio(path, block_seconds=block_seconds))
    np.testing.assert_array_equal(np.concatenate(chunks), load_audio(path))
    assert max(len(c) for c in chunks) <= block_seconds * SAMPLE_RATE + 1000


def test_iter_audio_without_resampling_yields_blocks(tmp_path):
    path = tmp_path / "16k.wav"
    x = two_tones(16000, seconds=1.0)
    sf.write(path, x, 16000, subtype="FLOAT")
    chunks = list(iter_audio(path, block_seconds=0.25))
    assert [len(c) for c in chunks] == [4000] * 4
    np.testing.assert_array_equal(np.concatenate(chunks), x)


def test_iter_audio_rejects_bad_block_size():
    with pytest.raises(ValueError, match="block_seconds"):
        next(iter_audio(SPEECH, block_seconds=0))


# --- bad input -> AudioError naming the file and the problem -----------------------------------


def _wav_with_rate(path: Path, rate: int) -> Path:
    sf.write(path, np.zeros(20000, np.float32), rate)
    return path


def _nan_wav(path: Path, value: float) -> Path:
    x = two_tones(16000)
    x[8000] = value
    sf.write(path, x, 16000, subtype="FLOAT")
    return path


BAD_INPUTS = {  # name -> (maker(tmp_path) -> path, expected words in the message)
    "missing": (lambda d: d / "nope.wav", "file not found"),
    "directory": (lambda d: d, "is a directory"),
    "empty_wav": (lambda d: _touch(d / "empty.wav", b""), "file is empty (0 bytes)"),
    "empty_m4a": (lambda d: _touch(d / "empty.m4a", b""), "file is empty (0 bytes)"),
    "text_as_wav": (lambda d: _touch(d / "notes.wav", b"not audio\n" * 50), "not an audio file"),
    "text_as_m4a": (lambda d: _touch(d / "notes.m4a", b"not audio\n" * 50), "not an audio file"),
    "zip": (lambda d: _touch(d / "a.zip", b"PK\x05\x06" + bytes(18)), "unsupported container"),
    "truncated_header": (lambda d: _truncated(d, 20), "damaged file"),
    "video_only": (lambda d: _video_only(d / "v.mp4"), "no audio track"),
    "zero_frames": (lambda d: _wav_samples(d / "z.wav", 0, 16000), "contains no audio samples"),
    "short_16k": (lambda d: _wav_samples(d / "s.wav", 1279, 16000), "too short (80 ms"),
    "short_44k": (lambda d: _wav_samples(d / "s.wav", 3000, 44100), "too short (68 ms"),
    "nan": (
        lambda d: _nan_wav(d / "nan.wav", np.nan),
        "NaN or infinite samples (first at 0.500 s)",
    ),
    "inf": (lambda d: _nan_wav(d / "inf.wav", -np.inf), "NaN or infinite samples"),
    "rate_100": (lambda d: _wav_with_rate(d / "r.wav", 100), "implausible sample rate 100 Hz"),
    "rate_5M": (lambda d: _wav_with_rate(d / "r.wav", 5_000_000), "sample rate 5000000 Hz"),
}


def _touch(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _wav_samples(path: Path, n: int, rate: int) -> Path:
    sf.write(path, two_tones(rate)[:n], rate)
    return path


def _truncated(d: Path, n_bytes: int) -> Path:
    sf.write(d / "full.wav", two_tones(16000), 16000)
    return _touch(d / "cut.wav", (d / "full.wav").read_bytes()[:n_bytes])


def _video_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        for k in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            frame.pts = k
            out.mux(video.encode(frame))
        out.mux(video.encode())
    return path


# Damage that is repaired (with a warning) unless strict; tests/audio/test_damage.py has the rest.
STRICT_ONLY = {"nan", "inf"}


@pytest.mark.parametrize("reader", ["load_audio", "iter_audio"])
@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_raises_audio_error(tmp_path, case, reader):
    make, words = BAD_INPUTS[case]
    path = make(tmp_path)
    strict = case in STRICT_ONLY
    if reader == "load_audio":
        read = lambda p: load_audio(p, strict=strict)  # noqa: E731
    else:
        read = lambda p: list(iter_audio(p, 0.1, strict=strict))  # noqa: E731
    with pytest.raises(AudioError) as info:
        read(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert words in message
    assert "\n" not in message


def test_nan_late_in_a_long_file_raises_mid_iteration_when_strict(tmp_path):
    x = np.zeros(16000 * 3, np.float32)
    x[16000 * 2 + 5] = np.nan
    path = tmp_path / "late_nan.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    chunks = iter_audio(path, block_seconds=0.5, strict=True)
    assert len(next(chunks)) == 8000  # earlier audio is delivered before the problem is found
    with pytest.raises(AudioError, match=r"late_nan.wav: contains NaN .* at 2.000 s"):
        list(chunks)


def test_zero_sample_rate_header(tmp_path):
    """A RIFF header patched to 0 Hz: no decoder accepts it, and the message says so."""
    path = _wav_samples(tmp_path / "rate0.wav", 4000, 16000)
    data = bytearray(path.read_bytes())
    data[24:28] = struct.pack("<I", 0)
    path.write_bytes(bytes(data))
    with pytest.raises(AudioError, match="rate0.wav: not an audio file"):
        load_audio(path)


def test_garbage_never_escapes_as_another_exception(tmp_path):
    """Random bytes and cut-off files in every container: an array or AudioError, nothing else."""
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "src.mp3", two_tones(44100), 44100, format="MP3")
    write_pyav(tmp_path / "src.m4a", two_tones(44100), 44100, "aac")
    sf.write(tmp_path / "src.ogg", two_tones(44100), 44100, format="OGG", subtype="VORBIS")
    candidates = []
    for suffix in ("wav", "mp3", "m4a", "flac", "ogg", "webm", "opus", "mov"):
        candidates.append(_touch(tmp_path / f"rand.{suffix}", rng.bytes(3000)))
    for src in ("src.mp3", "src.m4a", "src.ogg"):
        data = (tmp_path / src).read_bytes()
        for frac in (0.1, 0.5, 0.9):
            candidates.append(_touch(tmp_path / f"cut{frac}_{src}", data[: int(len(data) * frac)]))
    for path in candidates:
        try:
            out = load_audio(path)
        except AudioError as err:
            assert str(err).startswith(str(path))
        else:
            assert out.dtype == np.float32 and np.isfinite(out).all()


def _read_as_nobody(path: Path) -> str:
    """load_audio in a forked child that dropped root, so permission bits really apply."""
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                load_audio(path)
                msg = "no error"
            except AudioError as err:
                msg = f"AudioError: {err}"
            except BaseException as err:  # noqa: BLE001 - reported to the parent
                msg = f"{type(err).__name__}: {err}"
            os.write(wr, msg.encode())
        finally:
            os._exit(0)
    os.close(wr)
    # A child forked from a threaded process could in principle deadlock: never wait forever.
    ready, _, _ = select.select([rd], [], [], 30.0)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    with os.fdopen(rd, "rb") as fh:
        msg = fh.read().decode() if ready else "child timed out"
    os.waitpid(pid, 0)
    return msg


def _read_unprivileged(path: Path) -> str:
    if os.geteuid() == 0:  # root ignores permission bits: read as `nobody` instead
        return _read_as_nobody(path)
    try:
        load_audio(path)
    except AudioError as err:
        return f"AudioError: {err}"
    return "no error"


def test_unreadable_file_and_unreachable_directory():
    # Not tmp_path: pytest's base directory is private to root, so `nobody` could reach nothing.
    with tempfile.TemporaryDirectory(prefix="voxtral-perm-") as tmp:
        folder = Path(tmp) / "perm"
        folder.mkdir()
        Path(tmp).chmod(0o755)
        folder.chmod(0o755)
        path = _wav_samples(folder / "locked.wav", 4000, 16000)
        path.chmod(0o644)
        # Control: readable by everyone, the same unprivileged reader succeeds.
        assert _read_unprivileged(path) == "no error"
        path.chmod(0o000)
        msg = _read_unprivileged(path)
        assert msg == f"AudioError: {path}: permission denied (the file is not readable)"
        path.chmod(0o644)
        folder.chmod(0o000)
        try:
            msg = _read_unprivileged(path)
        finally:
            folder.chmod(0o755)
        assert msg == f"AudioError: {path}: permission denied (cannot reach the file)"


# --- log_mel / pad_for_stream / StreamingMel -----------------------------------------------------


def test_pad_for_stream_lengths():
    x = np.ones(1000, np.float32)
    out = pad_for_stream(x)
    assert len(out) == 32 * 1280 + 1280 + 17 * 1280
    assert out[32 * 1280 : 32 * 1280 + 1000].all() and not out[: 32 * 1280].any()
    assert not out[32 * 1280 + 1000 :].any()
    assert len(pad_for_stream(np.ones(2560), 0, 0)) == 2560
    assert len(pad_for_stream(mx.ones(2561), 1, 2)) == 1280 + 3840 + 2 * 1280


@pytest.mark.parametrize("n", [201, 1599, 1600, 1601, 16000 * 3 + 77])
def test_log_mel_shape_and_floor(n):
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1
    mel = log_mel(x)
    assert mel.shape == (n // 160, 128) and mel.dtype == mx.float32
    assert float(mel.min()) >= -0.625
    np.testing.assert_array_equal(np.array(log_mel(mx.array(x))), np.array(mel))


def test_log_mel_rejects_too_short_and_stereo():
    with pytest.raises(ValueError, match="more than 200"):
        log_mel(np.zeros(200, np.float32))
    with pytest.raises(ValueError, match="mono"):
        log_mel(np.zeros((2, 1600), np.float32))


def test_log_mel_long_input_is_chunk_invariant():
    """Over 4096 frames the batch path works in pieces; it equals two overlapping short calls."""
    x = np.random.default_rng(1).standard_normal(160 * 5000).astype(np.float32) * 0.1
    full = np.array(log_mel(x))
    head = np.array(log_mel(x[: 160 * 3002]))
    tail = np.array(log_mel(x[160 * 2998 :]))  # its frame j is frame 2998 + j
    np.testing.assert_allclose(full[:3000], head[:3000], atol=1e-6, rtol=0)
    np.testing.assert_allclose(full[3000:], tail[2:], atol=1e-6, rtol=0)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    """3 s: speech, then a chirp, with a few full-scale samples (uncommon rounding paths)."""
    speech = load_audio(SPEECH)[: 16000 * 2]
    t = np.arange(16000) / 16000
    chirp = 0.5 * np.sin(2 * np.pi * (100 + 3900 * t) * t)
    x = np.concatenate([speech, chirp]).astype(np.float32)
    x[1000:1010] = 1.0
    return x


def stream(x: np.ndarray, sizes, **kwargs) -> np.ndarray:
    sm = StreamingMel(**kwargs)
    outs, pos = [], 0
    for size in sizes:
        out = sm.feed(x[pos : pos + size])
        assert out.shape[1] == sm.n_mels
        outs.append(out)
        pos += size
        assert sm.buffered_samples < 400
    assert pos >= len(x)
    outs.append(sm.close())
    return np.array(mx.concatenate(outs))


def fixed(size: int, n: int) -> list[int]:
    return [size] * (-(-n // size))


@pytest.mark.parametrize("size", [1, 159, 160, 1280, 4000])
def test_streaming_mel_equals_batch(clip, size):
    x = clip[:2000] if size == 1 else clip  # 1-sample feeds cost ~40 us each in Python
    want = np.array(log_mel(pad_for_stream(x)))
    got = stream(x, fixed(size, len(x)))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def test_streaming_mel_random_chunks_and_other_paddings(clip):
    rng = np.random.default_rng(7)
    sizes = list(rng.integers(0, 3000, 60)) + [len(clip)]  # includes empty chunks
    # (0, 0) at a whole number of tokens ends on real audio: exercises the right reflection.
    for left, right, n in [
        (32, 17, 16333),
        (0, 17, 16333),
        (0, 0, 16333),
        (0, 0, 12800),
        (3, 1, 9),
    ]:
        x = clip[:n]
        want = np.array(log_mel(pad_for_stream(x, left, right)))
        got = stream(x, sizes, left_pad_tokens=left, right_pad_tokens=right)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def test_streaming_mel_in_whole_tokens(clip):
    """Live streams take frames in whole tokens, as pieces of 1, 2, 4 ... tokens: the same
    frames as the batch, in pieces of those sizes only, and a token's frames come with the
    samples that complete its last frame, not later."""
    rng = np.random.default_rng(11)
    sizes = list(rng.integers(0, 6000, 40)) + [len(clip)]
    sm, parts, pos = StreamingMel(quantum=8, largest=128), [], 0
    for size in sizes:
        parts += sm.feed_parts(clip[pos : pos + size])
        pos += size
        assert sm.buffered_samples < 400 + 7 * 160
    parts += sm.close_parts()
    assert {p.shape[0] for p in parts} <= {8, 16, 32, 64, 128}
    want = np.array(log_mel(pad_for_stream(clip)))
    np.testing.assert_allclose(np.array(mx.concatenate(parts)), want, atol=1e-6, rtol=0)
    sm = StreamingMel(left_pad_tokens=0, quantum=8, largest=128)
    assert sm.feed_parts(clip[: 160 * 7 + 199]) == []  # frame 7 needs samples up to 160*7+199
    assert [p.shape[0] for p in sm.feed_parts(clip[160 * 7 + 199 : 160 * 7 + 200])] == [8]


def test_streaming_mel_latency_and_contract(clip):
    """Frames appear as soon as their 400-sample window is complete, not later."""
    sm = StreamingMel(left_pad_tokens=0)
    assert sm.feed(clip[:200]).shape == (0, 128)
    assert sm.feed(clip[200:201]).shape == (1, 128)  # frame 0 needs samples -200..200
    assert sm.feed(clip[201:359]).shape == (0, 128)
    assert sm.feed(mx.array(clip[359:360])).shape == (1, 128)  # frame 1 needs samples -40..359
    sm.close()
    with pytest.raises(RuntimeError, match="after close"):
        sm.feed(clip[:10])
    with pytest.raises(RuntimeError, match="twice"):
        sm.close()
