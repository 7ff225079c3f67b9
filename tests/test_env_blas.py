import os
import subprocess
import sys

import pytest

from voxtral_mlx import env

PROBE = (
    "import voxtral_mlx, mlx.core as mx; "
    "maps = open('/proc/self/maps').read(); "
    "print('openblas' if 'libopenblas' in maps else 'none', voxtral_mlx.env.preload())"
)


def _probe(**env):
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                       env={**os.environ, **env}, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="OpenBLAS preload is Linux-only")
def test_openblas_is_loaded_before_mlx_on_linux():
    path = next((p for p in env.CANDIDATES if os.path.exists(p)), None)
    assert path, "CI installs libopenblas0-pthread; this machine lacks it"
    assert _probe() == ["openblas", path]


def test_opt_out():
    assert _probe(VOXTRAL_MLX_NO_OPENBLAS="1") == ["none", "None"]
