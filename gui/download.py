"""The model's download, in a child process the user can cancel, and what is on disk so far.

The download (``voxtral_mlx.cli.download``) runs as its own process: killing it is the only way to
stop huggingface_hub mid-file, and what it fetched stays in the Hugging Face cache, where the
next download resumes it. The first-run flow (:mod:`gui.first_run`) watches the cache folder
grow for progress (:func:`downloaded_bytes`) and starts the transcriber once the process ends
well. No widgets here, and no MLX: the GUI thread asks :func:`model_on_disk` before a start.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Signal

from voxtral_mlx.checkpoint.resolve import DEFAULT_BITS, converted_path


def converted_folder(repo_id: str) -> Path:
    """Where :mod:`voxtral_mlx.checkpoint.cache` keeps ``repo_id`` converted by default (the rule
    lives in the mlx-free checkpoint.resolve module, so the GUI thread can ask)."""
    return converted_path(repo_id, DEFAULT_BITS)


def downloaded_bytes(repo_id: str) -> int:
    """Bytes of ``repo_id`` in the Hugging Face cache so far, partial downloads included (the
    loader downloads on the transcriber's thread with no progress callback; the GUI watches
    the cache folder grow instead)."""
    try:
        from huggingface_hub import constants

        blobs = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}" / "blobs"
        return sum(f.stat().st_size for f in blobs.iterdir() if f.is_file())
    except (ImportError, OSError):
        return 0


def model_on_disk(model: str) -> bool:
    """True when loading ``model`` needs no download: an existing folder, or a repo id that is
    already converted or in the Hugging Face cache."""
    path = Path(model).expanduser()
    if path.is_dir():
        return True
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", model) or model.startswith((".", "/", "~")):
        return False
    if (converted_folder(model) / "params.json").is_file():
        return True
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(model, "consolidated.safetensors"), str)
    except Exception:  # no huggingface_hub, or a malformed cache: treat as not there
        return False


def download_command(repo_id: str) -> list[str]:
    """The child's command line: the packaged app re-runs itself with ``--download``."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--download", repo_id]
    return [sys.executable, "-m", "voxtral_mlx.download", repo_id]


class ModelDownload(QObject):
    """``start(repo)``, ``cancel()``; ``finished(ok, message)`` once, unless cancelled."""

    finished = Signal(bool, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._proc: QProcess | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None

    def start(self, repo_id: str) -> None:
        if self._proc is not None:
            return
        program, *args = download_command(repo_id)
        proc = QProcess(self)
        proc.setProgram(program)
        proc.setArguments(args)
        proc.finished.connect(self._done)
        proc.errorOccurred.connect(self._failed_to_start)
        self._proc = proc
        proc.start()

    def cancel(self) -> None:
        """Stop now (the partial download stays for the next time); no ``finished``."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.blockSignals(True)
            proc.kill()
            proc.waitForFinished(2000)
            proc.deleteLater()

    def _done(self, code: int, status: QProcess.ExitStatus) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        err = bytes(proc.readAllStandardError()).decode(errors="replace").strip()
        proc.deleteLater()
        if code == 0 and status == QProcess.ExitStatus.NormalExit:
            self.finished.emit(True, "")
            return
        last = err.splitlines()[-1] if err else f"the download stopped (exit status {code})"
        self.finished.emit(False, last)

    def _failed_to_start(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._proc is not None:
            self._proc = None
            self.finished.emit(False, "could not start the download")
