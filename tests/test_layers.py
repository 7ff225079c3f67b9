"""The import graph is one-directional: each package imports only packages below it, and no
module imports itself back through others. Read from the source with ``ast`` (nothing is
imported), every import counted, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. A package may import its own modules and those of lower layers only.
LAYERS = [
    {"errors"},
    {"protocol", "env", "fs"},  # facts and process edges everything else reads
    {"config_reader"},  # reading and checking params.json / config.json
    {"config"},
    {"model", "audio", "text"},  # the maths, sound in, words out: independent of each other
    {"checkpoint", "decode"},
    {"live", "testing"},
    {"serve"},  # the realtime server: many streams on one engine
    {"cli"},
    {"voxtral_mlx", "__main__", "convert", "download", "gui"},  # entry points
]
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str | None:
    """The package (or top-level module) of ours that ``module`` belongs to, else None."""
    parts = module.split(".")
    if parts[0] == "gui":
        return "gui"
    if parts[0] != "voxtral_mlx":
        return None
    return parts[1] if len(parts) > 1 else "voxtral_mlx"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a import b`` counts ``a`` and ``a.b``)."""
    module, is_package = _module(path), path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names}
    return found


def _sources() -> dict[str, Path]:
    files = [*ROOT.glob("voxtral_mlx/**/*.py"), *ROOT.glob("gui/**/*.py")]
    return {_module(p): p for p in files if "resources" not in p.parts}


SOURCES = _sources()
# The package's face (voxtral_mlx/__init__.py) runs before any of its modules whatever imports
# them, so naming it is no arrow; what it imports is.
GRAPH = {m: {i for i in _imports(p) if i in SOURCES and i not in (m, "voxtral_mlx")}
         for m, p in SOURCES.items()}  # fmt: skip


def test_every_package_has_a_layer():
    units = {_unit(m) for m in SOURCES}
    assert units - set(LEVEL) == set(), "add the new package to LAYERS"


def test_packages_import_only_downwards():
    wrong = sorted(
        f"{m} -> {i}"
        for m, targets in GRAPH.items()
        for i in targets
        if _unit(i) != _unit(m) and LEVEL[_unit(i)] >= LEVEL[_unit(m)]
        and _unit(m) != "voxtral_mlx"  # the package's face re-exports lazily from above
    )  # fmt: skip
    assert wrong == []


def test_no_module_imports_itself_back():
    state: dict[str, int] = {}  # 1 on the path, 2 done
    cycles: list[list[str]] = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(GRAPH[m]):
            if state.get(n) == 1:
                cycles.append(path[path.index(n) :] + [n])
            elif n not in state:
                visit(n, [*path, n])
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_the_model_is_pure_maths():
    """model/ imports MLX, the config and itself: no I/O, devices or Qt (style rule 3)."""
    allowed = ("mlx", "voxtral_mlx.model", "voxtral_mlx.config", "__future__", "math",
               "functools", "dataclasses", "typing", "collections", "importlib", "sys", "threading")  # fmt: skip
    odd = sorted(
        f"{m} -> {i}"
        for m, p in SOURCES.items()
        if _unit(m) == "model"
        for i in _imports(p)
        if not i.startswith(allowed)
    )
    assert odd == []


@pytest.mark.parametrize("bad", ["fs -> cli", "cycle"])
def test_the_checks_can_fail(bad, monkeypatch):
    """The checks above see a wrong arrow when there is one."""
    graph = {m: set(t) for m, t in GRAPH.items()}
    if bad == "fs -> cli":
        graph["voxtral_mlx.fs.atomic_file"].add("voxtral_mlx.cli.main")
        monkeypatch.setitem(globals(), "GRAPH", graph)
        with pytest.raises(AssertionError):
            test_packages_import_only_downwards()
    else:
        graph["voxtral_mlx.errors"].add("voxtral_mlx.protocol")
        monkeypatch.setitem(globals(), "GRAPH", graph)
        with pytest.raises(AssertionError):
            test_no_module_imports_itself_back()
