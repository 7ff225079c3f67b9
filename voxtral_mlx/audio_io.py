"""Reading audio files: decode, mix to mono, resample to 16 kHz with soxr (HQ).

soundfile (bundled libsndfile) reads wav/flac/ogg/opus/mp3/aiff; PyAV (bundled FFmpeg) reads
m4a/aac/mp4/mov/webm and anything soundfile rejects. Both are read in blocks, so
:func:`iter_audio` holds at most about one block in memory however long the file is.

Every problem a user can cause raises :class:`~voxtral_mlx.errors.AudioError` whose one-line
message starts with the file name. No numpy, soundfile or FFmpeg exception escapes.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import soxr

from voxtral_mlx.errors import AudioError
from voxtral_mlx.mel import SAMPLE_RATE, SAMPLES_PER_TOKEN

# Below 4 kHz speech is unintelligible; above 768 kHz no real recorder exists. Outside this
# range the header is corrupt, and resampling it would only burn time.
MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 768000
RESAMPLE_QUALITY = "HQ"

# Containers libsndfile reads natively; everything else goes straight to FFmpeg.
_SOUNDFILE_SUFFIXES = frozenset(
    ".wav .wave .flac .ogg .oga .opus .mp3 .aif .aiff .aifc .au .snd .caf .w64 .rf64".split()
)

_LOAD_BLOCK_SECONDS = 60.0


def load_audio(path: str | os.PathLike) -> np.ndarray:
    """Whole file as mono float32 at 16 kHz (channels averaged, soxr HQ resampling).

    Memory: the decoded mono signal at the file's own rate plus the 16 kHz result; for hour-long
    files prefer :func:`iter_audio`. Raises AudioError for anything unusable.
    """
    rate, blocks = _open(path, _LOAD_BLOCK_SECONDS)
    try:
        parts = list(blocks)
        source = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    except MemoryError:
        raise AudioError(f"{path}: too large to load at once; use streaming mode") from None
    if rate != SAMPLE_RATE and len(source):
        out = soxr.resample(source, rate, SAMPLE_RATE, quality=RESAMPLE_QUALITY)
    else:
        out = source
    _check_length(path, len(out))
    return np.ascontiguousarray(out, dtype=np.float32)


def iter_audio(path: str | os.PathLike, block_seconds: float = 30.0) -> Iterator[np.ndarray]:
    """Yield mono float32 16 kHz chunks of about ``block_seconds`` each, in bounded memory.

    Decoding and resampling both stream (``soxr.ResampleStream``, same HQ filter), so the
    concatenated chunks equal :func:`load_audio` exactly for any ``block_seconds`` (soxr's
    streaming and one-shot paths compute the same samples; the tests check it). Errors found
    at open (missing file, not audio, bad rate) raise before the first chunk; a NaN/Inf sample
    or a corrupt packet later on raises AudioError at that point in the file.
    """
    if not block_seconds > 0:
        raise ValueError(f"block_seconds must be positive, got {block_seconds}")
    rate, blocks = _open(path, block_seconds)
    # Hold output back until one token's worth exists, so a too-short file raises before
    # the caller has seen any of it.
    held: list[np.ndarray] = []
    total = 0
    for out in _to_16k(blocks, rate):
        if not len(out):
            continue
        total += len(out)
        held.append(np.ascontiguousarray(out, dtype=np.float32))
        if total >= SAMPLES_PER_TOKEN:
            yield from held
            held.clear()
    _check_length(path, total)
    yield from held


def _to_16k(blocks: Iterator[np.ndarray], rate: int) -> Iterator[np.ndarray]:
    if not rate or rate == SAMPLE_RATE:
        yield from blocks
        return
    stream = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality=RESAMPLE_QUALITY)
    for block in blocks:
        yield stream.resample_chunk(block)
    yield stream.resample_chunk(np.zeros(0, np.float32), last=True)


def _check_length(path, n_samples: int) -> None:
    if n_samples == 0:
        raise AudioError(f"{path}: contains no audio samples (zero length)")
    if n_samples < SAMPLES_PER_TOKEN:
        ms = 1000 * n_samples / SAMPLE_RATE
        raise AudioError(f"{path}: too short ({ms:.0f} ms of audio; at least 80 ms is needed)")


def _open(path: str | os.PathLike, block_seconds: float) -> tuple[int, Iterator[np.ndarray]]:
    """Check the path, open a decoder, return (source rate, mono float32 blocks at that rate).

    A rate of 0 means the file holds no samples at all (its blocks iterator is empty).
    """
    _check_readable(path)
    suffix = Path(path).suffix.lower()
    if suffix in _SOUNDFILE_SUFFIXES:
        try:
            handle = sf.SoundFile(os.fspath(path))
        except (sf.SoundFileError, RuntimeError, ValueError, TypeError, OverflowError):
            pass  # wrong suffix, or a codec libsndfile lacks: FFmpeg decides (its reason is clearer)
        else:
            return _soundfile_blocks(path, handle, block_seconds)
    return _pyav_blocks(path, block_seconds)


def _check_readable(path) -> None:
    """Turn the filesystem's answers into messages before any decoder sees the path."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise AudioError(f"{path}: file not found") from None
    except PermissionError:
        raise AudioError(f"{path}: permission denied (cannot reach the file)") from None
    except (OSError, TypeError, ValueError) as err:
        raise AudioError(f"{path}: cannot be read ({_reason(err)})") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioError(f"{path}: is a directory, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        # A FIFO or device could block or never end.
        raise AudioError(f"{path}: not a regular file")
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except PermissionError:
        raise AudioError(f"{path}: permission denied (the file is not readable)") from None
    except OSError as err:
        raise AudioError(f"{path}: cannot be read ({_reason(err)})") from None
    if st.st_size == 0:
        raise AudioError(f"{path}: file is empty (0 bytes)")


def _check_rate(path, rate: float) -> int:
    if not (MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE) or rate != int(rate):
        raise AudioError(
            f"{path}: implausible sample rate {rate} Hz "
            f"(supported {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz); the header is probably corrupt"
        )
    return int(rate)


def _check_finite(path, block: np.ndarray, start: int, rate: int) -> None:
    if not np.isfinite(block).all():
        bad = start + int(np.argmin(np.isfinite(block)))
        raise AudioError(f"{path}: contains NaN or infinite samples (first at {bad / rate:.3f} s)")


def _soundfile_blocks(path, handle: sf.SoundFile, block_seconds: float):
    with handle:  # reopened inside the generator, so an unstarted one holds no file
        raw_rate = handle.samplerate
    rate = _check_rate(path, raw_rate)
    block = max(1, math.ceil(block_seconds * rate))

    def blocks() -> Iterator[np.ndarray]:
        done = 0
        try:
            with sf.SoundFile(os.fspath(path)) as f:
                while True:
                    data = f.read(block, dtype="float32", always_2d=True)
                    if not len(data):
                        return
                    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
                    _check_finite(path, mono, done, rate)
                    done += len(mono)
                    yield mono
        except (sf.SoundFileError, RuntimeError) as err:
            raise AudioError(
                f"{path}: corrupt audio after {done / rate:.1f} s ({_reason(err)})"
            ) from None

    return rate, blocks()


def _pyav_blocks(path, block_seconds: float):
    try:
        container = av.open(os.fspath(path), metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError, UnicodeDecodeError) as err:
        raise AudioError(
            f"{path}: not an audio file, an unsupported container, or a damaged file ({_reason(err)})"
        ) from None
    try:
        if not container.streams.audio:
            raise AudioError(f"{path}: no audio track found (not an audio file?)")
        stream = container.streams.audio[0]
        frames = container.decode(stream)
        # The first decoded frame, not the container header, gives the rate the decoder
        # really outputs (they can differ, e.g. SBR in HE-AAC).
        first = _next_frame(path, frames, 0.0)
    except BaseException:
        container.close()
        raise
    if first is None:
        container.close()
        return 0, iter(())
    rate = _check_rate(path, first.sample_rate)
    return rate, _pyav_decode(path, container, frames, first, rate, block_seconds)


def _next_frame(path, frames, at_seconds: float):
    try:
        return next(frames, None)
    except (av.FFmpegError, ValueError, OSError) as err:
        raise AudioError(
            f"{path}: corrupt audio after {at_seconds:.1f} s ({_reason(err)})"
        ) from None


def _pyav_decode(path, container, frames, first, rate: int, block_seconds: float):
    """Mono float32 blocks; FFmpeg converts format (and any mid-stream rate change) only."""
    block = max(1, math.ceil(block_seconds * rate))
    converter = av.AudioResampler(format="fltp", rate=rate)
    pending: list[np.ndarray] = []
    n_pending = done = 0
    frame = first
    try:
        while True:
            try:
                outs = converter.resample(frame)
            except (av.FFmpegError, ValueError) as err:
                raise AudioError(
                    f"{path}: undecodable audio at {done / rate:.1f} s ({_reason(err)})"
                ) from None
            for out in outs:
                mono = out.to_ndarray().mean(axis=0, dtype=np.float32)
                _check_finite(path, mono, done + n_pending, rate)
                pending.append(mono)
                n_pending += len(mono)
            while n_pending >= block or (frame is None and n_pending):
                joined = np.concatenate(pending)
                head, rest = joined[:block], joined[block:]
                pending, n_pending = ([rest] if len(rest) else []), len(rest)
                done += len(head)
                yield head
            if frame is None:
                return
            frame = _next_frame(path, frames, (done + n_pending) / rate)
    finally:
        container.close()


def _reason(err: BaseException) -> str:
    # FFmpeg errors repeat the path in str(); strerror is just the reason.
    return getattr(err, "strerror", None) or _first_line(err)


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]


def probe_duration(path: str | os.PathLike) -> float | None:
    """Duration in seconds from the file's header, for progress display; None when unknown.

    Never raises: a file that cannot be probed gets its real error from :func:`iter_audio`.
    """
    try:
        info = sf.info(os.fspath(path))
        if info.frames > 0 and info.samplerate > 0:
            return info.frames / info.samplerate
    except Exception:  # noqa: BLE001 - libsndfile cannot read it; ask FFmpeg below
        pass
    try:
        with av.open(os.fspath(path), metadata_errors="ignore") as container:
            if container.duration:
                return container.duration / av.time_base
            stream = container.streams.audio[0]
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
    except Exception:  # noqa: BLE001 - unknown is an acceptable answer here
        return None
    return None
