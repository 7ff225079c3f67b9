"""Echo gate: is a span of microphone audio the computer's own audio played back? No MLX.

With loudspeakers the microphone also hears what the computer plays, so when both are captioned
the same words would come twice ("You" and "Others"). :class:`EchoGate` keeps the recent audio
of both streams and, for a span of the microphone's timeline, fits the echo path from the system
audio to the microphone and says whether that path explains the span's energy.

Method (per call, on the span padded by ``pad`` seconds of context):

1. Both streams are low-passed and decimated to ``ANALYSIS_RATE`` (0-1.8 kHz holds most of
   speech's energy) on a grid fixed to each stream's first sample, so a decision depends on the
   samples only, never on how they were chunked.
2. The bulk lag of system -> mic is searched in ``[min_delay, max_delay]``: the cross-spectrum
   divided by the system's (regularised) power spectrum estimates the echo path's impulse
   response, whose largest tap is taken. Whitening by the system spectrum, rather than the plain
   correlation, keeps voiced speech's pitch periodicity from making side peaks as tall as the lag.
3. At that lag the echo path is fitted by least squares in sub-bands: in each bin of a short-time
   spectrum (64 ms frames, 32 ms hop) the mic is a weighted sum of the system's current and
   ``PATH_FRAMES - 1`` previous frames, which follows room reverberation up to ~0.16 s for the
   price of 4 weights per bin. A time-domain FIR of a few ms (tried first) left the reverberant
   tail in the residual: with a direct-to-reverberant ratio of 3 dB it dropped only 72-92 % of
   the echo (benchmarks/bench_echo.py, "far" room). Frames weigh by the inverse of their mic
   energy, so loud speech into the mic next to a quiet echo cannot steer the fit by chance
   correlation.
4. The mic's own noise is in every residual frame: its floor (the 10th percentile of the
   context's residual frames) is taken off the span's residual and energy. A span that does not
   stand 3 dB above that floor has nothing to judge (not echo).
5. The share of the span's mic energy the fit leaves decides: echo when at most ``threshold``.
   Speech into the microphone is not a filtered copy of the system audio, so it stays in the
   residual. What the default 0.25 rests on (benchmarks/bench_echo.py: espeak-ng speech, delays
   0-250 ms, gains 0.1-0.7, three rooms, stream offsets of +-100 ms, noise at -50 dBFS): echo-only
   spans leave 0.08 at the 95th percentile and 0.15 at most (late reverberation); 0.24 at most
   with a noisy mic (-40 dBFS) under an echo only ~2 dB above it. The user's speech over the
   echo, as loud as the played audio, leaves 0.44 at the 5th percentile (the fit also absorbs
   ~PATH_FRAMES / frames, ~15 %, of any sound by chance). Speech that reaches the mic a few dB
   under its echo is partly judged echo (6 dB under the played audio, echo gain 0.7: 48-85 % of
   its spans kept).

Contract of the timelines: each stream's time is the count of samples added to it divided by
``sample_rate``, both from when the sources opened. Audio not added yet, or forgotten, counts as
absent: a mic span without stored audio, or silent (below ``silence_db``), is not echo (there
is nothing to drop); a system window without sound is not an echo source, so ask once
:meth:`EchoGate.ready` says both streams hold the span and its context. Spans shorter than
``min_span`` (0.3 s) are widened around their centre: word timings can be a single instant, and
a word of one or two tokens (80-160 ms) is too few frames for the fit of 4 weights a bin,
which then absorbs a genuine word by chance. Judged over 0.1 s, 2 of 330 pieces of 60 ms of
espeak-ng speech into a mic with headphones on (no echo possible) were called echo, a word
lost; over 0.3 s none, the least residual 0.62 (tests/audio/test_echo.py), and in
benchmarks/bench_echo.py genuine speech over the echo kept 99.8 % (98.9 % over 0.1 s), every
echo span still dropped. The lag is searched afresh for each span, so a drift between the two
devices' clocks is followed while the lag stays in the range (at 50 ppm, 0.18 s an hour: a
long session of two devices may leave it).

Thread: not thread-safe; one consumer thread feeds and asks (the live engine's thread).
Memory: a fixed buffer of 2 x ``history`` seconds per stream; the newest ``history`` seconds
are usable (exactly, so decisions do not depend on chunk sizes either), less after
:meth:`EchoGate.forget`. Cost: ~0.7 ms per call on one x86 core (the benchmark).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ANALYSIS_RATE = 4000  # Hz
LOWPASS_HALF = 4  # half length of the anti-alias filter, in analysis samples
FRAME, HOP = 256, 128  # sub-band frames, in analysis samples (64 ms, 32 ms)
PATH_FRAMES = 4  # frames of echo path per bin: the direct sound and ~0.1 s of reverberation
EARLY = 16  # analysis samples the fit starts before the lag found (a reflection may peak first)
LOW_BIN = 7  # bins below ~110 Hz (rumble, DC) are left out: loudspeakers hardly play them
NOISE_PERCENTILE = 10  # of the context's residual frames: the noise floor (speech has pauses)
MIN_FRAMES = 3 * PATH_FRAMES  # fewer frames of context over-fit: too little audio to judge
_WINDOW = np.hanning(FRAME + 2)[1:-1].astype(np.float32)


@dataclass(frozen=True)
class EchoMatch:
    """What :meth:`EchoGate.measure` found for a span.

    ``lag``: seconds the microphone hears the system audio after the system stream has it (the
    largest tap of the fitted path; NaN when the system plays nothing); ``residual``: share of the span's mic energy the fitted echo
    does not explain (0 = all echo, 1 = nothing); ``level_db``: the span's mic level (dBFS, in
    the analysis band).
    """

    lag: float
    residual: float
    level_db: float


class _History:
    """The newest ``capacity`` samples of one stream, addressed by absolute sample index."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._buf = np.zeros(2 * capacity, np.float32)  # room to append before compacting
        self._held = 0  # valid samples at the start of _buf
        self.end = 0  # absolute index one past the newest sample
        self.floor = 0  # absolute index before which samples are forgotten

    @property
    def first(self) -> int:
        """Absolute index of the oldest sample still usable."""
        return max(self.floor, self.end - self.capacity, 0)

    @property
    def nbytes(self) -> int:
        return self._buf.nbytes

    def append(self, chunk: np.ndarray) -> None:
        chunk = np.asarray(chunk, np.float32).reshape(-1)
        n = chunk.size
        if n >= self.capacity:
            self._buf[: self.capacity] = chunk[-self.capacity :]
            self._held = self.capacity
        else:
            if self._held + n > self._buf.size:  # compact: keep the newest capacity - n samples
                keep = self.capacity - n
                self._buf[:keep] = self._buf[self._held - keep : self._held]
                self._held = keep
            self._buf[self._held : self._held + n] = chunk
            self._held += n
        self.end += n

    def window(self, start: int, stop: int) -> np.ndarray:
        """Samples ``[start, stop)`` by absolute index; zeros where nothing usable is held."""
        out = np.zeros(max(stop - start, 0), np.float32)
        lo, hi = max(start, self.first), min(stop, self.end)
        if hi > lo:
            base = self.end - self._held  # absolute index of _buf[0]
            out[lo - start : hi - start] = self._buf[lo - base : hi - base]
        return out


