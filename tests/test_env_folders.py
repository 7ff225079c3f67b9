"""The user cache folder and MLX's compiled-kernel cache in it (voxtral_mlx/env.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from voxtral_mlx import env
from voxtral_mlx.checkpoint import resolve


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VOXTRAL_MLX_CACHE", str(tmp_path / "vc"))
    assert env.cache_dir() == tmp_path / "vc"
    monkeypatch.delenv("VOXTRAL_MLX_CACHE")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert env.cache_dir() == tmp_path / "xdg" / "voxtral-mlx"
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.delenv("XDG_CACHE_HOME")  # platformdirs honours it on macOS too when set
    assert env.cache_dir() == Path.home() / "Library" / "Caches" / "voxtral-mlx"


def test_data_dir_is_the_platforms(monkeypatch):
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert env.data_dir() == Path.home() / ".local" / "share" / "voxtral-mlx"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert env.data_dir() == Path.home() / "Library" / "Application Support" / "voxtral-mlx"


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_kernel_cache_defaults_into_the_user_cache_on_linux_only(monkeypatch, tmp_path, platform):
    monkeypatch.setenv("VOXTRAL_MLX_CACHE", str(tmp_path))
    monkeypatch.setattr(sys, "platform", platform)
    environ: dict[str, str] = {}
    env.keep_compiled_kernels(environ)
    want = {"MLX_PTX_CACHE_DIR": str(tmp_path / env.KERNELS)} if platform == "linux" else {}
    assert environ == want
    mine = {"MLX_PTX_CACHE_DIR": "/somewhere/else"}
    env.keep_compiled_kernels(mine)
    assert mine == {"MLX_PTX_CACHE_DIR": "/somewhere/else"}  # the user's choice wins


def test_importing_the_package_sets_it_before_mlx_compiles(tmp_path):
    environ = {k: v for k, v in os.environ.items() if k != "MLX_PTX_CACHE_DIR"}
    environ["VOXTRAL_MLX_CACHE"] = str(tmp_path)
    code = "import os, voxtral_mlx; print(os.environ.get('MLX_PTX_CACHE_DIR'))"
    out = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True)
    want = str(tmp_path / env.KERNELS) if sys.platform.startswith("linux") else "None"
    assert out.stdout.strip() == want, out.stderr


def test_converted_path_names_repo_bits_and_group(tmp_path):
    got = resolve.converted_path("org/model", 8, tmp_path)
    assert got == tmp_path / f"org--model-8bit-g{resolve.GROUP_SIZE}"
