"""A WAV file that is a valid recording at every moment, up to its last second.

:class:`WavJournal` appends mono IEEE float32 samples (WAVE_FORMAT_IEEE_FLOAT, with the
``fact`` chunk non-PCM formats carry), so what is kept is bit for bit what was written: a live
take's audio transcribed again as a file gives the same tokens. Samples go to the file as they
come (``os.write``: no Python buffer, so a killed process loses nothing the kernel has); about
once a second the header's sizes are rewritten to cover them and the file is fsynced. After a
``kill -9`` the file plays and holds all but at most the last second; after a power cut, all
but the last second or two (the tail may be zeros). :meth:`close` writes the final header.

The file is created exclusively (an existing file or link at the path is never opened or
written through) and 0600 less the umask: it holds what someone said. A WAV's sizes are 32
bits, so a journal holds at most 4 GiB, about 18.6 hours at 16 kHz. Errors are one-line
:class:`~voxtral_mlx.errors.VoxtralError`. Pure Python + numpy (no MLX); one thread at a time.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.fs.atomic_file import create_exclusive

PRIVATE_MODE = 0o600
SYNC_EVERY_SECONDS = 1.0
WAVE_FORMAT_IEEE_FLOAT = 3
SAMPLE_BYTES = 4
HEADER_BYTES = 58  # RIFF(12) + fmt (8+18) + fact (8+4) + data (8)
MAX_DATA_BYTES = (0xFFFFFFFF - (HEADER_BYTES - 8)) // SAMPLE_BYTES * SAMPLE_BYTES


def wav_header(frames: int, sample_rate: int) -> bytes:
    """The 58-byte header of a mono float32 WAV holding ``frames`` samples."""
    data = frames * SAMPLE_BYTES
    return b"".join([
        b"RIFF", struct.pack("<I", HEADER_BYTES - 8 + data), b"WAVE",
        b"fmt ", struct.pack("<IHHIIHHH", 18, WAVE_FORMAT_IEEE_FLOAT, 1, sample_rate,
                             sample_rate * SAMPLE_BYTES, SAMPLE_BYTES, 8 * SAMPLE_BYTES, 0),
        b"fact", struct.pack("<II", 4, frames),
        b"data", struct.pack("<I", data),
    ])  # fmt: skip


class WavJournal:
    """Append samples to a new mono float32 WAV at ``path`` (see the module docstring).

    ``clock`` decides when a second has passed (tests pass the audio's own time)."""

    def __init__(self, path: str | os.PathLike, sample_rate: int = 16000,
                 clock: Callable[[], float] = time.monotonic):  # fmt: skip
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.frames = 0  # samples in the file (the header covers them once synced)
        self._clock = clock
        try:
            self._fd = create_exclusive(self.path, PRIVATE_MODE)
        except FileExistsError:
            raise VoxtralError(f"{self.path} exists: the audio is never written over a file; "
                               "choose a new name") from None  # fmt: skip
        except OSError as err:
            raise self._error(err) from err
        self._bytes = 0  # data bytes written (a write cut short may leave part of a sample)
        try:
            self._write_all(wav_header(0, sample_rate))
            os.fsync(self._fd)
        except OSError as err:
            os.close(self._fd)
            raise self._error(err) from err
        self._synced = clock()

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def write(self, samples: np.ndarray) -> None:
        """Append ``samples`` (mono, converted to little-endian float32); raises VoxtralError
        when the disk refuses or the WAV is full (what fitted is kept)."""
        data = np.ascontiguousarray(samples, dtype="<f4").reshape(-1).tobytes()
        room = MAX_DATA_BYTES - self._bytes
        try:
            self._write_all(data[:room], count=True)
        except OSError as err:
            raise self._error(err) from err
        if len(data) > room:
            raise VoxtralError(f"{self.path}: a WAV holds at most 4 GiB (about 18 hours at "
                               f"{self.sample_rate // 1000} kHz)")  # fmt: skip
        if self._clock() - self._synced >= SYNC_EVERY_SECONDS:
            self.sync()

    def sync(self) -> None:
        """Make the header cover every sample written and fsync now."""
        if self.closed:
            return
        try:
            os.pwrite(self._fd, wav_header(self.frames, self.sample_rate), 0)
            os.fsync(self._fd)
        except OSError as err:
            raise self._error(err) from err
        self._synced = self._clock()

    def close(self) -> None:
        """The final header, fsynced; the file closed (also when that fails). Idempotent."""
        if self.closed:
            return
        try:
            self.sync()
        finally:
            os.close(self._fd)
            self._fd = -1

    def abandon(self) -> None:
        """After an error: cover what was written if the disk lets us, close, never raise."""
        try:
            self.close()
        except VoxtralError:
            pass

    def _write_all(self, data: bytes, count: bool = False) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
            if count:
                self._bytes += n
                self.frames = self._bytes // SAMPLE_BYTES

    def _error(self, err: OSError) -> VoxtralError:
        return VoxtralError(f"cannot keep the audio in {self.path}: {err.strerror or err}")


__all__ = ["WavJournal", "wav_header"]
