"""ScreenCaptureKit through PyObjC: the framework side of
:class:`~voxtral_mlx.audio.system_mac.MacSystemAudioSource`. No MLX.

:class:`ScreenCaptureBackend` imports the frameworks inside its methods, so this module imports
on any system; tests/audio/test_system_mac_sck.py runs it on stand-ins of the PyObjC modules.
What it says to users: :mod:`~voxtral_mlx.audio.system_mac_words`; bytes to frames:
:mod:`~voxtral_mlx.audio.system_mac_pcm`.

What :meth:`ScreenCaptureBackend.start` does (macOS 13+; pyobjc-framework-ScreenCaptureKit,
-CoreMedia and -libdispatch):

1. ``SCShareableContent.getShareableContentWithCompletionHandler_``: the displays. This is where
   macOS asks for screen-recording permission, or says it was refused (SCStreamErrorUserDeclined).
2. An ``SCContentFilter`` of the first display excluding no window: a display's stream carries
   the audio of the whole system.
3. ``SCStreamConfiguration``: ``capturesAudio``, ``excludesCurrentProcessAudio`` (never caption
   our own sounds), ``sampleRate`` 48000 and ``channelCount`` 2 (Apple documents 8000, 16000,
   24000 and 48000 Hz, 48 kHz by default; soxr resamples, as for the microphone and files), and
   a 2 x 2 video at one frame a second: a stream has a video size even when nobody looks.
4. An ``SCStream`` whose delegate (``stream:didStopWithError:``) and output, for the audio and
   the screen types (screen buffers are dropped; a stream with no screen output logs every frame
   it drops), is one NSObject subclass, on a serial dispatch queue of our own.
5. ``startCaptureWithCompletionHandler_``.

Each audio ``CMSampleBuffer``: its format (``CMAudioFormatDescriptionGetStreamBasicDescription``),
frame count, bytes (``CMBlockBufferCopyDataBytes``: PyObjC's notes name it the way to read a block
buffer; ``CMBlockBufferGetDataPointer`` is not available from Python) and presentation time
(``CMTimeGetSeconds``); :func:`pcm_frames` makes frames of the bytes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from voxtral_mlx.audio.system_mac_pcm import PcmFormat, pcm_frames
from voxtral_mlx.audio.system_mac_words import (
    NO_DISPLAY_LIST,
    capture_error,
    macos_version,
    permission_pane,
    permission_remedy,
)
from voxtral_mlx.errors import DeviceError

log = logging.getLogger(__name__)
RATE, CHANNELS = 48000, 2  # what the stream is asked for (ScreenCaptureKit's defaults)
OPEN_SECONDS = 10.0  # longest wait for each of ScreenCaptureKit's answers when starting
STOP_SECONDS = 0.5  # longest wait for stopCapture (stop() must return within about a second)


AudioCallback = Callable[[np.ndarray, int, "float | None"], None]
ErrorCallback = Callable[[DeviceError], None]


class ScreenCaptureBackend:
    """System audio from ScreenCaptureKit. :meth:`start` blocks until capture runs (DeviceError
    when it cannot: no bindings, old macOS, no permission, no display); then ``on_audio(frames,
    rate, pts)`` runs on our serial dispatch queue for each audio buffer (``frames``: new float32
    ``n x channels``; ``pts``: its presentation time in seconds, None if unknown) and
    ``on_error(DeviceError)`` when the stream fails or stops by itself. :meth:`stop` waits at
    most STOP_SECONDS. ``pane``: where permission is granted on this Mac."""

    name = "ScreenCaptureKit"

    def __init__(self) -> None:
        self.pane = permission_pane(macos_version())
        self._stream: Any = None
        self._output: Any = None
        self._queue: Any = None
        self._on_audio: AudioCallback | None = None
        self._on_error: ErrorCallback | None = None
        # One buffer at a time, in order, whatever queue the stream uses (the source's queue
        # has one producer).
        self._serial = threading.Lock()

    def start(self, on_audio: AudioCallback, on_error: ErrorCallback) -> None:
        sc, cm = _frameworks()
        self._on_audio, self._on_error = on_audio, on_error
        try:
            self._start(sc, cm)
        except BaseException:
            self._on_audio = self._on_error = None
            self._stream = self._output = self._queue = None  # never started: nothing to stop
            raise

    def _start(self, sc: Any, cm: Any) -> None:
        content = self._displays(sc)
        config = sc.SCStreamConfiguration.alloc().init()
        config.setCapturesAudio_(True)
        config.setExcludesCurrentProcessAudio_(True)
        config.setSampleRate_(RATE)
        config.setChannelCount_(CHANNELS)
        config.setWidth_(2)
        config.setHeight_(2)
        config.setMinimumFrameInterval_(cm.CMTimeMake(1, 1))
        config.setShowsCursor_(False)
        shown = sc.SCContentFilter.alloc().initWithDisplay_excludingWindows_(content[0], [])
        self._output = _output_class()(self._buffer, self._stopped)
        self._stream = sc.SCStream.alloc().initWithFilter_configuration_delegate_(
            shown, config, self._output
        )
        self._queue = _serial_queue()
        for kind in (sc.SCStreamOutputTypeAudio, sc.SCStreamOutputTypeScreen):
            ok, err = self._stream.addStreamOutput_type_sampleHandlerQueue_error_(
                self._output, kind, self._queue, None
            )
            if not ok:
                raise self._error(err)
        (err,) = _answer(self._stream.startCaptureWithCompletionHandler_, 1, "startCapture")
        if err is not None:
            raise self._error(err)

    def _displays(self, sc: Any) -> Any:
        ask = sc.SCShareableContent.getShareableContentWithCompletionHandler_
        try:
            content, err = _answer(ask, 2, "the list of displays")
        except TimeoutError as timeout:
            raise DeviceError(
                f"system audio: ScreenCaptureKit did not answer in {OPEN_SECONDS:g} s (is macOS "
                f"asking for permission?); {permission_remedy(self.pane)}"
            ) from timeout
        if err is not None:
            raise self._error(err)
        displays = content.displays()
        if not displays:
            raise capture_error(NO_DISPLAY_LIST, "no display", self.pane)
        return displays

    def stop(self) -> None:
        """Stop the stream and drop it; buffers arriving meanwhile are not delivered."""
        self._on_audio = self._on_error = None
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                _answer(stream.stopCaptureWithCompletionHandler_, 1, "stopCapture", STOP_SECONDS)
            except TimeoutError:
                log.warning("ScreenCaptureKit did not confirm the stop in %g s", STOP_SECONDS)
        self._output = self._queue = None

    # ---- the dispatch queue ---------------------------------------------------------------
    def _buffer(self, sbuf: Any) -> None:
        on_audio = self._on_audio
        if on_audio is None:
            return
        try:
            got = _sample_buffer_frames(sbuf)
        except DeviceError as err:
            return self._stopped_with(err)
        if got is not None:
            with self._serial:
                on_audio(*got)

    def _stopped(self, error: Any) -> None:
        self._stopped_with(self._error(error))

    def _stopped_with(self, err: DeviceError) -> None:
        on_error = self._on_error
        if on_error is not None:
            on_error(err)

    def _error(self, error: Any) -> DeviceError:
        if error is None:
            return DeviceError("system audio: ScreenCaptureKit stopped; listen again to go on")
        return capture_error(int(error.code()), str(error.localizedDescription()), self.pane)


def _frameworks() -> tuple[Any, Any]:
    """ScreenCaptureKit and CoreMedia, or a DeviceError that says what to install."""
    version = macos_version()
    if version and version < (13,):
        raise DeviceError("system audio needs macOS 13 or later (ScreenCaptureKit's audio)")
    try:
        import CoreMedia
        import ScreenCaptureKit
    except ImportError as err:
        raise DeviceError("system audio on macOS needs PyObjC's ScreenCaptureKit bindings: "
                          f"pip install pyobjc-framework-ScreenCaptureKit ({err})") from err  # fmt: skip
    return ScreenCaptureKit, CoreMedia


def _answer(call: Callable, args: int, what: str, timeout: float | None = None) -> tuple:
    """Call one of ScreenCaptureKit's completion-handler methods and wait ``timeout`` s (default
    OPEN_SECONDS) for its answer: it comes on one of the framework's queues, not a run loop.
    TimeoutError if none comes."""
    done, box = threading.Event(), []

    def one(a):
        box.append((a,))
        done.set()

    def two(a, b):
        box.append((a, b))
        done.set()

    call(one if args == 1 else two)
    if not done.wait(OPEN_SECONDS if timeout is None else timeout):
        raise TimeoutError(f"ScreenCaptureKit gave no answer for {what}")
    return box[0]


def _sample_buffer_frames(sbuf: Any) -> tuple[np.ndarray, int, float | None] | None:
    """One audio CMSampleBuffer as ``(frames, rate, pts)``; None when it holds nothing."""
    import CoreMedia as cm

    frames = int(cm.CMSampleBufferGetNumSamples(sbuf))
    block = cm.CMSampleBufferGetDataBuffer(sbuf)
    if frames <= 0 or block is None:
        return None
    asbd = cm.CMAudioFormatDescriptionGetStreamBasicDescription(
        cm.CMSampleBufferGetFormatDescription(sbuf)
    )
    fmt = PcmFormat(int(asbd.mSampleRate), int(asbd.mChannelsPerFrame), int(asbd.mFormatFlags),
                    int(asbd.mBitsPerChannel))  # fmt: skip
    length = int(cm.CMBlockBufferGetDataLength(block))
    status, raw = cm.CMBlockBufferCopyDataBytes(block, 0, length, None)
    if status != 0:
        raise DeviceError(
            f"system audio: could not read a sample buffer (CoreMedia error {status})"
        )
    pts = float(cm.CMTimeGetSeconds(cm.CMSampleBufferGetPresentationTimeStamp(sbuf)))
    return pcm_frames(bytes(raw), frames, fmt), fmt.rate, pts if np.isfinite(pts) else None


def _serial_queue() -> Any:
    """A serial dispatch queue for the stream's buffers (one producer, in order); None (the
    stream's default queue) without the libdispatch bindings."""
    try:
        import libdispatch

        return libdispatch.dispatch_queue_create(b"org.voxtral-mlx.system-audio", None)
    except (ImportError, TypeError, ValueError):
        log.info("system audio: no dispatch queue of our own; the stream's default one is used")
        return None


