"""Log-mel front end in MLX, batch (:func:`log_mel`) and incremental (:class:`StreamingMel`).

Matches transformers' ``VoxtralRealtimeFeatureExtractor`` (model-spec section 4): periodic Hann
window of 400, hop 160, centred STFT with reflect padding, power spectrum, last frame dropped,
128 Slaney-scale Slaney-normalised mel filters over 0-8 kHz, ``log10(max(x, 1e-10))``, floor at
``1.5 - 8``, then ``(x + 4) / 4``. Output is time-major ``[T, n_mels]`` float32 with
``T = len(samples) // 160``.
"""

from __future__ import annotations

import copy
import functools

import mlx.core as mx
import numpy as np

from voxtral_mlx.protocol import (
    DEFAULT_DELAY_MS,
    DEFAULT_LEFT_PAD_TOKENS,
    DELAY_STEP_MS,
    SAMPLE_RATE,
    SAMPLES_PER_TOKEN,
    right_pad_tokens,
)

# The mel front end the checkpoint was trained with (config_reader.FRONT_END must agree).
N_FFT = 400
HOP_LENGTH = 160
CENTER_PAD = N_FFT // 2  # samples of reflect padding on each side (torch.stft center=True)
FRAMES_PER_TOKEN = SAMPLES_PER_TOKEN // HOP_LENGTH  # 8 mel frames per 80 ms token
GLOBAL_LOG_MEL_MAX = 1.5  # fixed by the checkpoint, not the per-utterance maximum
# The padding of a stream at the release's default delay (the session passes its own).
LEFT_PAD_TOKENS = DEFAULT_LEFT_PAD_TOKENS
RIGHT_PAD_TOKENS = right_pad_tokens(DEFAULT_DELAY_MS // DELAY_STEP_MS)
# Frames per MLX call in log_mel: bounds scratch memory (about 5 MB per call) for hour-long input.
_FRAMES_PER_CALL = 4096


@functools.lru_cache(maxsize=4)
def mel_filters(n_mels: int = 128) -> np.ndarray:
    """Slaney-scale, Slaney-normalised triangular filters, shape ``[201, n_mels]`` float32.

    Built in float64 as transformers' ``mel_filter_bank`` does, cached, and read-only.
    """
    fft_freqs = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    mels = np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), n_mels + 2)
    edges = _mel_to_hz(mels)
    diff = np.diff(edges)
    slopes = edges[None, :] - fft_freqs[:, None]
    down = -slopes[:, :-2] / diff[:-1]
    up = slopes[:, 2:] / diff[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    filters *= 2.0 / (edges[2:] - edges[:-2])  # Slaney area normalisation
    filters = filters.astype(np.float32)
    filters.flags.writeable = False
    return filters


def _hz_to_mel(freq):
    freq = np.asarray(freq, dtype=np.float64)
    log_part = 15.0 + np.log(np.maximum(freq, 1e-12) / 1000.0) * (27.0 / np.log(6.4))
    return np.where(freq >= 1000.0, log_part, 3.0 * freq / 200.0)


def _mel_to_hz(mels):
    mels = np.asarray(mels, dtype=np.float64)
    log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mels - 15.0))
    return np.where(mels >= 15.0, log_part, 200.0 * mels / 3.0)


@functools.lru_cache(maxsize=4)
def _constants(n_mels: int) -> tuple[mx.array, mx.array]:
    # Arrays built from numpy hold data (no lazy graph), so they may be shared across threads.
    n = np.arange(N_FFT, dtype=np.float64)
    window = (0.5 - 0.5 * np.cos(2.0 * np.pi * n / N_FFT)).astype(np.float32)  # periodic Hann
    return mx.array(window), mx.array(mel_filters(n_mels))


