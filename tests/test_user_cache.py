"""The user cache folder and MLX's compiled-kernel cache in it (voxtral_mlx/user_cache.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from voxtral_mlx import user_cache


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VOXTRAL_MLX_CACHE", str(tmp_path / "vc"))
    assert user_cache.cache_dir() == tmp_path / "vc"
    monkeypatch.delenv("VOXTRAL_MLX_CACHE")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache.cache_dir() == tmp_path / "xdg" / "voxtral-mlx"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert user_cache.cache_dir() == Path.home() / "Library" / "Caches" / "voxtral-mlx"


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_kernel_cache_defaults_into_the_user_cache_on_linux_only(monkeypatch, tmp_path, platform):
    monkeypatch.setenv("VOXTRAL_MLX_CACHE", str(tmp_path))
    monkeypatch.setattr(sys, "platform", platform)
    env: dict[str, str] = {}
    user_cache.keep_compiled_kernels(env)
    want = {"MLX_PTX_CACHE_DIR": str(tmp_path / user_cache.KERNELS)} if platform == "linux" else {}
    assert env == want
    mine = {"MLX_PTX_CACHE_DIR": "/somewhere/else"}
    user_cache.keep_compiled_kernels(mine)
    assert mine == {"MLX_PTX_CACHE_DIR": "/somewhere/else"}  # the user's choice wins


def test_importing_the_package_sets_it_before_mlx_compiles(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MLX_PTX_CACHE_DIR"}
    env["VOXTRAL_MLX_CACHE"] = str(tmp_path)
    code = "import os, voxtral_mlx; print(os.environ.get('MLX_PTX_CACHE_DIR'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    want = str(tmp_path / user_cache.KERNELS) if sys.platform.startswith("linux") else "None"
    assert out.stdout.strip() == want, out.stderr


def test_converted_path_names_repo_bits_and_group(tmp_path):
    got = user_cache.converted_path("org/model", 8, tmp_path)
    assert got == tmp_path / f"org--model-8bit-g{user_cache.GROUP_SIZE}"