_OUTPUT_CLASS: Any = None


def _output_class() -> Callable[[Callable, Callable], Any]:
    """A factory of the stream's delegate and output: one Objective-C class, defined once (a
    class name is registered once per process)."""
    global _OUTPUT_CLASS
    if _OUTPUT_CLASS is None:
        _OUTPUT_CLASS = _define_output_class()
    cls = _OUTPUT_CLASS

    def make(on_buffer: Callable, on_stop: Callable) -> Any:
        output = cls.alloc().init()
        output.bind(on_buffer, on_stop)
        return output

    return make


def _define_output_class() -> Any:
    import objc
    import ScreenCaptureKit as sc
    from Foundation import NSObject

    protocols = [objc.protocolNamed("SCStreamOutput"), objc.protocolNamed("SCStreamDelegate")]

    class VoxtralSystemAudioOutput(NSObject, protocols=protocols):
        # An exception must not cross into the framework's queue: it would end the process.
        @objc.python_method
        def bind(self, on_buffer, on_stop):
            self.on_buffer, self.on_stop = on_buffer, on_stop

        def stream_didOutputSampleBuffer_ofType_(self, stream, sbuf, kind):
            if kind == sc.SCStreamOutputTypeAudio:
                try:
                    self.on_buffer(sbuf)
                except Exception:
                    log.exception("system audio: a sample buffer could not be read")

        def stream_didStopWithError_(self, stream, error):
            try:
                self.on_stop(error)
            except Exception:
                log.exception("system audio: the stream's stop could not be reported")

    return VoxtralSystemAudioOutput


__all__ = ["ScreenCaptureBackend"]
