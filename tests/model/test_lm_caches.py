"""The deferred package ``__init__`` behind ``voxtral_mlx/model/lm_caches.py``, on a stand-in
package whose ``__init__`` is slow and counts its runs."""

from __future__ import annotations

import importlib
import sys
import threading

import pytest

from voxtral_mlx.model import lm_caches

INIT = """
import time
from . import counter
counter.runs += 1
time.sleep(0.2)  # long enough for other threads to ask while it runs
from .heavy import loaded
ready = hasattr(__import__(__name__), "not_yet")  # a name asked for during its own __init__
"""


@pytest.fixture
def package(tmp_path, monkeypatch):
    root = tmp_path / "deferpkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text(INIT)
    (root / "counter.py").write_text("runs = 0\n")
    (root / "heavy.py").write_text("loaded = True\n")
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "light.py").write_text("VALUE = 7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "deferpkg"
    for name in [m for m in sys.modules if m.split(".")[0] == "deferpkg"]:
        del sys.modules[name]


def test_submodules_import_without_the_package_init(package):
    lm_caches._register_deferred(package)
    light = importlib.import_module(f"{package}.sub.light")
    assert light.VALUE == 7
    assert f"{package}.heavy" not in sys.modules and f"{package}.counter" not in sys.modules


def test_first_use_runs_the_init_once_for_every_thread(package):
    lm_caches._register_deferred(package)
    importlib.import_module(f"{package}.sub.light")
    module = sys.modules[package]
    seen, errors = [], []

    def use():
        try:
            seen.append(module.loaded)
        except Exception as err:  # noqa: BLE001 (reported by the assert below)
            errors.append(err)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and seen == [True] * 8
    assert sys.modules[f"{package}.counter"].runs == 1
    assert module.ready is False  # a missing name during its own __init__: no second run
    assert module.sub.light.VALUE == 7  # the submodule stays an attribute of the real package
    with pytest.raises(AttributeError):
        _ = module.missing
