"""README's first commands are true (issue 16, section 6): the two opening commands (CI runs the
second verbatim), then the no-download self-test; the measurement log lives in docs/."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_install_tests_then_the_self_test():
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    opening, self_test = blocks[0].splitlines(), blocks[1].splitlines()
    assert len(opening) == 2 and opening[1] in (ROOT / ".ci" / "run").read_text()
    assert self_test == [".venv/bin/python -m voxtral_mlx --self-test"]
    from voxtral_mlx.cli.main import build_parser

    assert "--self-test" in build_parser().format_help()


def test_measurements_live_in_docs_benchmarks():
    assert "](docs/benchmarks.md)" in README and (ROOT / "docs" / "benchmarks.md").is_file()
    assert "## Measured so far" not in README
    for word in ("session", "run B", "run C", "run D"):  # no internal history
        assert word not in (ROOT / "docs" / "benchmarks.md").read_text(), word


def test_the_layout_table_names_every_package():
    layout = README.split("## Layout", 1)[1].split("\n## ", 1)[0]
    packages = sorted(
        p.parent.relative_to(ROOT).as_posix() + "/"
        for p in ROOT.glob("voxtral_mlx/*/__init__.py")
        if p.parent.name != "resources"
    )
    assert packages and [p for p in packages if f"`{p}`" not in layout] == []
    assert "`gui/`" in layout and "`tests/reference/`" in layout
