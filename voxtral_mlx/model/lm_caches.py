"""mlx-lm's KV caches and causal mask, imported without running mlx-lm's package ``__init__``.

``mlx_lm/__init__.py`` imports its generate/convert stack, which imports transformers (and
through it torch when installed): seconds on every start (docs/benchmarks.md, start-up), for
modules we never call.
``mlx_lm.models.base`` and ``mlx_lm.models.cache`` import only mlx, so the package object is
registered with its ``__init__`` deferred: the import system needs only its ``__path__`` to find
the submodules. The first time anything else asks for one of its attributes (``mlx_lm.load``,
``from mlx_lm import generate``), PEP 562's module ``__getattr__`` runs the real ``__init__`` in
place, so code sharing the process with us sees a normal mlx_lm. Built from documented parts
(``importlib.util.find_spec``/``module_from_spec``, ``loader.exec_module``, PEP 562); the caches
stay mlx-lm's own, as the house style asks, rather than a hand-written copy.
"""

from __future__ import annotations

import importlib.util
import sys
import threading

_PACKAGE = "mlx_lm"


def _register_deferred(name: str) -> None:
    """Put package ``name`` in ``sys.modules`` unexecuted; its ``__init__`` runs on first use."""
    if name in sys.modules:
        return  # already imported (or registered) by someone else: use it as it is
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return  # not installed: the import below raises the usual ModuleNotFoundError
    module = importlib.util.module_from_spec(spec)
    lock, running = threading.RLock(), []

    def finish_import(attr: str):
        # Other threads wait for the __init__; the thread running it (its own imports asking
        # for names it has not set yet) gets a plain AttributeError instead of a second run.
        with lock:
            if not running:
                running.append(True)
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    running.clear()  # surface the error again on the next use
                    raise
                del module.__getattr__
        if attr in module.__dict__:
            return module.__dict__[attr]
        raise AttributeError(f"module {name!r} has no attribute {attr!r}")

    module.__getattr__ = finish_import
    sys.modules[name] = module


_register_deferred(_PACKAGE)

from mlx_lm.models.base import create_causal_mask  # noqa: E402
from mlx_lm.models.cache import KVCache, RotatingKVCache  # noqa: E402

__all__ = ["KVCache", "RotatingKVCache", "create_causal_mask"]
