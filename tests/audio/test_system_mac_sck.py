"""The ScreenCaptureKit backend's glue on stand-ins of the PyObjC modules (objc, Foundation,
ScreenCaptureKit, CoreMedia, libdispatch) that answer as PyObjC documents: NSError** arguments
come back in a tuple, completion handlers run on another thread, CMBlockBufferCopyDataBytes
returns ``(status, bytes)``. They check our calls and their order, not the frameworks (see
docs/macos-system-audio.md for what only a Mac can show). Also the pure helpers: bytes to
frames, error lines, the permission pane.
"""

from __future__ import annotations

import re
import sys
import threading
import types

import numpy as np
import pytest
import soxr

from voxtral_mlx.audio import system_mac_sck as sck
from voxtral_mlx.audio.system_mac import MacSystemAudioSource
from voxtral_mlx.audio.system_mac_pcm import PcmFormat, pcm_frames
from voxtral_mlx.audio.system_mac_words import capture_error, permission_pane
from voxtral_mlx.errors import DeviceError

AUDIO, SCREEN = 1, 0  # SCStreamOutputType values
PLANAR_FLOAT = 0x1 | 0x8 | 0x20  # float, packed, non-interleaved: what ScreenCaptureKit sends


class NSError:
    def __init__(self, code: int, text: str = "an error"):
        self._code, self._text = code, text

    def code(self):
        return self._code

    def localizedDescription(self):
        return self._text


class NSObject:
    def __init_subclass__(cls, protocols=(), **kw):
        cls.protocols = list(protocols)

    @classmethod
    def alloc(cls):
        return cls.__new__(cls)

    def init(self):
        return self


class Recorder(NSObject):
    """SCStreamConfiguration / SCContentFilter: records every call made to it."""

    def __getattr__(self, name):
        calls = self.__dict__.setdefault("calls", {})

        def record(*args):
            calls[name] = args
            return self

        return record


class SampleBuffer:
    """48 kHz stereo frames as ScreenCaptureKit hands them over: planes back to back."""

    def __init__(self, frames: np.ndarray, pts: float):
        self.frames, self.pts = frames, pts
        self.data = np.ascontiguousarray(frames.T).tobytes()


class Stream(NSObject):
    """SCStream: once capture starts, a thread hands it ``pending`` (and a screen frame after
    each audio buffer) to its outputs."""

    last, pending = None, []

    def initWithFilter_configuration_delegate_(self, shown, config, delegate):
        self.shown, self.config, self.delegate, self.outputs = shown, config, delegate, []
        self.buffers, self.halt, Stream.last = list(Stream.pending), threading.Event(), self
        self.start_error, self.thread = None, None
        return self

    def addStreamOutput_type_sampleHandlerQueue_error_(self, output, kind, queue, error):
        self.outputs.append((output, kind, queue))
        return True, None

    def startCaptureWithCompletionHandler_(self, handler):
        threading.Thread(target=handler, args=(self.start_error,)).start()
        if self.start_error is None:
            self.thread = threading.Thread(target=self._deliver)
            self.thread.start()

    def _deliver(self):
        for sbuf in self.buffers:
            for output, kind, _ in self.outputs:
                output.stream_didOutputSampleBuffer_ofType_(self, "frame" if kind == SCREEN else sbuf, kind)  # fmt: skip
        self.halt.wait()

    def stopCaptureWithCompletionHandler_(self, handler):
        self.halt.set()
        self.thread.join()
        threading.Thread(target=handler, args=(None,)).start()


