"""Live transcription end to end through a real audio stack: PulseAudio -> ALSA -> PortAudio ->
sounddevice -> MicSource -> LiveTranscriber (tiny checkpoint), and ``python -m voxtral_mlx --mic``.

The module starts a PulseAudio server of its own (private runtime folder, so parallel runs do
not meet), with a null sink whose monitor feeds a virtual source, the default input; an
espeak-ng sentence played into the sink reaches the microphone side. Recipe and the
first-callback delay: shared/linux-notes.md section 3. Needs the apt packages pulseaudio,
pulseaudio-utils, espeak-ng and libportaudio2 (.ci/run installs them); on Linux the tests fail
without them, saying what is missing, rather than skip; on macOS they skip with the reason
(tests/conftest.py: require_sound_tools).
"""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from voxtral_mlx.audio.mic import MicSource
from voxtral_mlx.checkpoint import weights
from voxtral_mlx.live.engine import LiveTranscriber, folder_loader
from voxtral_mlx.live.events import ErrorEvent, Status, StatusEvent, TextEvent
from voxtral_mlx.testing.agreement import assert_model_words
from voxtral_mlx.text.tokenizer import Tokenizer
from voxtral_mlx.text.transcript import Transcript

from ..conftest import require_sound_tools
from . import hf_reference as ref
from .tekken_fixture import write_tekken

SENTENCE = "Hello world. This is a test of the live microphone capture."


