"""Reading audio files: decode, mix to mono, resample to 16 kHz with soxr (HQ).

soundfile (bundled libsndfile) reads wav/flac/aiff; PyAV (bundled FFmpeg) reads ogg/opus,
mp3, m4a/aac/mp4/mov/webm and anything soundfile rejects. Both are read in blocks, so
:func:`iter_audio` holds at most about one block in memory however long the file is.

Damaged input keeps what decodes: NaN/Inf samples become silence, corrupt frames are skipped
with zeros of their duration (so later words keep their true times), a cut-off tail keeps
what came before; each damaged span goes to ``on_damage`` as a :class:`Damage`, or with
``strict=True`` raises AudioError. Every problem a user can cause raises
:class:`~voxtral_mlx.errors.AudioError` whose one-line message starts with the file name.
No numpy, soundfile or FFmpeg exception escapes, and no decoder library prints anything.
"""

from __future__ import annotations

import math
import os
import stat
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import soxr

from voxtral_mlx.audio.damage import (
    CORRUPT,
    TRUNCATED,
    Damage,
    DamageLog,
    repair_nonfinite,
    summarize_damage,
)
from voxtral_mlx.audio.pyav import open_pyav
from voxtral_mlx.audio.pyav import reason as _reason
from voxtral_mlx.errors import AudioError
from voxtral_mlx.protocol import SAMPLE_RATE, SAMPLES_PER_TOKEN

__all__ = ["Damage", "iter_audio", "load_audio", "probe_duration", "summarize_damage"]

# Below 4 kHz speech is unintelligible; above 768 kHz no real recorder exists. Outside this
# range the header is corrupt, and resampling it would only burn time.
MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 768000
RESAMPLE_QUALITY = "HQ"

# Containers libsndfile reads natively; everything else goes straight to FFmpeg. Not mp3:
# libsndfile's mpg123 prints dozens of lines to the terminal, even on valid files. Not
# ogg/opus: after a lost page libsndfile silently shifts the rest earlier (FFmpeg keeps the
# pages' timestamps, and the two decode clean files to the same samples).
_SOUNDFILE_SUFFIXES = frozenset(
    ".wav .wave .flac .aif .aiff .aifc .au .snd .caf .w64 .rf64".split()
)

_LOAD_BLOCK_SECONDS = 60.0

OnDamage = Callable[[Damage], None]


def load_audio(
    path: str | os.PathLike, *, strict: bool = False, on_damage: OnDamage | None = None
) -> np.ndarray:
    """Whole file as mono float32 at 16 kHz (channels averaged, soxr HQ resampling).

    Damage is repaired and reported to ``on_damage`` (see the module docstring), or raises
    AudioError when ``strict``. Memory: the decoded mono signal at the file's own rate plus
    the 16 kHz result; for hour-long files prefer :func:`iter_audio`. Raises AudioError for
    anything unusable.
    """
    log = DamageLog(path, strict, on_damage)
    rate, blocks = _open(path, _LOAD_BLOCK_SECONDS, log)
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
    log.close()
    return np.ascontiguousarray(out, dtype=np.float32)


def iter_audio(
    path: str | os.PathLike,
    block_seconds: float = 30.0,
    *,
    strict: bool = False,
    on_damage: OnDamage | None = None,
) -> Iterator[np.ndarray]:
    """Yield mono float32 16 kHz chunks of about ``block_seconds`` each, in bounded memory.

    Decoding and resampling both stream (``soxr.ResampleStream``, same HQ filter), so the
    concatenated chunks equal :func:`load_audio` exactly for any ``block_seconds`` (soxr's
    streaming and one-shot paths compute the same samples; the tests check it). Errors found
    at open (missing file, not audio, bad rate) raise before the first chunk. Damage found
    later is repaired in place and reported to ``on_damage`` as the file is read (nearby
    spans merged; the last span once the file is done), or raises AudioError at that point
    in the file when ``strict``.
    """
    if not block_seconds > 0:
        raise ValueError(f"block_seconds must be positive, got {block_seconds}")
    log = DamageLog(path, strict, on_damage)
    rate, blocks = _open(path, block_seconds, log)
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
    log.close()
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


def _open(path, block_seconds: float, log: DamageLog) -> tuple[int, Iterator[np.ndarray]]:
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
            return _soundfile_blocks(path, handle, block_seconds, log)
    return open_pyav(path, block_seconds, log, _check_rate)


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


def _soundfile_blocks(path, handle: sf.SoundFile, block_seconds: float, log: DamageLog):
    with handle:  # reopened inside the generator, so an unstarted one holds no file
        raw_rate = handle.samplerate
    rate = _check_rate(path, raw_rate)
    block = max(1, math.ceil(block_seconds * rate))

    def blocks() -> Iterator[np.ndarray]:
        done, failure = 0, ""
        try:
            with sf.SoundFile(os.fspath(path)) as f:
                while len(data := f.read(block, dtype="float32", always_2d=True)):
                    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
                    yield repair_nonfinite(mono, done, rate, log)
                    done += len(mono)
        except (sf.SoundFileError, RuntimeError) as err:
            failure = f"corrupt audio after {done / rate:.1f} s ({_reason(err)})"
        if failure:
            # Strict too: FFmpeg then says exactly where (libsndfile lost a whole block).
            yield from _recover_with_ffmpeg(path, block_seconds, log, done, rate, failure)
        else:
            _check_wav_tail(path, done, rate, log)

    return rate, blocks()


def _recover_with_ffmpeg(
    path, block_seconds: float, log: DamageLog, done: int, rate: int, failure: str
):
    """libsndfile gave up at sample ``done`` (e.g. a FLAC frame lost sync); FFmpeg resyncs."""
    try:
        ff_rate, rest = open_pyav(path, block_seconds, log, _check_rate, skip=done)
    except AudioError:
        ff_rate, rest = 0, iter(())
    if ff_rate != rate:  # FFmpeg cannot read it either: keep what libsndfile gave
        log.report(done / rate, None, CORRUPT, failure)
        return
    yield from rest


def _check_wav_tail(path, done: int, rate: int, log: DamageLog) -> None:
    """libsndfile quietly reads a cut-off WAV to its end; its 'data' chunk says how long it was."""
    declared, held = _wav_data_sizes(path)
    if declared > held > 0 and done:
        log.report(done / rate, done / rate * declared / held, TRUNCATED)


def _wav_data_sizes(path) -> tuple[int, int]:
    """(bytes the RIFF 'data' chunk declares, bytes the file holds after it); (0, 0) if not WAV."""
    with open(path, "rb") as fh:
        if fh.read(4) != b"RIFF" or fh.read(8)[4:] != b"WAVE":
            return 0, 0
        while len(head := fh.read(8)) == 8:
            size = struct.unpack("<I", head[4:])[0]
            if head[:4] == b"data":
                held = os.fstat(fh.fileno()).st_size - fh.tell()
                # 0 or ~4 GiB: a placeholder from a recorder that could not seek back (unknown).
                return (0, 0) if size == 0 or size >= 0x7FFF0000 else (size, held)
            fh.seek(size + (size & 1), os.SEEK_CUR)
    return 0, 0


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
