"""``python -m voxtral_mlx.download``: the GUI's cancellable download child (issue 16 §5)."""

import os
import subprocess
import sys

from voxtral_mlx.cli import download


def _run(*args, **env):
    return subprocess.run(
        [sys.executable, "-m", "voxtral_mlx.download", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_help_describes_and_downloads_nothing(tmp_path):
    r = _run("--help", HF_HOME=str(tmp_path), HF_HUB_OFFLINE="1")
    assert r.returncode == 0 and r.stdout.startswith("usage: python -m voxtral_mlx.download")
    assert "REPO_ID" in r.stdout and "resumes" in r.stdout
    assert not any(tmp_path.iterdir())  # nothing fetched or cached


def test_usage_errors_exit_2(capsys):
    for argv in ([], ["a/b", "c/d"], ["--bits", "4"]):
        assert download.main(argv) == 2
        assert "usage:" in capsys.readouterr().err


def test_local_folder_is_printed(tmp_path, capsys):
    assert download.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path)


def test_unavailable_repo_is_one_line_exit_1(tmp_path):
    """The GUI shows the child's last stderr line; offline, nothing is fetched."""
    r = _run("nobody/no-such-model", HF_HOME=str(tmp_path), HF_HUB_OFFLINE="1")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip().splitlines()[-1].startswith("cannot get 'nobody/no-such-model'")
    assert "Traceback" not in r.stderr


def test_download_child_never_imports_mlx(tmp_path):
    """The GUI starts this child before (and beside) the model's thread: --help and a local
    folder must not pay for MLX, nor load it."""
    code = (
        "import sys; from voxtral_mlx.cli import download; "
        f"download.main(['--help']); download.main([{str(tmp_path)!r}]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'mlx'))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip().endswith("[]"), r.stderr
