"""What a non-editable install gets (issue 16, section 6): the wheel ships resources/ (sample,
icons), the LICENSE and project URLs; installed from it, the self-test passes and the app finds
its icon; ``voxtral-mlx-app`` without Qt says in one line how to install it."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "voxtral_mlx", "gui", "resources")
# tomllib is 3.11+ and the project supports 3.10: the one value needed, read plainly.
APP_ENTRY = re.search(r'^voxtral-mlx-app = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M)[1]


def _offline_build_flags() -> list[str]:
    """Build with this environment's setuptools when it is new enough for pyproject.toml
    (PEP 639 license fields need 77), offline; else let pip fetch the build requirements."""
    try:
        major = int(importlib.metadata.version("setuptools").split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        major = 0
    return ["--no-build-isolation", "--no-index"] if major >= 77 else []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the sources (a build in the checkout would race others)."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if (ROOT / name).is_dir() else {}))  # fmt: skip
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                            *_offline_build_flags(), str(src), "-w", str(out)],
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    return next(out.glob("voxtral_mlx-*.whl"))


def test_wheel_ships_resources_license_urls_and_every_module(wheel):
    from gui.assets import APP_ICON_SIZES

    names = set(zipfile.ZipFile(wheel).namelist())
    res = "voxtral_mlx/resources/"
    assert res + "sample-en.flac" in names
    icons = {f"voxtral-{n}.png" for n in APP_ICON_SIZES}
    icons |= {f"menubar-{s}Template{x}.png" for s in ("idle", "listening") for x in ("", "@2x")}
    assert {res + "icons/" + i for i in icons} <= names
    # Every module of the checkout is in the wheel (pyproject lists the packages by hand).
    modules = {p.relative_to(ROOT).as_posix() for d in ("voxtral_mlx", "gui") for p in (ROOT / d).rglob("*.py")}  # fmt: skip
    assert modules - names == set()
    dist = wheel.name.split("-py3")[0] + ".dist-info/"
    assert (
        (ROOT / "LICENSE")
        .read_text()
        .startswith("\n                                 Apache License")
    )
    assert dist + "licenses/LICENSE" in names
    meta = zipfile.ZipFile(wheel).read(dist + "METADATA").decode()
    assert "License-Expression: Apache-2.0" in meta and "Project-URL: " in meta
    entry = zipfile.ZipFile(wheel).read(dist + "entry_points.txt").decode()
    assert f"voxtral-mlx-app = {APP_ENTRY}" in entry


def test_installed_wheel_runs_the_self_test_and_finds_the_icons(wheel, tmp_path):
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                              "--target", str(target), str(wheel)], capture_output=True, text=True,
                             timeout=300)  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    code = textwrap.dedent(f"""
        import sys
        import voxtral_mlx
        assert voxtral_mlx.__file__.startswith({str(target)!r}), voxtral_mlx.__file__
        from gui.assets import resource_path
        print(resource_path("icons/voxtral-64.png"))
        from voxtral_mlx.cli import self_test
        sys.exit(self_test.run())
    """)
    # Run outside the checkout, the installed copy first on the path (before the editable one).
    env = {**os.environ, "PYTHONPATH": str(target), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=240)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == str(target / "voxtral_mlx" / "resources" / "icons" / "voxtral-64.png")
    assert lines[-1] == "self-test ok"


# PySide6 made unimportable, as when the [gui] extra is not installed.
NO_QT = """
import importlib, sys
class NoQt:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "PySide6":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoQt())
"""


@pytest.mark.parametrize("how", ["entry point", "python -m gui", "self-test"])
def test_app_without_qt_says_how_to_install_it_in_one_line(how):
    module, function = APP_ENTRY.split(":")
    start = {
        "entry point": f"sys.exit(importlib.import_module({module!r}).{function}([]))",
        "python -m gui": "import runpy; runpy.run_module('gui', run_name='__main__')",
        "self-test": f"sys.exit(importlib.import_module({module!r}).{function}(['--self-test']))",
    }[how]
    result = subprocess.run([sys.executable, "-c", NO_QT + start], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    assert "[gui]" in result.stderr and "pip install" in result.stderr