def _run(*cmd, env=None, timeout=10):
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def pulse():
    """A private PulseAudio server with a virtual microphone; PortAudio re-initialised on it."""
    require_sound_tools("pulseaudio", "pactl", "paplay", "espeak-ng")
    root = Path(tempfile.mkdtemp(prefix="vpa"))  # short: a unix socket path has ~100 chars
    env = {"PULSE_RUNTIME_PATH": str(root / "run"), "PULSE_STATE_PATH": str(root / "state"),
           "PULSE_SERVER": f"unix:{root}/run/native"}  # fmt: skip
    log = root / "pulse.log"
    server = subprocess.Popen(
        ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", f"--log-target=file:{log}"],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        try:
            _wait_for_server(server, log)
            for args in (
                ["load-module", "module-null-sink", "sink_name=vmic_sink", "rate=48000",
                 "sink_properties=device.description=VirtualMicSink"],
                ["load-module", "module-virtual-source", "source_name=vmic",
                 "master=vmic_sink.monitor", "source_properties=device.description=VirtualMic"],
                ["set-default-source", "vmic"],
                ["set-default-sink", "vmic_sink"],
            ):  # fmt: skip
                r = _run("pactl", *args)
                if r.returncode:
                    pytest.fail(f"pactl {' '.join(args)} failed: {r.stderr.strip()}")
            sd = _portaudio_restart()
            names = [d["name"] for d in sd.query_devices()]
            if "pulse" not in names:
                pytest.fail(f"PortAudio does not see PulseAudio (devices: {names})")
            yield env
        finally:
            server.terminate()
            server.wait(10)
            shutil.rmtree(root, ignore_errors=True)
    _portaudio_restart()  # forget the server for later tests


def _wait_for_server(server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 10
    while _run("pactl", "info").returncode:
        if server.poll() is not None or time.monotonic() > deadline:
            text = log.read_text() if log.exists() else "(no log)"
            pytest.fail(f"PulseAudio did not start (exit {server.poll()}): {text[-800:]}")
        time.sleep(0.05)


def _portaudio_restart():
    """PortAudio lists devices once, at initialisation: start it again to see the server."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()
    return sd


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    require_sound_tools("espeak-ng")
    wav = tmp_path_factory.mktemp("say") / "sentence.wav"
    r = _run("espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), SENTENCE)
    assert r.returncode == 0, r.stderr
    return wav


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = ref.save_native(ref.build("tiny", seed=0), tmp_path_factory.mktemp("model"))
    write_tekken(folder / "tekken.json")
    return folder


def play(wav: Path, env: dict) -> None:
    r = _run("paplay", "--device=vmic_sink", str(wav), env={**os.environ, **env}, timeout=30)
    assert r.returncode == 0, r.stderr


def assert_offline_words(folder: Path, audio: np.ndarray, tokens: list[int],
                         delay_ms: int | None = None) -> None:  # fmt: skip
    """``tokens`` (a live capture's) are what transcribing ``audio`` as a file gives (at
    ``delay_ms``; None: the model's), or differ only where the model's best two tokens tie
    within the live encoder's rounding (voxtral_mlx/testing/agreement.py)."""
    model, _ = weights.load(folder)
    assert_model_words(model, Tokenizer.from_file(folder), audio, tokens, delay_ms)


def correlation(captured: np.ndarray, reference: np.ndarray) -> tuple[float, int]:
    """Peak normalised cross-correlation of ``reference`` inside ``captured``, and its lag."""
    n = len(captured) + len(reference)
    size = 1 << (n - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(captured, size) * np.conj(np.fft.rfft(reference, size)), size)
    lag = int(np.argmax(xc[: len(captured) - len(reference) + 1]))
    part = captured[lag : lag + len(reference)]
    return float(part @ reference / (np.linalg.norm(part) * np.linalg.norm(reference))), lag


def test_sentence_through_pulseaudio_is_captured_and_transcribed_like_a_file(
    pulse, speech, folder, tmp_path, capsys
):
    taken: list[np.ndarray] = []
    heard = threading.Event()
    events = []

    def tap(chunk):
        taken.append(chunk)
        heard.set()

    live = LiveTranscriber(folder_loader(folder), MicSource(), tap=tap, on_event=events.append,
                           autosave_dir=tmp_path)  # fmt: skip
    live.start()
    # Play only once audio flows (at PortAudio's default latency ALSA started streams ~2 s
    # late, dropping what came before: shared/linux-notes.md section 3, mic.HOSTAPI_LATENCY).
    assert heard.wait(20), "no audio from PortAudio"
    time.sleep(0.3)
    play(speech, pulse)
    time.sleep(0.5)
    live.stop()
    assert live.join(30)

    assert [e.status for e in events if isinstance(e, StatusEvent)] == [
        Status.LOADING, Status.LISTENING, Status.STOPPED]  # fmt: skip
    assert [e for e in events if isinstance(e, StatusEvent)][1].detail == "default"
    assert not [e for e in events if isinstance(e, ErrorEvent)]
    captured = np.concatenate(taken)
    said, rate = sf.read(speech, dtype="float32")
    reference = soxr.resample(said, rate, 16000)
    # (a) What PortAudio delivered is what was played (through two resamplers and a mixer).
    corr, lag = correlation(captured, reference)
    with capsys.disabled():
        print(f"\ncaptured {len(captured) / 16000:.2f} s; the sentence starts at {lag / 16000:.2f} s, "
              f"r = {corr:.4f}; {len(live.transcript.tokens)} tokens")  # fmt: skip
    assert corr > 0.95, f"captured audio does not match what was played (r={corr:.3f})"
    assert len(captured) >= lag + len(reference)
    # (b) Live tokens == transcribing the captured audio as a file.
    transcript = live.transcript
    assert_offline_words(folder, captured, transcript.tokens)
    assert sum(e.n_tokens for e in events if isinstance(e, TextEvent)) == len(transcript.tokens)
    assert transcript.duration == pytest.approx(len(captured) / 16000, abs=1e-3)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_stop_start_20_times_leaks_no_threads_or_memory(pulse, folder, tmp_path, capsys):
    """One transcriber, the model loaded once: 20 x (open the real microphone, listen, stop:
    idle). Python threads, OS threads (PortAudio's, ALSA's, libpulse's) and RSS stay put."""
    live, heard = idle_transcriber(folder, tmp_path)

    def cycle():
        listen_once(live, heard, MicSource, "PortAudio")

    cycle()  # warm: PortAudio's first stream, MLX caches
    base = (threading.active_count(), _os_threads(), _rss_mb())
    rows = []
    for k in range(20):
        cycle()
        rows.append((k + 1, threading.active_count(), _os_threads(), _rss_mb()))
    live.stop()
    assert live.join(30)
    with capsys.disabled():
        print(f"\nreal mic stop/start x20: python threads {base[0]} -> {rows[-1][1]}, OS threads "
              f"{base[1]} -> {rows[-1][2]}, RSS {base[2]:.1f} MB -> {rows[4][3]:.1f} MB after 5 "
              f"-> {rows[-1][3]:.1f} MB after 20")  # fmt: skip
    assert all(r[1] == base[0] for r in rows), rows  # no Python thread left behind
    # OS threads: PortAudio/libpulse threads come and go with streams (fewer is fine, seen:
    # 21 -> 19); a leak would grow with every cycle, so the end may not exceed the start + 1.
    assert rows[-1][2] <= base[1] + 1 and max(r[2] for r in rows) <= base[1] + 2, rows
    assert rows[-1][3] - rows[4][3] < 32, rows  # no steady growth (loose: allocator noise)
    assert len(list(tmp_path.glob("live-*.json"))) == 21  # one finished recording per cycle


def idle_transcriber(folder, tmp_path) -> tuple[LiveTranscriber, threading.Event]:
    """A started transcriber, idle with the model loaded; the event is set by every chunk fed."""
    heard = threading.Event()
    live = LiveTranscriber(folder_loader(folder), None, tap=lambda c: heard.set(),
                           autosave_dir=tmp_path)  # fmt: skip
    live.start()
    wait_status(live, Status.IDLE)
    return live, heard


def listen_once(live: LiveTranscriber, heard: threading.Event, make_source, what: str) -> None:
    """One recording on a new source: listening, audio heard, stopped (idle again)."""
    heard.clear()
    live.switch(source=make_source(), new_transcript=True)
    wait_status(live, Status.LISTENING)
    assert heard.wait(20), f"no audio from {what}"
    live.switch(source=None)
    wait_status(live, Status.IDLE)


def wait_status(live: LiveTranscriber, status: Status, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        event = live.events.get(timeout=max(0.01, deadline - time.monotonic()))
        assert not isinstance(event, ErrorEvent), event.message
        if isinstance(event, StatusEvent) and event.status is status:
            return


def _cli(args, env, stdout):
    return subprocess.Popen([sys.executable, "-m", "voxtral_mlx", "--mic", *map(str, args)],
                            env={**os.environ, **env}, stdout=stdout, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def _wait_listening(proc) -> list[str]:
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("listening:"):
            return lines
    pytest.fail(f"--mic ended before listening: {''.join(lines)}")


def test_cli_mic_prints_live_and_ctrl_c_writes_the_transcript(pulse, speech, folder, tmp_path):
    """stdout a terminal (a pty): final words plain, the word being built dimmed; Ctrl-C drains,
    writes --output and the autosave, exits 0."""
    env = {**pulse, "VOXTRAL_MLX_DATA_DIR": str(tmp_path / "autosave")}
    primary, secondary = pty.openpty()
    out = tmp_path / "live.srt"
    proc = _cli(["--model", folder, "--output", out, "--device", "pulse"], env, secondary)
    os.close(secondary)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain_pty, args=(primary, chunks), daemon=True)
    reader.start()
    err = _wait_listening(proc)
    time.sleep(1.0)  # let the stream start (no tap to watch from here)
    play(speech, pulse)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    err += proc.stderr.readlines()
    assert proc.wait(60) == 0, "".join(err)
    reader.join(5)
    screen = b"".join(chunks).decode()
    stderr = "".join(err)
    assert "Traceback" not in stderr and "error:" not in stderr
    assert "stopping" in stderr and f"wrote {out}" in stderr and "autosaved" in stderr
    saved = sorted((tmp_path / "autosave").glob("live-*.json"))
    assert len(saved) == 1
    transcript = Transcript.from_dict(json.loads(saved[0].read_text()))
    assert transcript.tokens and transcript.metadata["source"] == "pulse"
    assert out.read_text().strip() and "-->" in out.read_text()
    assert "\x1b[2m" in screen  # the word being built is drawn dimmed
    assert _final_screen_text(screen).split() == transcript.text.split()


def test_cli_list_devices_plain_output_and_sigterm(pulse, speech, folder, tmp_path):
    """--list-devices; stdout a pipe: final words only, plain; SIGTERM and SIGHUP end it like
    Ctrl-C (exit 143 / 129) and --format writes into --output-dir, named like the autosave; a
    bad --device is one line."""
    r = _run(sys.executable, "-m", "voxtral_mlx", "--list-devices",
             env={**os.environ, **pulse}, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\* +\d+  default  \(ALSA", r.stdout, re.M) and "pulse" in r.stdout
    env = {**pulse, "VOXTRAL_MLX_DATA_DIR": str(tmp_path / "autosave")}
    for sig in (signal.SIGTERM, signal.SIGHUP):  # a polite kill; a closed terminal
        out_dir = tmp_path / sig.name
        proc = _cli(["--model", folder, "--format", "json", "-o", out_dir], env, subprocess.PIPE)
        err = _wait_listening(proc)
        time.sleep(1.0)
        play(speech, pulse)
        time.sleep(0.5)
        proc.send_signal(sig)
        out, rest = proc.communicate(timeout=60)
        assert proc.returncode == 128 + sig, "".join(err) + rest
        (written,) = out_dir.glob("live-*.json")
        transcript = Transcript.from_dict(json.loads(written.read_text()))
        assert (tmp_path / "autosave" / written.name).is_file()
        assert "\x1b" not in out and out.split() == transcript.text.split() and transcript.tokens
    proc = _cli(["--model", folder, "--device", "no such mic"], env, subprocess.PIPE)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and not out
    assert "error: no input device matches 'no such mic'" in err and "Traceback" not in err


def _drain_pty(fd: int, chunks: list[bytes]) -> None:
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            return
        if not data:
            return
        chunks.append(data)


def _final_screen_text(screen: str) -> str:
    """What a terminal shows at the end: apply each line's carriage-return redraws."""
    lines = []
    for line in screen.replace("\r\n", "\n").split("\n"):
        line = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", line)
        lines.append(line.split("\r")[-1])
    return "\n".join(lines)
