"""Getting the model onto this computer: the first run's panel, the download, a chosen folder.

GUI thread only. With no model on disk the window shows :class:`FirstRunPanel`: download the
model (a child process, :mod:`gui.download`: cancellable, resumed next time) or choose a model
folder. :class:`ModelSetup` runs that flow and drives the widgets it owns (the panel, the
progress bar, Cancel and Model…); the window places them and shows what the setup's signals
say in its status line and banner. Conversion progress (the loader converts a downloaded model
on the transcriber's thread) shows in the same progress bar.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .bridge import EngineBridge
from .download import ModelDownload, downloaded_bytes
from .messages import in_gui_words
from .settings import Key, Settings

DOWNLOAD_GB = 8.9  # consolidated.safetensors of the official release


class FirstRunPanel(QFrame):
    """Shown while the chosen model is not on this computer: download it, or pick a folder."""

    download = Signal()
    choose = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("firstRun")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 14)
        title = QLabel("<b>One more step: the speech model</b>")
        text = QLabel(
            "Voxtral transcribes on this computer with Mistral's Voxtral Mini 4B Realtime. "
            f"The first start downloads it ({DOWNLOAD_GB} GB, resumed if interrupted) and keeps "
            "a 4-bit copy; after that no network is needed. Or choose a model folder you "
            "already have."
        )
        text.setWordWrap(True)
        row = QHBoxLayout()
        self.download_button = QPushButton(f"Download ({DOWNLOAD_GB} GB) and start")
        self.download_button.clicked.connect(self.download)
        self.choose_button = QPushButton("Choose model folder…")
        self.choose_button.clicked.connect(self.choose)
        row.addWidget(self.download_button)
        row.addWidget(self.choose_button)
        row.addStretch()
        layout.addWidget(title)
        layout.addWidget(text)
        layout.addLayout(row)


class ModelSetup(QObject):
    """The first-run flow. ``download_model()`` (Start with no model does it too),
    ``cancel_download()``, ``choose_folder()``, ``use_folder(folder)``; :attr:`downloaded` when
    the download has ended well (Start follows)."""

    status_text = Signal(str)  # for the status line
    message = Signal(str)  # an error for the banner; "" = the banner's news is out of date
    downloading = Signal(bool)  # a download started (True) or ended: Start waits meanwhile
    downloaded = Signal()

    def __init__(self, bridge: EngineBridge, settings: Settings, window: QWidget):
        super().__init__(window)
        self.bridge, self.settings, self.window = bridge, settings, window
        self.download = ModelDownload(self)
        self.download.finished.connect(self.download_finished)
        self.timer = QTimer(self, interval=1000)  # the download's progress: the cache grows
        self.timer.timeout.connect(self._show_download)
        self.panel = FirstRunPanel()
        self.panel.download.connect(self.download_model)
        self.panel.choose.connect(self.choose_folder)
        self.panel.setVisible(bridge.needs_download)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        self.cancel_button = QToolButton(text="Cancel download")
        self.cancel_button.setToolTip("Stop the download; what is downloaded is kept and resumed next time")  # fmt: skip
        self.cancel_button.clicked.connect(self.cancel_download)
        self.cancel_button.hide()
        self.model_button = QToolButton(text="Model…")
        self.model_button.setToolTip("Choose a model folder")
        self.model_button.clicked.connect(self.choose_folder)
        bridge.progress.connect(self._on_progress)

    def download_model(self) -> None:
        """First start: fetch the model in a child process (cancellable, resumable);
        :attr:`downloaded` when it has finished."""
        self.message.emit("")
        self.panel.hide()
        self.downloading.emit(True)
        self.model_button.setEnabled(False)
        self.cancel_button.show()
        self.download.start(self.bridge.model)
        self._show_download()
        self.timer.start()

    def cancel_download(self) -> None:
        self.download.cancel()
        self._download_ended()
        done = downloaded_bytes(self.bridge.model) / 1e9
        self.status_text.emit(f"Download paused: {done:.1f} of {DOWNLOAD_GB} GB kept, it resumes from there")  # fmt: skip
        self.panel.show()

    def download_finished(self, ok: bool, message: str) -> None:
        """The child process ended: Start follows, or the panel is back with why it failed."""
        self._download_ended()
        if ok:
            self.downloaded.emit()
            return
        self.message.emit(f"The model could not be downloaded: {in_gui_words(message)}")
        self.status_text.emit("Model not downloaded")
        self.panel.show()

    def _download_ended(self) -> None:
        self.timer.stop()
        self.progress.hide()
        self.cancel_button.hide()
        self.downloading.emit(False)
        self.model_button.setEnabled(True)

    def refresh(self) -> None:
        """The engine changed: the panel shows only while Start would download the model (never
        with a server)."""
        if not self.download.running:
            self.panel.setVisible(self.bridge.needs_download)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Choose a Voxtral model folder")
        if folder:
            self.use_folder(Path(folder))

    def use_folder(self, folder: Path) -> bool:
        """Use ``folder`` from the next Start if it looks like a model (params/config.json)."""
        if not any((folder / name).is_file() for name in ("params.json", "config.json")):
            self.message.emit(
                f"{folder} is not a Voxtral model folder (no params.json or config.json): "
                "choose the folder that holds the model's files"
            )
            return False
        self.settings.set(Key.MODEL, str(folder))
        self.bridge.set_model(str(folder))
        self.message.emit("")
        self.panel.hide()
        self.status_text.emit(f"Model: {folder}")
        return True

    def _show_download(self) -> None:
        """While the first start downloads: how much of the model is here (resumable)."""
        done = downloaded_bytes(self.bridge.model) / 1e9
        self.progress.setRange(0, int(DOWNLOAD_GB * 10))
        self.progress.setValue(min(int(done * 10), int(DOWNLOAD_GB * 10)))
        self.progress.show()
        self.status_text.emit(f"Downloading the model (first start only)… {done:.1f} of {DOWNLOAD_GB} GB")  # fmt: skip

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        percent = int(100 * done / total) if total else 0
        self.progress.setRange(0, 100)
        self.progress.setValue(percent)
        self.progress.setVisible(done < total)
        self.status_text.emit(f"{stage.capitalize()} the model (first start only)… {percent} %")