def frameworks(displays=("display 1",), content_error=None, answer=True, sent=()):
    """The stand-in modules, for monkeypatch to put in sys.modules."""

    def get_content(handler):
        if answer:
            content = types.SimpleNamespace(displays=lambda: list(displays))
            threading.Thread(target=handler, args=(content, content_error)).start()

    asbd = {"mSampleRate": 48000.0, "mChannelsPerFrame": 2, "mFormatFlags": PLANAR_FLOAT,
            "mBitsPerChannel": 32}  # fmt: skip
    sc = types.SimpleNamespace(
        SCShareableContent=types.SimpleNamespace(getShareableContentWithCompletionHandler_=get_content),
        SCStreamConfiguration=Recorder, SCContentFilter=Recorder, SCStream=Stream,
        SCStreamOutputTypeAudio=AUDIO, SCStreamOutputTypeScreen=SCREEN)  # fmt: skip
    cm = types.SimpleNamespace(
        CMTimeMake=lambda value, scale: (value, scale),
        CMSampleBufferGetNumSamples=lambda s: len(s.frames),
        CMSampleBufferGetDataBuffer=lambda s: s,
        CMSampleBufferGetFormatDescription=lambda s: "description",
        CMAudioFormatDescriptionGetStreamBasicDescription=lambda d: types.SimpleNamespace(**asbd),
        CMBlockBufferGetDataLength=lambda b: len(b.data),
        CMBlockBufferCopyDataBytes=lambda b, at, n, out: (0, b.data[at : at + n]),
        CMSampleBufferGetPresentationTimeStamp=lambda s: ("time", s.pts),
        CMTimeGetSeconds=lambda t: t[1])  # fmt: skip
    objc = types.SimpleNamespace(protocolNamed=lambda name: name, python_method=lambda f: f)
    queue = types.SimpleNamespace(dispatch_queue_create=lambda label, attr: ("queue", label))
    return {"ScreenCaptureKit": sc, "CoreMedia": cm, "objc": objc, "libdispatch": queue,
            "Foundation": types.SimpleNamespace(NSObject=NSObject)}  # fmt: skip


@pytest.fixture
def on_mac(monkeypatch):
    """Installs stand-ins (``on_mac(**kw)``); ScreenCaptureKit's answers come within 0.5 s."""

    def install(**kw):
        for name, module in frameworks(**kw).items():
            monkeypatch.setitem(sys.modules, name, module)
        monkeypatch.setattr(sck, "_OUTPUT_CLASS", None)
        monkeypatch.setattr(Stream, "pending", kw.get("sent", []))
        monkeypatch.setattr(sck, "OPEN_SECONDS", 0.5)

    return install


def buffers(seconds: float) -> list[SampleBuffer]:
    t = np.arange(int(seconds * 48000)) / 48000
    left = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    frames = np.stack([left, 0.25 * left], axis=1)
    return [SampleBuffer(frames[i : i + 1024], 100.0 + i / 48000) for i in range(0, len(frames), 1024)]  # fmt: skip


def test_start_configures_an_audio_stream_and_delivers_its_buffers(on_mac, no_leaked_threads):
    sent = buffers(0.1)
    on_mac(sent=sent)
    got, errors, backend = [], [], sck.ScreenCaptureBackend()
    backend.start(lambda f, r, p: got.append((f, r, p)), errors.append)
    stream = Stream.last
    config = stream.config.calls
    assert config["setCapturesAudio_"] == (True,) and config["setExcludesCurrentProcessAudio_"] == (True,)  # fmt: skip
    assert config["setSampleRate_"] == (48000,) and config["setChannelCount_"] == (2,)
    assert stream.shown.calls["initWithDisplay_excludingWindows_"] == ("display 1", [])
    assert [kind for _, kind, _ in stream.outputs] == [AUDIO, SCREEN]
    assert all(q == ("queue", b"org.voxtral-mlx.system-audio") for _, _, q in stream.outputs)
    assert stream.delegate.protocols == ["SCStreamOutput", "SCStreamDelegate"]
    while len(got) < len(sent):
        threading.Event().wait(0.01)
    backend.stop()
    assert [(r, p) for _, r, p in got] == [(48000, s.pts) for s in sent] and errors == []
    np.testing.assert_array_equal(np.concatenate([f for f, _, _ in got]), np.concatenate([s.frames for s in sent]))  # fmt: skip
    stream.delegate.stream_didOutputSampleBuffer_ofType_(stream, sent[0], AUDIO)  # after stop
    assert len(got) == len(sent)


