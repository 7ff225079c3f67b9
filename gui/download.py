"""The first-run model download, in a child process the user can cancel.

The download (``voxtral_mlx.cli.download``) runs as its own process: killing it is the only way to
stop huggingface_hub mid-file, and what it fetched stays in the Hugging Face cache, where the
next download resumes it. The window watches the cache folder grow for progress
(``worker.downloaded_bytes``) and starts the transcriber once the process ends well.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QProcess, Signal


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