def _frames_to_log_mel(padded: mx.array, n_frames: int, n_mels: int) -> mx.array:
    """Log-mel of frames 0..n_frames-1 of a centre-padded signal holding >= 160*(n+2) samples.

    Frame t is padded[160t : 160t+400], assembled from 160-sample blocks t, t+1 and half of t+2.
    Leading axes are rows (:func:`segments_to_log_mel`).
    """
    window, filters = _constants(n_mels)
    lead = padded.shape[:-1]  # segments of several streams at once: ``[rows, samples]``
    blocks = padded[..., : HOP_LENGTH * (n_frames + 2)].reshape(*lead, n_frames + 2, HOP_LENGTH)
    half = N_FFT - 2 * HOP_LENGTH
    frames = mx.concatenate(
        [blocks[..., :-2, :], blocks[..., 1:-1, :], blocks[..., 2:, :half]], axis=-1
    )
    spec = mx.fft.rfft(frames * window, axis=-1)
    power = mx.square(mx.real(spec)) + mx.square(mx.imag(spec))
    log_spec = mx.log10(mx.maximum(power @ filters, 1e-10))
    log_spec = mx.maximum(log_spec, GLOBAL_LOG_MEL_MAX - 8.0)
    return (log_spec + 4.0) / 4.0


def log_mel(samples: np.ndarray | mx.array, n_mels: int = 128) -> mx.array:
    """Batch log-mel of mono 16 kHz samples: ``[len(samples) // 160, n_mels]`` float32.

    Needs more than 200 samples (reflect padding). The result is evaluated.
    """
    x = _as_mx_1d(samples)
    n = x.shape[0]
    if n <= CENTER_PAD:
        raise ValueError(f"log_mel needs more than {CENTER_PAD} samples, got {n}")
    padded = mx.concatenate([x[1 : CENTER_PAD + 1][::-1], x, x[n - CENTER_PAD - 1 : n - 1][::-1]])
    n_frames = n // HOP_LENGTH
    parts = []
    for start in range(0, n_frames, _FRAMES_PER_CALL):
        k = min(_FRAMES_PER_CALL, n_frames - start)
        seg = padded[start * HOP_LENGTH : (start + k + 2) * HOP_LENGTH]
        parts.append(_frames_to_log_mel(seg, k, n_mels))
        mx.eval(parts[-1])
    return parts[0] if len(parts) == 1 else mx.concatenate(parts)


def pad_for_stream(
    samples: np.ndarray | mx.array,
    left_pad_tokens: int = LEFT_PAD_TOKENS,
    right_pad_tokens: int = RIGHT_PAD_TOKENS,
    samples_per_token: int = SAMPLES_PER_TOKEN,
) -> np.ndarray:
    """The realtime protocol's offline padding, float32: ``left_pad_tokens`` tokens of zeros,
    the audio, then zeros up to a whole token plus ``right_pad_tokens`` more tokens."""
    x = _as_np_1d(samples)
    right = (-len(x)) % samples_per_token + right_pad_tokens * samples_per_token
    out = np.zeros(left_pad_tokens * samples_per_token + len(x) + right, np.float32)
    out[left_pad_tokens * samples_per_token : left_pad_tokens * samples_per_token + len(x)] = x
    return out


