"""No run path imports transformers or torch (issue 16, section 5): mlx-lm's package ``__init__``
pulls transformers in (1-7 s on every start), so ``voxtral_mlx.model`` takes mlx-lm's caches
without running it (``voxtral_mlx/model/lm_caches.py``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

HEAVY = ("transformers", "torch")

# The CLI's real run path on a tiny model: load it and transcribe the bundled sample into every
# format, then convert's and download's --help, then the self-test (file + live + writers).
RUN_PATHS = """
import contextlib, io, sys, tempfile
from pathlib import Path

from voxtral_mlx.cli import main as cli

from voxtral_mlx import env

from voxtral_mlx.cli import self_test
from voxtral_mlx.testing import write_tiny_checkpoint

tmp = Path(tempfile.mkdtemp())
folder = write_tiny_checkpoint(tmp / "model")
sample = str(env.sample_audio())
with contextlib.redirect_stdout(io.StringIO()):
    assert cli.main([sample, "--model", str(folder), "--format", "all", "-o", str(tmp), "-q"]) == 0
    assert cli.main(["--info", "--model", str(folder)]) == 0
assert (tmp / "sample-en.json").is_file()
import voxtral_mlx.cli.convert, voxtral_mlx.cli.download
for module in (voxtral_mlx.cli.convert, voxtral_mlx.cli.download):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        module.main(["--help"])
assert self_test.run(io.StringIO(), sys.stderr) == 0
print(sorted(m for m in {HEAVY} if m in sys.modules))
"""


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=240)  # fmt: skip


def test_no_run_path_imports_transformers_or_torch():
    result = _python(RUN_PATHS.replace("{HEAVY}", repr(HEAVY)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "[]"


def test_mlx_lm_still_works_for_code_sharing_the_process():
    """The deferred package runs its real __init__ on first use: mlx_lm.load etc. are there."""
    result = _python("""
        import sys
        import voxtral_mlx.model.blocks as blocks
        assert "transformers" not in sys.modules
        import mlx_lm
        from mlx_lm import generate
        from mlx_lm.models.cache import KVCache
        assert callable(mlx_lm.load) and callable(generate) and KVCache is blocks.KVCache
        print("transformers" in sys.modules)
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "True"  # mlx_lm's own __init__ ran, in place
