"""A stalled microphone through the real audio stack (issue 17): ``python -m voxtral_mlx --mic``
on test_live_e2e's private PulseAudio server, its virtual source suspended with ``pactl
suspend-source`` (callbacks stop; PortAudio's stop() would block until it resumes). The stall is
reported once, listening goes on when the source resumes, and Ctrl-C on a stalled source ends
the process within 2 s with the transcript saved (before: one error, then two Ctrl-C ignored).
The desktop app on a stalled source says so and quits within 2 s, the process ending cleanly
(before: "Listening" shown, Start/Stop dead, a process left behind that later aborted).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from voxtral_mlx.text.transcript import Transcript

from .test_live_e2e import _cli, _run, folder, play, pulse, speech  # noqa: F401  (fixtures)

STALLED = "stopped delivering audio"
RESUMED = "delivers audio again"


class Lines:
    """stderr of a running process, line by line, readable while it runs."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(proc,), daemon=True)
        self._thread.start()

    def _pump(self, proc) -> None:
        for line in proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def wait_for(self, text: str, n: int = 1, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.count(text) < n:
            if time.monotonic() > deadline:
                pytest.fail(f"no {n} x {text!r} in {timeout} s: {self.lines}")
            time.sleep(0.05)


def suspend(on: bool, env: dict) -> None:
    r = _run("pactl", "suspend-source", "vmic", "1" if on else "0", env={**os.environ, **env})
    assert r.returncode == 0, r.stderr


def test_cli_reports_a_suspended_source_once_resumes_and_ctrl_c_ends_within_2_s(
    pulse,  # noqa: F811
    speech,  # noqa: F811
    folder,  # noqa: F811
    tmp_path,
):
    env = {**os.environ, **pulse, "VOXTRAL_MLX_DATA_DIR": str(tmp_path / "autosave")}
    proc = _cli(["--model", folder, "--device", "pulse"], env, subprocess.PIPE)
    err = Lines(proc)
    try:
        err.wait_for("listening:", timeout=60)
        time.sleep(1.0)
        play(speech, pulse)
        suspend(True, pulse)
        err.wait_for(STALLED, timeout=10)  # detected within a few seconds
        suspend(False, pulse)
        err.wait_for(RESUMED, timeout=10)
        play(speech, pulse)  # listening goes on: heard and transcribed
        suspend(True, pulse)
        err.wait_for(STALLED, 2, timeout=10)
        time.sleep(1.0)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(10)
        took = time.monotonic() - t0
    finally:
        suspend(False, pulse)
        if proc.poll() is None:
            proc.kill()
    out = proc.stdout.read()
    assert code == 0 and took < 2.0, (code, took, err.lines)
    assert err.count(STALLED) == 2 and err.count(RESUMED) == 1  # once per stall, each way
    assert not any("Traceback" in line for line in err.lines)
    (saved,) = (tmp_path / "autosave").glob("live-*.json")
    transcript = Transcript.from_dict(json.loads(saved.read_text()))
    assert transcript.tokens and out.split() == transcript.text.split()


def test_gui_on_a_suspended_source_says_so_and_quits_within_2_s(pulse, folder, tmp_path):  # noqa: F811
    env = {**os.environ, **pulse, "QT_QPA_PLATFORM": "offscreen"}
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run([sys.executable, "-m", "tests.reference.stall_gui_app", str(folder),
                              str(tmp_path)], cwd=root, env=env, capture_output=True, text=True,
                             timeout=120)  # fmt: skip
    finally:
        suspend(False, pulse)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["status"] == "No audio from pulse: waiting for it (or choose another microphone)"
    assert STALLED in seen["banner"] and seen["overlay"] == "Device lost: waiting for it"
    assert seen["quit_s"] < 2.0 and seen["joined"] and Path(seen["saved"]).is_file()
    assert "Fatal" not in out.stderr and "Traceback" not in out.stderr
