"""vLLM's own realtime example client, fetched from vLLM's source release on PyPI (the package
registry is reachable where the tests run; the script is not copied into this repository), and
stand-ins for the two vLLM functions it imports, so it runs unchanged without vLLM.

The script: ``examples/speech_to_text/realtime/openai_realtime_client.py`` of vLLM 0.33.0. It
imports ``vllm.assets.audio.AudioAsset`` (used only without ``--audio_path``) and
``vllm.multimodal.media.audio.load_audio`` (the file as float32 at 16 kHz, mono); the stand-ins
give the same for a WAV file (soundfile, and soxr if the rate differs).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

VERSION = "0.33.0"
MEMBER = "examples/speech_to_text/realtime/openai_realtime_client.py"
CACHE = Path.home() / ".cache" / "voxtral-mlx-tests" / f"vllm-{VERSION}"

STAND_INS = {
    "vllm/__init__.py": '"""Stand-ins for what vLLM\'s realtime example client imports."""\n',
    "vllm/assets/__init__.py": "",
    "vllm/assets/audio.py": (
        "class AudioAsset:\n"
        "    def __init__(self, name):\n"
        "        raise RuntimeError('give --audio_path: no vLLM audio assets here')\n"
    ),
    "vllm/multimodal/__init__.py": "",
    "vllm/multimodal/media/__init__.py": "",
    "vllm/multimodal/media/audio.py": (
        "import numpy as np\n"
        "import soundfile as sf\n"
        "import soxr\n\n\n"
        "def load_audio(path, sr=16000, mono=True):\n"
        "    audio, rate = sf.read(path, dtype='float32', always_2d=True)\n"
        "    audio = audio.mean(axis=1) if mono else audio.T\n"
        "    if rate != sr:\n"
        "        audio = soxr.resample(audio, rate, sr)\n"
        "    return np.asarray(audio, np.float32), sr\n"
    ),
}


def example_client() -> Path:
    """The script's path (fetched once into ``CACHE``); OSError when PyPI cannot be reached."""
    script = CACHE / Path(MEMBER).name
    if script.exists():
        return script
    index = "https://pypi.org/pypi/vllm/json"  # every release (the per-version page may be missing)
    with urllib.request.urlopen(index, timeout=60) as r:
        files = json.load(r)["releases"][VERSION]
    sdist = next(u for u in files if u["packagetype"] == "sdist")
    url = urllib.parse.urljoin(index, sdist["url"])
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / sdist["filename"]
        with urllib.request.urlopen(url, timeout=300) as r, open(archive, "wb") as f:
            shutil.copyfileobj(r, f)
        if hashlib.sha256(archive.read_bytes()).hexdigest() != sdist["digests"]["sha256"]:
            raise OSError(f"{sdist['filename']} does not match PyPI's sha256")
        with tarfile.open(archive) as tar:
            member = tar.extractfile(f"vllm-{VERSION}/{MEMBER}")
            text = member.read()
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = script.with_suffix(".part")
    partial.write_bytes(text)
    partial.replace(script)
    return script


def write_stand_ins(root: Path) -> Path:
    """The stand-in ``vllm`` package under ``root`` (put it on PYTHONPATH); returns ``root``."""
    for name, text in STAND_INS.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