def test_the_source_on_the_backend_resamples_what_the_stream_sends(on_mac, no_leaked_threads):
    sent = buffers(0.5)
    on_mac(sent=sent)
    src = MacSystemAudioSource(backend=sck.ScreenCaptureBackend())
    src.open()
    out = []
    while sum(map(len, out)) < 0.45 * 16000:
        if (x := src.read(0.05)) is not None:
            out.append(x)
    src.stop()
    while (x := src.read(0.0)) is not None:
        out.append(x)
    src.close()
    frames = np.concatenate([s.frames for s in sent])
    whole = soxr.resample(frames.mean(axis=1), 48000, 16000, quality="HQ")
    np.testing.assert_allclose(np.concatenate(out), whole, atol=1e-6)


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"content_error": NSError(-3801)}, "macOS did not allow recording the screen and its audio"),
        ({"displays": ()}, "there is no display to capture"),
        ({"answer": False}, "did not answer in 0.5 s (is macOS asking for permission?)"),
    ],
)  # fmt: skip
def test_start_failures_are_one_device_error_line(on_mac, kw, words):
    on_mac(**kw)
    with pytest.raises(DeviceError, match=re.escape(words)) as caught:
        sck.ScreenCaptureBackend().start(lambda *a: None, lambda e: None)
    assert "\n" not in str(caught.value)


def test_a_stream_that_stops_by_itself_is_reported(on_mac):
    on_mac()
    errors, backend = [], sck.ScreenCaptureBackend()
    backend.start(lambda *a: None, errors.append)
    Stream.last.delegate.stream_didStopWithError_(Stream.last, NSError(-3817, "stopped"))
    backend.stop()
    assert [str(e) for e in errors] == ["system audio: the recording was stopped from the menu bar; listen again to go on"]  # fmt: skip


def test_without_the_bindings_start_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ScreenCaptureKit", None)  # import fails
    with pytest.raises(DeviceError, match="pip install pyobjc-framework-ScreenCaptureKit"):
        sck.ScreenCaptureBackend().start(lambda *a: None, lambda e: None)


def test_pcm_frames_reads_planes_interleaved_and_integer_samples():
    frames = np.array([[0.5, -0.25], [0.125, 1.0], [-1.0, 0.0]], np.float32)
    planar = PcmFormat(48000, 2, PLANAR_FLOAT, 32)
    np.testing.assert_array_equal(pcm_frames(frames.T.tobytes(), 3, planar), frames)
    padded = np.pad(frames.T, ((0, 0), (0, 1))).tobytes()  # planes with room after them
    np.testing.assert_array_equal(pcm_frames(padded, 3, planar), frames)
    interleaved = PcmFormat(48000, 2, 0x1 | 0x8, 32)
    np.testing.assert_array_equal(pcm_frames(frames.tobytes(), 3, interleaved), frames)
    big = PcmFormat(48000, 2, 0x1 | 0x2 | 0x8, 32)
    np.testing.assert_array_equal(pcm_frames(frames.astype(">f4").tobytes(), 3, big), frames)
    ints = (frames * 32767).astype("<i2")
    got = pcm_frames(ints.tobytes(), 3, PcmFormat(48000, 2, 0x4 | 0x8, 16))
    np.testing.assert_allclose(got, frames, atol=1 / 32768 + 1e-6)
    assert got.dtype == np.float32 and got.flags.writeable


def test_pcm_frames_refuses_short_buffers_and_unknown_samples():
    with pytest.raises(DeviceError, match="had only 20 bytes"):
        pcm_frames(bytes(20), 3, PcmFormat(48000, 2, PLANAR_FLOAT, 32))
    with pytest.raises(DeviceError, match="24-bit samples of an unknown kind"):
        pcm_frames(bytes(18), 3, PcmFormat(48000, 2, 0x4, 24))


def test_error_lines_and_the_permission_pane():
    assert permission_pane((14, 6)) == "Screen Recording"
    assert permission_pane((15, 0)) == permission_pane(()) == "Screen & System Audio Recording"
    refused = str(capture_error(-3801, "declined", "Screen Recording"))
    assert "System Settings > Privacy & Security > Screen Recording, then restart it" in refused
    other = str(capture_error(-3811, "internal error", "Screen Recording"))
    assert other.startswith("system audio: ScreenCaptureKit failed (internal error, code -3811)")
    for code in (-3801, -3814, -3815, -3817, -3818, -3821, -1):
        text = str(capture_error(code, "why", "pane"))
        assert text.startswith("system audio: ") and "\n" not in text
