"""The FFmpeg reader (PyAV): mono float32 blocks at the stream's own rate, damage repaired.

Packets that fail to decode are skipped and the lost time is filled with zeros, so every later
sample stays at its true position in the file: from the frames' timestamps where the container
has real ones (FLAC frame numbers, mp4/ogg/mkv tables), from the lost bytes at the stream's
byte rate where timestamps are only counted by the demuxer (raw mp3/aac). A tail that ends
early keeps what decoded. FFmpeg's own log stays off (PyAV's default), so nothing is printed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import av
import numpy as np

from voxtral_mlx.audio.damage import CORRUPT, TRUNCATED, DamageLog, repair_nonfinite
from voxtral_mlx.errors import AudioError

# Raw elementary streams: the demuxer counts timestamps on, so lost frames leave no gap in them.
_UNTIMED_FORMATS = frozenset({"mp3", "aac", "ac3", "eac3", "dts"})
_DECODE_ERRORS = (av.FFmpegError, ValueError)
# A header's length this much beyond what decoded means the file lost its tail.
_TRUNCATION_SLACK_S = 0.2


def open_pyav(path, block_seconds: float, log: DamageLog, check_rate, skip: int = 0):
    """(rate, blocks) like the soundfile reader; ``skip`` drops that many leading samples."""
    try:
        container = av.open(os.fspath(path), metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError, UnicodeDecodeError) as err:
        raise AudioError(
            f"{path}: not an audio file, an unsupported container, or a damaged file ({reason(err)})"
        ) from None
    try:
        if not container.streams.audio:
            raise AudioError(f"{path}: no audio track found (not an audio file?)")
        stream = container.streams.audio[0]
        if stream.codec_context.name == "flac":
            # Every FLAC frame has a CRC; FFmpeg only checks it (and drops the frame) if asked.
            stream.codec_context.options = {"err_detect": "crccheck+explode"}
        packets = _Packets(container, stream)
        frames = iter(packets)
        first = next(frames, None)
        if first is None:
            if packets.errors:
                raise AudioError(f"{path}: a damaged file (no audio frame could be decoded)")
            container.close()
            return 0, iter(())
        # The first decoded frame, not the container header, gives the rate the decoder
        # really outputs (they can differ, e.g. SBR in HE-AAC).
        rate = check_rate(path, first.sample_rate)
    except BaseException:
        container.close()
        raise
    placed = _place(path, packets, frames, first, rate, log)
    return rate, _blocks(
        container, _repaired(placed, skip, rate, log), math.ceil(block_seconds * rate)
    )


class _Packets:
    """Decoded frames of one stream; counts what was lost since the last good frame."""

    def __init__(self, container, stream):
        self.container, self.stream = container, stream
        self.lost_bytes = self.errors = self.good_bytes = 0

    def __iter__(self) -> Iterator[av.AudioFrame]:
        end = None  # byte just past the previous packet
        try:
            for packet in self.container.demux(self.stream):
                if packet.pos is not None and end is not None and packet.pos > end:
                    self.lost_bytes += packet.pos - end  # skipped while resyncing
                if packet.pos is not None and packet.size:
                    end = packet.pos + packet.size
                try:
                    frames = packet.decode()
                except _DECODE_ERRORS:
                    self.lost_bytes += packet.size
                    self.errors += 1
                    continue
                self.good_bytes += packet.size
                yield from frames
        except (*_DECODE_ERRORS, OSError, EOFError):
            self.errors += 1  # the demuxer gave up: the file ends inside a packet

    def take_loss(self) -> tuple[int, int]:
        out = self.lost_bytes, self.errors
        self.lost_bytes = self.errors = 0
        return out


def _place(path, packets: _Packets, frames, first, rate: int, log: DamageLog):
    """Mono float32 at ``rate``: each frame at its true position, zeros where frames were lost."""
    timed = packets.container.format.name not in _UNTIMED_FORMATS
    origin = first.time if timed and first.time is not None else 0.0
    converter = av.AudioResampler(format="fltp", rate=rate)
    tolerance = max(1, rate // 1000)
    length_s = packets.container.duration / av.time_base if packets.container.duration else None
    done = 0
    frame = first
    while frame is not None:
        lost_bytes, errors = packets.take_loss()
        if timed and frame.time is not None:
            gap = round((frame.time - origin) * rate) - done
        elif lost_bytes and done:
            gap = round(lost_bytes / packets.good_bytes * done)  # at the stream's byte rate
        else:
            gap = 0
        # A jump past the file's end is a timestamp discontinuity, not lost audio: a bogus
        # timestamp must not make hours of silence.
        if gap / rate > (length_s or 600.0) - done / rate + 1.0:
            origin, gap = frame.time - done / rate, 0
        gap = gap if gap > tolerance else 0
        if gap or errors:
            log.report(
                done / rate, (done + gap) / rate, CORRUPT, f"corrupt audio at {done / rate:.1f} s"
            )
        if gap:
            yield np.zeros(gap, np.float32)
            done += gap
        for out in _convert(path, converter, frame, done / rate):
            yield out
            done += len(out)
        frame = next(frames, None)
    for out in _convert(path, converter, None, done / rate):  # a rate change buffers a little
        yield out
        done += len(out)
    _check_tail(path, packets, done, rate, log)


def _convert(path, converter, frame, at_s: float) -> list[np.ndarray]:
    try:
        outs = converter.resample(frame)
    except _DECODE_ERRORS as err:
        raise AudioError(f"{path}: undecodable audio at {at_s:.1f} s ({reason(err)})") from None
    return [out.to_ndarray().mean(axis=0, dtype=np.float32) for out in outs]


def _check_tail(path, packets: _Packets, done: int, rate: int, log: DamageLog) -> None:
    _, errors = packets.take_loss()
    header_s = _header_seconds(path, packets)
    cut = header_s is not None and done / rate < header_s - _TRUNCATION_SLACK_S
    if errors or cut:
        end = header_s if cut else None
        log.report(done / rate, end, TRUNCATED, f"file truncated at {done / rate:.1f} s")


def _header_seconds(path, packets: _Packets) -> float | None:
    """The length the header promises, where it is exact (not estimated from a bit rate)."""
    stream = packets.stream
    if not stream.duration or not stream.time_base:
        return None
    name = packets.container.format.name
    if name in _UNTIMED_FORMATS and not (name == "mp3" and _has_mp3_length_tag(path)):
        return None  # estimated from the first frames' bit rate
    return float(stream.duration * stream.time_base)


def _has_mp3_length_tag(path) -> bool:
    """A Xing/Info/VBRI frame near the start: FFmpeg's mp3 length is then a frame count."""
    with open(path, "rb") as fh:
        head = fh.read(10)
        if head[:3] == b"ID3" and len(head) == 10:  # skip the tag (cover art can be large)
            fh.seek(10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10])))
        else:
            fh.seek(0)
        head = fh.read(4096)
    return any(tag in head for tag in (b"Xing", b"Info", b"VBRI"))


def _repaired(placed, skip: int, rate: int, log: DamageLog) -> Iterator[np.ndarray]:
    """Samples from ``skip`` on, NaN/Inf repaired (before ``skip`` another reader has them)."""
    done = 0
    for mono in placed:
        start, done = done, done + len(mono)
        if done <= skip:
            continue
        if start < skip:
            mono, start = mono[skip - start :], skip
        yield repair_nonfinite(mono, start, rate, log)


def _blocks(container, samples, block: int) -> Iterator[np.ndarray]:
    """Re-cut the samples into blocks of ``block`` samples; closes the container when done."""
    block = max(1, block)
    pending: list[np.ndarray] = []
    n_pending = 0
    try:
        for mono in samples:
            pending.append(mono)
            n_pending += len(mono)
            while n_pending >= block:
                joined = np.concatenate(pending)
                pending, n_pending = [joined[block:]], n_pending - block
                yield joined[:block]
        if n_pending:
            yield np.concatenate(pending)
    finally:
        container.close()


def reason(err: BaseException) -> str:
    # FFmpeg errors repeat the path in str(); strerror is just the reason.
    return getattr(err, "strerror", None) or first_line(err)


def first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]
