"""Listing, choosing and rescanning input devices with the fake sounddevice; PortAudio is never
re-initialised under an open stream, nor while another thread lists devices."""

from __future__ import annotations

import threading
import time

import pytest

from voxtral_mlx.audio.devices import list_devices, pick_device, rescan_devices
from voxtral_mlx.audio.mic import MicSource
from voxtral_mlx.errors import DeviceError
from voxtral_mlx.testing import FakeDevice, FakeSoundDevice


def test_list_and_pick_devices():
    sd = FakeSoundDevice(
        [FakeDevice("Built-in Output", channels=0), FakeDevice("MacBook Pro Microphone", rate=48000),
         FakeDevice("USB Mic", rate=44100, channels=1), FakeDevice("USB Mic (2)")],
        default_input=1,
    )  # fmt: skip
    devices = list_devices(sd)
    assert [d.index for d in devices] == [1, 2, 3]  # the output-only device is not listed
    assert [d.is_default for d in devices] == [True, False, False]
    assert devices[1].default_samplerate == 44100 and devices[1].hostapi == "Fake Audio"
    assert pick_device(devices, None).index == 1
    assert pick_device(devices, 2).index == 2 and pick_device(devices, " 3 ").index == 3
    assert pick_device(devices, "usb mic").index == 2  # exact name wins over a longer match
    assert pick_device(devices, "(2)").index == 3
    assert pick_device(devices, "macbook").index == 1
    for spec, words in ((0, "index 0"), ("webcam", "matches 'webcam'")):
        with pytest.raises(DeviceError) as err:
            pick_device(devices, spec)
        assert words in str(err.value) and "1 'MacBook Pro Microphone'" in str(err.value)
    with pytest.raises(DeviceError, match="no microphone found"):
        pick_device([], None)


def test_system_default_when_sounddevice_has_none_set():
    sd = FakeSoundDevice([FakeDevice("a"), FakeDevice("b")], default_input=1)
    assert [d.is_default for d in list_devices(sd)] == [False, True]
    sd = FakeSoundDevice([FakeDevice("a")], default_input=-1)  # PortAudio: no default input
    assert pick_device(list_devices(sd), None).name == "a"


def test_a_microphone_plugged_in_later_shows_after_a_rescan_never_under_a_stream(no_leaked_threads):
    """PortAudio lists what was there when it started: a device plugged in later appears only
    after a rescan, and no rescan re-initialises PortAudio while a stream is open."""
    sd = FakeSoundDevice([FakeDevice("Built-in Mic", rate=16000, channels=1)])
    sd.devices.append(FakeDevice("USB Mic"))  # plugged in after start-up
    assert [d.name for d in list_devices(sd)] == ["Built-in Mic"]
    assert [d.name for d in list_devices(sd, rescan=True)] == ["Built-in Mic", "USB Mic"]
    sd.devices.append(FakeDevice("Headset"))
    mic = MicSource("Built-in", sd=sd)
    mic.open()
    try:
        reinits = sd.reinits
        assert not rescan_devices(sd)  # recording: left alone
        assert "Headset" not in [d.name for d in list_devices(sd, rescan=True)]
        assert sd.reinits == reinits and not sd.reinit_under_stream
    finally:
        mic.close()
    assert rescan_devices(sd) and "Headset" in [d.name for d in list_devices(sd)]
    assert not sd.reinit_under_stream


class SlowRescan(FakeSoundDevice):
    """PortAudio re-initialising for a while; records a device list asked for meanwhile."""

    def __init__(self, devices):
        super().__init__(devices)
        self.rescanning, self.listed_while_rescanning = threading.Event(), False

    def _terminate(self) -> None:
        super()._terminate()
        self.rescanning.set()
        time.sleep(0.3)

    def _initialize(self) -> None:
        super()._initialize()
        self.rescanning.clear()

    def query_devices(self, device=None, kind=None):
        self.listed_while_rescanning |= self.rescanning.is_set()
        return super().query_devices(device, kind)


def test_devices_are_never_listed_while_another_thread_rescans(no_leaked_threads):
    """A lost device is looked for on the transcriber's thread while the GUI may list devices
    on its own: the list waits for the rescan (PortAudio torn down meanwhile)."""
    sd = SlowRescan([FakeDevice("Mic")])
    rescan = threading.Thread(target=rescan_devices, args=(sd,))
    rescan.start()
    assert sd.rescanning.wait(5)
    assert [d.name for d in list_devices(sd)] == ["Mic"]
    rescan.join()
    assert not sd.listed_while_rescanning