def _lowpass(factor: int) -> np.ndarray:
    """Blackman-windowed sinc for decimating by ``factor`` (cut-off at 0.9 of the new Nyquist)."""
    n = np.arange(-LOWPASS_HALF * factor, LOWPASS_HALF * factor + 1)
    cut = 0.9 / factor  # as a share of the input's Nyquist frequency
    taps = cut * np.sinc(cut * n) * np.blackman(n.size)
    return (taps / taps.sum()).astype(np.float32)


def _decimate(
    history: _History, taps: np.ndarray, factor: int, start: int, stop: int
) -> np.ndarray:
    """Analysis samples ``[start, stop)`` (absolute): k is the low-passed input at k * factor."""
    half = taps.size // 2
    raw = history.window(start * factor - half, (stop - 1) * factor + half + 1)
    frames = np.lib.stride_tricks.sliding_window_view(raw, taps.size)[::factor]
    return frames @ taps


def _spectra(x: np.ndarray) -> np.ndarray:
    """Short-time spectra of ``x``, [bins, frames] (frame t starts at t * HOP), bins >= LOW_BIN."""
    count = (x.size - FRAME) // HOP + 1
    frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[::HOP][:count]
    return np.fft.rfft(frames * _WINDOW, axis=1)[:, LOW_BIN:].T


