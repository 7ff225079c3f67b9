"""A tiny random model folder and a sound device that plays a file: what the self-tests (the
CLI's and the app's) run on instead of the 8.9 GB download and a microphone.

Module-level imports are stdlib only (the packaged app's launcher imports this before anything
heavy); nothing here decodes audio files (the app bundle leaves the file decoders out).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace

NUM_SPECIAL, WORDS = 1000, 64  # tekken: 1000 specials, 256 single bytes, then WORDS words
SPECIALS = {1: "<s>", 2: "</s>", 32: "[STREAMING_PAD]", 33: "[STREAMING_WORD]"}
DEVICE_NAME = "Self-test file"
RANDOM_NOTE = "a tiny random model, no download: its words are random, not a transcription"


def tekken_dict() -> dict:
    """A minimal tekken.json: the realtime specials, byte fallback, then words " w0", " w1"..."""
    pieces = [bytes([i]) for i in range(256)] + [f" w{i}".encode() for i in range(WORDS)]
    return {
        "config": {"default_vocab_size": len(pieces) + NUM_SPECIAL,
                   "default_num_special_tokens": NUM_SPECIAL},
        "special_tokens": [{"rank": r, "token_str": s, "is_control": True} for r, s in SPECIALS.items()],
        "vocab": [{"rank": i, "token_bytes": base64.b64encode(p).decode(), "token_str": None}
                  for i, p in enumerate(pieces)],
        "audio": {"sampling_rate": 16000, "frame_rate": 12.5, "transcription_delay_ms": 480},
    }  # fmt: skip


def write_tiny_checkpoint(folder: Path, seed: int = 0) -> Path:
    """A random tiny model folder (config.tiny_params) that ``weights.load`` and
    ``Tokenizer.from_file`` read. Runs MLX on the calling thread; no array outlives the call."""
    import mlx.core as mx
    from mlx.utils import tree_map

    from voxtral_mlx.checkpoint import weights
    from voxtral_mlx.config import ModelConfig, tiny_params
    from voxtral_mlx.model import VoxtralRealtime

    mx.random.seed(seed)
    model = VoxtralRealtime(
        ModelConfig.from_dict(tiny_params(vocab_size=NUM_SPECIAL + 256 + WORDS))
    )
    # Larger than the default init, so the decoder emits words rather than only padding.
    model.update(tree_map(lambda w: w * 3.0, model.parameters()))
    mx.eval(model.parameters())
    weights.save(model, folder)
    (Path(folder) / "tekken.json").write_text(json.dumps(tekken_dict()), encoding="utf-8")
    return Path(folder)


class _FileStream:
    def __init__(self, sd, samplerate=None, channels=None, callback=None, blocksize=0,
                 finished_callback=None, **_):  # fmt: skip
        if samplerate != sd.rate:
            raise sd.PortAudioError("Invalid sample rate", -9997)
        self.sd, self.callback, self.finished_callback = sd, callback, finished_callback
        self.channels, self.block = channels, blocksize or 1024
        self.active = False
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.active = True
        self._thread = threading.Thread(target=self._play, name="self-test-audio", daemon=True)
        self._thread.start()

    def _play(self) -> None:
        import numpy as np

        signal, n, t0, pos = self.sd.signal, self.block, time.monotonic(), 0
        while not self._halt.is_set():
            block = np.zeros((n, self.channels), np.float32)
            part = signal[pos : pos + n]
            block[: len(part), :] = part[:, None]
            self.callback(block, n, None, SimpleNamespace(input_overflow=False))
            pos += n
            if pos >= len(signal):
                self.sd.played.set()  # then silence, like a quiet microphone
            self._halt.wait(max(0.0, t0 + pos / self.sd.rate / self.sd.speed - time.monotonic()))

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join()
        if self.active and self.finished_callback:
            self.finished_callback()
        self.active = False

    close = stop


class FileSoundDevice:
    """Module-like stand-in for ``sounddevice`` (what :mod:`voxtral_mlx.audio.mic` uses): one input
    device whose stream plays ``signal`` (mono float32 at ``rate``) at ``speed`` x real time,
    then silence; ``played`` is set once the whole signal has been delivered."""

    class PortAudioError(Exception):
        pass

    def __init__(self, signal, rate: int, speed: float = 8.0):
        self.signal, self.rate, self.speed = signal, int(rate), speed
        self.played = threading.Event()
        self.default = SimpleNamespace(device=[-1, -1])

    def query_hostapis(self, index=None):
        apis = ({"name": "Self-test", "devices": [0]},)
        return apis if index is None else apis[index]

    def query_devices(self, device=None, kind=None):
        info = {"name": DEVICE_NAME, "index": 0, "hostapi": 0, "max_input_channels": 1,
                "max_output_channels": 0, "default_samplerate": float(self.rate)}  # fmt: skip
        return [info] if device is None and kind is None else info

    def InputStream(self, **kwargs) -> _FileStream:  # noqa: N802 (sounddevice's name)
        return _FileStream(self, **kwargs)
