"""A microphone lost and back through the real audio stack (issue 17): PortAudio's ALSA
``pulse`` device on a private PulseAudio server (a sine source as the microphone). Ending the
server ends the stream (PortAudio's finished callback, as for an unplugged USB device): the
MicSource says "Device lost" once and waits; a server started again on the same socket gives
the device back under the same name, and capture goes on in the same source (before: the source
ended with an error and the session with it). Stop answers at once while it is lost.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from voxtral_mlx.audio.mic import MicSource
from voxtral_mlx.text.transcript import Transcript

from ..conftest import require_sound_tools
from .test_live_e2e import _cli, _portaudio_restart, _run, folder  # noqa: F401  (fixture)
from .test_stall_e2e import Lines


class Server:
    """A private PulseAudio server with a sine source as the default input."""

    def __init__(self, root: Path):
        self.root, self.proc = root, None
        self.env = {"PULSE_RUNTIME_PATH": str(root / "run"), "PULSE_STATE_PATH": str(root / "state"),
                    "PULSE_SERVER": f"unix:{root}/run/native"}  # fmt: skip

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", f"--log-target=file:{self.root}/log"],
            env={**os.environ, **self.env}, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while _run("pactl", "info", env={**os.environ, **self.env}).returncode:
            assert self.proc.poll() is None and time.monotonic() < deadline, (
                "PulseAudio did not start"
            )
            time.sleep(0.05)
        for args in (["load-module", "module-sine-source", "source_name=vsine", "rate=48000"],
                     ["set-default-source", "vsine"]):  # fmt: skip
            r = _run("pactl", *args, env={**os.environ, **self.env})
            assert r.returncode == 0, r.stderr

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def server(monkeypatch):
    require_sound_tools("pulseaudio", "pactl")
    root = Path(tempfile.mkdtemp(prefix="vpl"))  # short: a unix socket path has ~100 chars
    srv = Server(root)
    for key, value in srv.env.items():
        monkeypatch.setenv(key, value)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()
        shutil.rmtree(root, ignore_errors=True)
        monkeypatch.undo()
        _portaudio_restart()  # forget the server for later tests


def read_until(src: MicSource, done, timeout: float, polls: list) -> int:
    got, deadline = 0, time.monotonic() + timeout
    while not done(got) and time.monotonic() < deadline:
        x = src.read(0.05)
        got += 0 if x is None else len(x)
        if (poll := src.poll_stall()) is not None:
            polls.append(poll)
    assert done(got), (got, polls)
    return got


def test_a_lost_pulse_device_is_waited_for_and_capture_resumes_when_it_is_back(server):
    sd = _portaudio_restart()
    src = MicSource("pulse", sd=sd)
    src.open()
    polls: list = []
    try:
        read_until(src, lambda got: got >= 16000, 10, polls)  # a second of the sine
        server.stop()  # the device is gone: PortAudio ends the stream
        read_until(src, lambda _: src.lost, 10, polls)
        assert polls == [(True, polls[0][1])] and polls[0][1].startswith("Device lost: microphone 'pulse'")  # fmt: skip
        server.start()  # back, under the same name
        read_until(src, lambda _: not src.lost, 10, polls)
        assert polls[1:] == [(False, "'pulse' is back: listening goes on")]
        read_until(src, lambda got: got >= 16000, 10, polls)  # capture goes on
        server.stop()
        read_until(src, lambda _: src.lost, 10, polls)
    finally:
        t0 = time.monotonic()
        src.stop()
        src.close()
        took = time.monotonic() - t0
    assert took < 2.0


def test_cli_waits_for_a_lost_device_resumes_and_ctrl_c_ends_within_2_s(server, folder, tmp_path):  # noqa: F811
    # PYTHONFAULTHANDLER: if the CLI hangs, SIGABRT makes it print every thread's stack.
    env = {**os.environ, **server.env, "VOXTRAL_MLX_DATA_DIR": str(tmp_path / "autosave"),
           "PYTHONFAULTHANDLER": "1"}  # fmt: skip
    proc = _cli(["--model", folder, "--device", "pulse"], env, subprocess.PIPE)
    err = Lines(proc)
    try:
        err.wait_for("listening:", timeout=60)
        time.sleep(1.0)
        server.stop()
        err.wait_for("Device lost: microphone 'pulse'", timeout=10)
        time.sleep(1.0)
        assert proc.poll() is None  # still running: waiting for the device
        server.start()
        err.wait_for("'pulse' is back", timeout=10)
        # Capture flowing again before the device goes: a stream stopped while it starts may
        # stall (no end from PortAudio) rather than end, and the CLI then says so instead;
        # even after a second of capture it sometimes does (CI, 2026-12-02): either report.
        time.sleep(1.0)
        server.stop()
        deadline = time.monotonic() + 10
        while (err.count("Device lost: microphone 'pulse'") < 2
               and not err.count("microphone 'pulse' stopped delivering audio")):  # fmt: skip
            assert time.monotonic() < deadline, f"the second loss was not reported: {err.lines}"
            time.sleep(0.05)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # the stacks of the hang, into err.lines
            proc.wait(10)
            pytest.fail("the CLI did not end 10 s after Ctrl-C:\n" + "\n".join(err.lines))
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0 and took < 2.0, (code, took, err.lines)
    assert not any("Traceback" in line for line in err.lines)
    (saved,) = (tmp_path / "autosave").glob("live-*.json")  # one recording throughout
    assert Transcript.from_dict(json.loads(saved.read_text())).metadata["source"] == "pulse"