def _subband_residual(mic: np.ndarray, aligned: np.ndarray, span: slice) -> float | None:
    """Share of ``mic``'s energy in frames ``span`` above the noise floor that the fitted
    sub-band echo path leaves; None when the span does not stand out of the noise.

    ``aligned``: the system audio at the echo lag, starting (PATH_FRAMES - 1) * HOP + EARLY
    samples before ``mic``, so column l of a bin's regressors is the system l frames earlier.
    """
    heard = _spectra(mic)  # [bins, T]
    played = _spectra(aligned)
    count = heard.shape[1]
    taps = [
        played[:, PATH_FRAMES - 1 - lag : PATH_FRAMES - 1 - lag + count]
        for lag in range(PATH_FRAMES)
    ]
    x = np.stack(taps, axis=2)  # [bins, T, PATH_FRAMES]
    # Frames weigh by the inverse of their mic energy: loud speech into the mic near the span
    # would otherwise steer the fit by chance correlation and mispredict a quiet echo in it.
    power = np.sum(np.square(np.abs(heard)), axis=0)  # per frame
    xh = np.conj(x).transpose(0, 2, 1) / (power + 0.03 * power.mean() + 1e-30)
    gram = xh @ x
    ridge = 1e-4 * np.trace(gram, axis1=1, axis2=2).real / PATH_FRAMES + 1e-30
    gram += ridge[:, None, None] * np.eye(PATH_FRAMES)
    weights = np.linalg.solve(gram, xh @ heard[:, :, None])
    error = np.sum(np.square(np.abs(heard - (x @ weights)[:, :, 0])), axis=0)  # per frame
    # The mic's own noise is in every residual: its floor (the quietest residual frames of the
    # context) is taken off, or a quiet echo over a noisy mic would not count as explained.
    noise = float(np.percentile(error, NOISE_PERCENTILE)) * error[span].size
    heard_above = float(np.sum(power[span])) - noise
    if heard_above < noise:  # the span is within 3 dB of the noise: nothing to judge
        return None
    return min(max(float(np.sum(error[span])) - noise, 0.0) / heard_above, 1.0)


