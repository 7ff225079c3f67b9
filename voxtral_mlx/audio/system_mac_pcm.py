"""A ScreenCaptureKit audio buffer's bytes as float32 frames: :func:`pcm_frames`, pure numpy
(tested anywhere); the framework calls that fetch the bytes are in
:mod:`voxtral_mlx.audio.system_mac_sck`. No MLX.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from voxtral_mlx.errors import DeviceError

# AudioStreamBasicDescription.mFormatFlags bits (CoreAudioBaseTypes.h).
FLAG_FLOAT, FLAG_BIG_ENDIAN, FLAG_SIGNED, FLAG_NON_INTERLEAVED = 0x1, 0x2, 0x4, 0x20


class PcmFormat(NamedTuple):
    """What a sample buffer's AudioStreamBasicDescription says about its bytes."""

    rate: int
    channels: int
    flags: int
    bits: int


def pcm_frames(raw: bytes, frames: int, fmt: PcmFormat) -> np.ndarray:
    """A new float32 ``frames x channels`` array of a sample buffer's bytes: 32-bit float or
    16-bit integer samples, interleaved or one plane per channel (ScreenCaptureKit sends planes:
    their buffers lie back to back in the block buffer, each ``len(raw) // channels`` long)."""
    if fmt.flags & FLAG_FLOAT and fmt.bits == 32:
        dtype, scale = np.dtype("<f4"), 1.0
    elif fmt.flags & FLAG_SIGNED and fmt.bits == 16:
        dtype, scale = np.dtype("<i2"), 1.0 / 32768
    else:
        raise DeviceError(f"system audio: ScreenCaptureKit sent {fmt.bits}-bit samples of an "
                          f"unknown kind (format flags {fmt.flags:#x})")  # fmt: skip
    dtype = dtype.newbyteorder(">") if fmt.flags & FLAG_BIG_ENDIAN else dtype
    channels, need = max(1, fmt.channels), frames * dtype.itemsize
    planar = bool(fmt.flags & FLAG_NON_INTERLEAVED)
    step = len(raw) // channels if planar else need * channels
    if (planar and step < need) or len(raw) < step:
        raise DeviceError(f"system audio: a buffer of {frames} frames x {channels} had only "
                          f"{len(raw)} bytes")  # fmt: skip
    if planar:
        planes = [np.frombuffer(raw, dtype, frames, offset=c * step) for c in range(channels)]
        out = np.stack(planes, axis=1).astype(np.float32)
    else:
        out = np.frombuffer(raw, dtype, frames * channels).reshape(frames, channels)
        out = out.astype(np.float32)  # a copy: the caller owns it
    return out * np.float32(scale) if scale != 1.0 else out


__all__ = ["PcmFormat", "pcm_frames"]
