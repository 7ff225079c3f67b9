"""Auto-conversion on first use: a repo id is downloaded and converted once; later starts are offline."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from voxtral_mlx.checkpoint import cache as model_cache
from voxtral_mlx.checkpoint import weights

from . import hf_reference as ref
from .tekken_fixture import write_tekken

REPO = "mistralai/Voxtral-Mini-4B-Realtime-2602"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A stand-in for the Hugging Face snapshot of the official repo (native layout)."""
    folder = ref.save_native(ref.build("q64", seed=0), tmp_path_factory.mktemp("hub"))
    write_tekken(folder / "tekken.json")
    return folder


def test_convert_once_then_offline(hub, tmp_path):
    calls, stages = [], []

    def download(repo_id, allow_patterns):
        calls.append(repo_id)
        return str(hub)

    def offline(repo_id, allow_patterns):
        raise ConnectionError("no network")

    first = model_cache.model_folder(REPO, 4, root=tmp_path, download=download,
                                     on_progress=lambda *a: stages.append(a))  # fmt: skip
    assert calls == [REPO] and first == model_cache.converted_path(REPO, 4, tmp_path)
    assert stages and stages[-1][1] == stages[-1][2]  # progress reached the end
    assert json.loads((first / "params.json").read_text())["quantization"]["bits"] == 4
    assert (first / "tekken.json").is_file()
    again = model_cache.model_folder(REPO, 4, root=tmp_path, download=offline)
    assert again == first  # no download attempted: offline works
    model, cfg = weights.load(again)
    assert cfg.quantization.bits == 4


def test_sixteen_bits_and_local_folders_are_not_converted(hub, tmp_path):
    assert model_cache.model_folder(REPO, 16, root=tmp_path, download=lambda **k: str(hub)) == hub
    assert model_cache.model_folder(hub, 4, root=tmp_path) == hub
    assert not any(tmp_path.iterdir())


def test_interrupted_conversion_is_redone(hub, tmp_path):
    target = model_cache.converted_path(REPO, 8, tmp_path)
    target.mkdir(parents=True)
    (target / "model.safetensors").write_bytes(b"partial")  # no params.json: unfinished
    out = model_cache.model_folder(REPO, 8, root=tmp_path, download=lambda **k: str(hub))
    assert (out / "params.json").is_file()
    weights.load(out)


def test_cli_uses_the_cache(hub, tmp_path):
    """End to end: VOXTRAL_MLX_CACHE holds a finished conversion; the CLI loads it with no network."""
    cache = tmp_path / "cache"
    target = model_cache.model_folder(REPO, 4, root=cache, download=lambda **k: str(hub))
    env = {"VOXTRAL_MLX_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "voxtral_mlx", "--info"], capture_output=True, text=True,
                       env=env, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert str(target) in r.stdout and "mlx layout" in r.stdout