class StreamingMel:
    """Incremental log-mel whose output, concatenated, equals ``log_mel(pad_for_stream(audio))``.

    ``feed(chunk)`` returns the frames that just became final (possibly 0 rows); ``close()``
    adds the right padding and returns the rest. A frame centred at padded-sample ``c`` is final
    once samples ``c-200 .. c+199`` exist, so output lags input by at most 200 samples (plus the
    160-sample hop); only that tail (< 400 samples) is kept between calls, and each call does
    O(len(chunk)) work. Parity with :func:`log_mel` is exact or within float32 rounding of the
    matmul (<= 1e-6), for any chunking.

    ``quantum``/``largest`` (live streams): ``feed_parts``/``close_parts`` give the final frames
    in whole quanta only (a token's 8 frames), as pieces of ``quantum * 2**i`` frames up to
    ``largest``, so the MLX work of a stream has a few shapes however its audio is sliced (MLX
    CUDA builds kernels and plans per shape; model/encoder_ring.py says what that cost).

    Thread contract: one owner thread, the one that runs MLX (the returned arrays are lazy MLX
    arrays of that thread). ``feed`` and ``close`` must not be called concurrently; nothing may
    be fed after ``close``. Not thread-safe by design: the caller's audio queue is the hand-off.
    """

    def __init__(
        self,
        n_mels: int = 128,
        left_pad_tokens: int = LEFT_PAD_TOKENS,
        right_pad_tokens: int = RIGHT_PAD_TOKENS,
        quantum: int = 1,
        largest: int | None = None,
    ):
        self.n_mels = n_mels
        self.quantum, self.largest = quantum, largest
        self._right_pad_tokens = right_pad_tokens
        self._buf = np.zeros(left_pad_tokens * SAMPLES_PER_TOKEN, np.float32)
        self._buf_start = 0  # padded-signal index of _buf[0] once the left reflection is in
        self._started = False  # left reflection (200 samples) prepended yet?
        self._next_frame = 0
        self._n_audio = 0
        self._closed = False
        self._limit: int | None = None  # frames in all, once closed
        self._maybe_start()

    @property
    def buffered_samples(self) -> int:
        """Samples held between calls (below 400 once 200 samples have arrived, plus up to a
        quantum's hops when frames are given in quanta)."""
        return len(self._buf)

    @property
    def right_pad_tokens(self) -> int:
        return self._right_pad_tokens

    def clone(self, right_pad_tokens: int | None = None) -> StreamingMel:
        """An independent copy of this mel's state (``right_pad_tokens``: another right
        padding at close)."""
        other = copy.copy(self)
        other._buf = self._buf.copy()
        if right_pad_tokens is not None:
            other._right_pad_tokens = right_pad_tokens
        return other

    def feed(self, samples: np.ndarray | mx.array) -> mx.array:
        """Append mono 16 kHz samples; return the newly final frames, ``[k, n_mels]``."""
        return self._joined(self.feed_parts(samples))

    def close(self) -> mx.array:
        """Add the right padding, return every remaining frame. Call once."""
        return self._joined(self.close_parts())

    def feed_parts(self, samples: np.ndarray | mx.array) -> list[mx.array]:
        """``feed``, the frames as pieces of the sizes the constructor allows."""
        self.add(samples)
        return self._emit(whole_quanta=True)

    def add(self, samples: np.ndarray | mx.array) -> None:
        """Append samples without computing frames: a bank of streams computes them together
        (``quanta_ready``, ``take_quantum``, :func:`segments_to_log_mel`)."""
        if self._closed:
            raise RuntimeError("StreamingMel.feed() after close()")
        x = _as_np_1d(samples)
        self._n_audio += len(x)
        self._buf = np.concatenate([self._buf, x])
        self._maybe_start()

    def quanta_ready(self) -> int:
        """Whole quanta of frames that may be computed now."""
        return max(0, self._ready() - self._next_frame) // self.quantum

    def take_quantum(self, k: int = 1) -> np.ndarray:
        """The samples of the next ``k`` quanta of frames (``segments_to_log_mel`` computes
        them); the mel moves past them. Only while ``quanta_ready() >= k``."""
        if self.quanta_ready() < k:
            raise RuntimeError(f"{k} whole quanta of frames are not ready")
        frames = k * self.quantum
        ((seg, _),) = self._segments(self._next_frame + frames, [frames])
        return seg

    def close_parts(self) -> list[mx.array]:
        """``close``, the frames as pieces (the padded stream ends on a whole token)."""
        self.close_samples()
        return self.remaining_parts()

    def remaining_parts(self) -> list[mx.array]:
        """After ``close_samples``: the frames not yet taken as pieces (a stream that leaves
        its bank with its end still to compute)."""
        out = self._emit(whole_quanta=False)
        self._buf = self._buf[:0]
        return out

    def close_samples(self) -> None:
        """``close`` without computing: the right padding is in, and the rest is taken in
        quanta (``take_quantum``; the padded stream ends on a whole token)."""
        if self._closed:
            raise RuntimeError("StreamingMel.close() called twice")
        self._closed = True
        right = (-self._n_audio) % SAMPLES_PER_TOKEN + self._right_pad_tokens * SAMPLES_PER_TOKEN
        self._buf = np.concatenate([self._buf, np.zeros(right, np.float32)])
        self._maybe_start()
        if not self._started:
            raise ValueError(f"StreamingMel needs more than {CENTER_PAD} padded samples")
        n_signal = self._buf_start + len(self._buf) - CENTER_PAD
        # Right reflection needs the last 201 samples; the kept tail always holds >= 240.
        reflect = self._buf[-CENTER_PAD - 1 : -1][::-1]
        self._buf = np.concatenate([self._buf, reflect])
        self._limit = n_signal // HOP_LENGTH

    def _maybe_start(self) -> None:
        if not self._started and len(self._buf) > CENTER_PAD:
            self._buf = np.concatenate([self._buf[1 : CENTER_PAD + 1][::-1], self._buf])
            self._started = True

    def _ready(self) -> int:
        """Frames whose 400-sample window is complete."""
        end = self._buf_start + len(self._buf)  # padded samples known so far
        ready = (end - N_FFT) // HOP_LENGTH + 1 if self._started and end >= N_FFT else 0
        return ready if self._limit is None else min(ready, self._limit)

    def _emit(self, whole_quanta: bool) -> list[mx.array]:
        """The ready frames' log-mel as pieces; ``whole_quanta``: only whole quanta, the rest
        waits for more audio (close emits everything)."""
        ready = self._ready()
        if whole_quanta:
            ready = self._next_frame + self.quanta_ready() * self.quantum
        if ready <= self._next_frame:
            return []
        segs = self._segments(ready, self._sizes(ready - self._next_frame))
        return [_frames_to_log_mel(mx.array(seg), k, self.n_mels) for seg, k in segs]

    def _segments(self, ready: int, sizes: list[int]) -> list[tuple[np.ndarray, int]]:
        """The samples of frames ``_next_frame .. ready - 1`` in pieces of ``sizes`` frames;
        the mel moves to ``ready`` and keeps only the samples later frames need."""
        out = []
        for k in sizes:
            lo = self._next_frame * HOP_LENGTH - self._buf_start
            seg = np.zeros(HOP_LENGTH * (k + 2), np.float32)  # last 80 samples are never read
            used = HOP_LENGTH * (k - 1) + N_FFT
            seg[:used] = self._buf[lo : lo + used]
            out.append((seg, k))
            self._next_frame += k
        self._buf = self._buf[ready * HOP_LENGTH - self._buf_start :].copy()
        self._buf_start = ready * HOP_LENGTH
        return out

    def _sizes(self, k: int) -> list[int]:
        """``k`` frames as the pieces to compute: one, or quanta times powers of two up to
        ``largest``, largest first."""
        if k <= 0:
            return []
        if self.largest is None:
            return [k]
        sizes, piece = [], self.largest
        while k:
            while piece > self.quantum and piece > k:
                piece //= 2
            take = min(piece, k)  # a last piece below one quantum only at close
            sizes.append(take)
            k -= take
        return sizes

    def _joined(self, parts: list[mx.array]) -> mx.array:
        if not parts:
            return mx.zeros((0, self.n_mels), mx.float32)
        return parts[0] if len(parts) == 1 else mx.concatenate(parts)


def segments_to_log_mel(segments: mx.array, n_frames: int, n_mels: int = 128) -> mx.array:
    """Frames of several streams at once: ``segments [rows, 160 * (n_frames + 2)]`` (each from
    ``StreamingMel.take_quantum``) -> ``[rows, n_frames, n_mels]``."""
    return _frames_to_log_mel(segments, n_frames, n_mels)


def _as_np_1d(samples) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected mono samples of shape [n], got shape {x.shape}")
    return x


def _as_mx_1d(samples) -> mx.array:
    x = (
        samples.astype(mx.float32)
        if isinstance(samples, mx.array)
        else mx.array(_as_np_1d(samples))
    )
    if x.ndim != 1:
        raise ValueError(f"expected mono samples of shape [n], got shape {tuple(x.shape)}")
    return x
