"""A capture device's blocks on their way to 16 kHz mono: :class:`BlockQueue`, the one queue
between PortAudio's callback thread and the consumer, and :class:`ToMono16k`, which the consumer
runs on what it takes. No MLX, no locks.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import soxr

from voxtral_mlx.protocol import SAMPLE_RATE

RESAMPLE_QUALITY = "HQ"  # as for files (audio/files.py), so live audio and files go the same way


class BlockQueue:
    """Blocks of ``frames x channels`` samples, bounded to ``max_frames``: when more are
    queued the oldest blocks are dropped and counted. :meth:`put` runs on PortAudio's callback
    thread, :meth:`take` on one consumer thread; deque append/popleft are atomic, so neither
    waits on a lock. Frame counters only grow (the consumer reads them for its meters)."""

    def __init__(self, max_frames: int = 0):
        self.max_frames = max_frames
        self.in_frames = self.out_frames = self.dropped_frames = 0
        self._blocks: deque[np.ndarray] = deque()

    @property
    def queued_frames(self) -> int:
        return max(0, self.in_frames - self.out_frames - self.dropped_frames)

    def put(self, indata: np.ndarray, frames: int) -> None:
        """Callback thread: queue a copy (PortAudio reuses ``indata``), drop the oldest if full."""
        self._blocks.append(indata.copy())
        self.in_frames += frames
        while self.in_frames - self.out_frames - self.dropped_frames > self.max_frames:
            try:
                oldest = self._blocks.popleft()
            except IndexError:  # the consumer took it meanwhile
                break
            self.dropped_frames += len(oldest)

    def take(self) -> list[np.ndarray]:
        """Consumer thread: every queued block, oldest first (they are the caller's now)."""
        blocks = []
        while True:
            try:
                block = self._blocks.popleft()
            except IndexError:
                return blocks
            self.out_frames += len(block)
            blocks.append(block)

    def clear(self) -> None:
        self._blocks.clear()


class ToMono16k:
    """Blocks at a device's ``rate`` -> 16 kHz mono float32. One ``soxr.ResampleStream`` for
    the whole stream, so the output equals resampling the whole recording at once (no clicks
    at block edges); every array returned is new (nobody else holds it)."""

    def __init__(self, rate: int):
        self.rate = rate
        self._soxr = None
        if rate != SAMPLE_RATE:
            self._soxr = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality=RESAMPLE_QUALITY)  # fmt: skip

    @staticmethod
    def mono(blocks: list[np.ndarray]) -> np.ndarray:
        """The blocks back to back, channels averaged, at the device's rate."""
        raw = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
        mono = raw.mean(axis=1, dtype=np.float32) if raw.ndim == 2 else raw
        return np.ascontiguousarray(mono, dtype=np.float32)

    def resample(self, mono: np.ndarray) -> np.ndarray:
        """``mono`` (from :meth:`mono`) at 16 kHz; the resampler keeps a short tail for later."""
        return mono if self._soxr is None else self._soxr.resample_chunk(mono)

    def flush(self) -> np.ndarray | None:
        """The resampler's tail at the end of the stream (None if there is none)."""
        if self._soxr is None:
            return None
        tail = self._soxr.resample_chunk(np.zeros(0, np.float32), last=True)
        return tail if tail.size else None


__all__ = ["RESAMPLE_QUALITY", "BlockQueue", "ToMono16k"]