class EchoGate:
    """Says whether spans of the microphone are the system audio heard back (see the module doc).

    ``max_delay`` / ``min_delay``: the lags of system -> mic searched, in seconds (acoustic delay
    plus the offset of the two streams' starts; negative when the system stream starts late).
    ``pad``: context on each side of a span for the lag search and the fit (moved to the other
    side at the ends of what is held). ``threshold``: the largest residual share still echo.
    ``silence_db``: below this level (dBFS, analysis band) a mic span is silent and a system
    window plays nothing. ``min_span``: shorter spans are widened. ``history``: seconds held.
    """

    def __init__(self, sample_rate: int = 16000, max_delay: float = 0.5, *,
                 min_delay: float = -0.2, pad: float = 0.3, threshold: float = 0.25,
                 silence_db: float = -60.0, min_span: float = 0.3,
                 history: float = 30.0) -> None:  # fmt: skip
        if not min_delay <= max_delay:
            raise ValueError(f"min_delay {min_delay} is after max_delay {max_delay}")
        self.sample_rate = sample_rate
        self.factor = max(1, round(sample_rate / ANALYSIS_RATE))
        self.rate = sample_rate / self.factor  # analysis samples per second
        self.threshold = threshold
        self.silence_db = silence_db
        self.min_span = min_span
        self._lags = (math.floor(min_delay * self.rate), math.ceil(max_delay * self.rate))
        self._pad = round(pad * self.rate)
        self._taps = _lowpass(self.factor)
        capacity = max(1, round(history * sample_rate))
        self._mic, self._system = _History(capacity), _History(capacity)

    @property
    def nbytes(self) -> int:
        """Bytes of audio held for both streams (bounded by ``history``)."""
        return self._mic.nbytes + self._system.nbytes

    def add_mic(self, chunk: np.ndarray) -> None:
        """Append microphone samples (mono float32 at ``sample_rate``, in order)."""
        self._mic.append(chunk)

    def add_system(self, chunk: np.ndarray) -> None:
        """Append system-audio samples (mono float32 at ``sample_rate``, in order)."""
        self._system.append(chunk)

    def forget(self, before: float) -> None:
        """Drop the audio that spans starting at mic time ``before`` (seconds) or later do not
        need. Spans before it are then judged on what is left (at the edge: not echo)."""
        # A short span starting there is widened by up to min_span / 2 before its start.
        first = math.floor((before - self.min_span / 2) * self.rate) - self._pad
        reach = self._lags[1] + (PATH_FRAMES - 1) * HOP + EARLY + LOWPASS_HALF
        self._mic.floor = max(self._mic.floor, (first - LOWPASS_HALF) * self.factor)
        self._system.floor = max(self._system.floor, (first - reach) * self.factor)

    def ready(self, end: float) -> bool:
        """Whether both streams hold what a span ending at mic time ``end`` is judged on (its
        context after it, and the system audio an echo in it could come from). Asked earlier, a
        span is judged on less: audio not added yet counts as silence."""
        mic_needed = end + self._pad / self.rate + LOWPASS_HALF / self.rate
        system_needed = mic_needed - self._lags[0] / self.rate
        rate = self.sample_rate
        return self._mic.end >= mic_needed * rate and self._system.end >= system_needed * rate

    def is_echo(self, start: float, end: float) -> bool:
        """Whether mic seconds ``[start, end)`` are explained by the system audio played back."""
        match = self.measure(start, end)
        return match is not None and match.residual <= self.threshold

    def measure(self, start: float, end: float) -> EchoMatch | None:
        """The echo fit for mic seconds ``[start, end)``; None when there is nothing to judge
        (no mic audio held there, too little context, or silence). ``residual`` is 1 when the
        system plays nothing."""
        if end < start:
            raise ValueError(f"span ends ({end}) before it starts ({start})")
        window = self._window(start, end)
        if window is None:
            return None
        (w0, w1), (k0, k1) = window
        mic = _decimate(self._mic, self._taps, self.factor, w0, w1)
        inside = mic[k0 - w0 : k1 - w0]
        level_db = 10 * math.log10(max(float(np.var(inside)), 1e-30))
        if level_db < self.silence_db:
            return None
        early = (PATH_FRAMES - 1) * HOP + EARLY
        system = _decimate(
            self._system, self._taps, self.factor, w0 - self._lags[1] - early, w1 - self._lags[0]
        )
        if 10 * math.log10(max(float(np.mean(np.square(system))), 1e-30)) < self.silence_db:
            return EchoMatch(lag=math.nan, residual=1.0, level_db=level_db)
        j = self._direct_path(mic, system[early:])  # system[early + j + n] lines up with mic[n]
        starts = np.arange((mic.size - FRAME) // HOP + 1) * HOP
        centres = starts + FRAME // 2
        span = np.flatnonzero((centres >= k0 - w0) & (centres < k1 - w0))
        if span.size == 0:  # a span shorter than a hop: the frame nearest its middle
            span = np.array([int(np.argmin(np.abs(centres - ((k0 + k1) / 2 - w0))))])
        aligned = system[j : j + early + mic.size]
        residual = _subband_residual(mic, aligned, slice(span[0], span[-1] + 1))
        if residual is None:
            return None
        return EchoMatch(lag=(self._lags[1] - j) / self.rate, residual=residual, level_db=level_db)

    def _window(self, start: float, end: float) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """(context, span) in absolute analysis samples, inside the mic audio held; None when
        the span has no held audio or the context is shorter than MIN_FRAMES frames."""
        widen = max(self.min_span - (end - start), 0.0) / 2
        held = (
            -(-self._mic.first // self.factor) + LOWPASS_HALF,
            self._mic.end // self.factor - LOWPASS_HALF,
        )
        k0 = max(math.floor((start - widen) * self.rate), held[0])
        k1 = min(math.ceil((end + widen) * self.rate), held[1])
        if k1 <= k0:
            return None
        w0, w1 = k0 - self._pad, k1 + self._pad
        w0, w1 = (held[0], w1 + held[0] - w0) if w0 < held[0] else (w0, w1)
        w0, w1 = (w0 - (w1 - held[1]), held[1]) if w1 > held[1] else (w0, w1)
        w0 = max(w0, held[0])
        if w1 - w0 < FRAME + (MIN_FRAMES - 1) * HOP:
            return None
        return (w0, w1), (k0, k1)

    def _direct_path(self, mic: np.ndarray, system: np.ndarray) -> int:
        """Offset j into ``system`` (which starts max_delay before ``mic``) of the echo path's
        largest tap: ``system[j + n]`` is what ``mic[n]`` hears most of."""
        size = 1 << (mic.size + system.size - 1).bit_length()
        spec_m, spec_s = np.fft.rfft(mic, size), np.fft.rfft(system, size)
        power = np.square(spec_s.real) + np.square(spec_s.imag)
        path = np.fft.irfft(spec_s * np.conj(spec_m) / (power + 1e-2 * power.mean()), size)
        return int(np.argmax(np.abs(path[: self._lags[1] - self._lags[0] + 1])))
