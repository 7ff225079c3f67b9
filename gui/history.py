"""Session history: the recordings the transcriber autosaved, newest first, reopenable.

Each recording is a journal ``live-*.jsonl`` in the autosave folder (see
:mod:`voxtral_mlx.live_autosave`), plus its final ``.json`` once it ended. Opening prefers the
final JSON (it has the token ids) and falls back to recovering the journal, so a recording cut
short by a crash still opens. GUI thread only; reading a folder of small text files is quick.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.live_autosave import recover
from voxtral_mlx.transcript import Transcript

PREVIEW_CHARS = 90


@dataclass(frozen=True)
class Session:
    journal: Path
    started: datetime
    transcript: Transcript

    @property
    def title(self) -> str:
        text = self.transcript.text or "(no words)"
        preview = text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"
        minutes, seconds = divmod(int(round(self.transcript.duration)), 60)
        crashed = "  (recovered)" if self.transcript.metadata.get("recovered") else ""
        return f"{self.started:%Y-%m-%d %H:%M}  ·  {minutes}:{seconds:02d}{crashed}\n{preview}"


def load_session(journal: Path) -> Transcript:
    """The final JSON beside the journal if it is there and readable, else the journal."""
    final = journal.with_suffix(".json")
    if final.is_file():
        try:
            return Transcript.from_dict(json.loads(final.read_text(encoding="utf-8")))
        except (OSError, ValueError, VoxtralError):
            pass  # half-written or damaged: the journal still has the words
    return recover(journal)


def sessions(folder: Path | None) -> list[Session]:
    """Every readable recording in ``folder``, newest first; unreadable ones are skipped."""
    if folder is None or not folder.is_dir():
        return []
    found = []
    for journal in folder.glob("live-*.jsonl"):
        try:
            transcript = load_session(journal)
        except VoxtralError:
            continue
        found.append(Session(journal, datetime.fromtimestamp(journal.stat().st_mtime), transcript))
    return sorted(found, key=lambda s: s.started, reverse=True)


class HistoryDialog(QDialog):
    """Lists the sessions; ``chosen`` carries the transcript the user opened."""

    chosen = Signal(object)  # Transcript

    def __init__(self, folder: Path | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Recordings")
        self.resize(620, 420)
        self.sessions = sessions(folder)
        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        for session in self.sessions:
            item = QListWidgetItem(session.title)
            item.setData(Qt.ItemDataRole.UserRole, session)
            self.list.addItem(item)
        self.list.itemActivated.connect(lambda *_: self.accept())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)  # fmt: skip
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        where = QLabel(f"Autosaved in {folder}" if folder else "")
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(QLabel("No recordings yet.") if not self.sessions else self.list, 1)
        layout.addWidget(where)
        layout.addWidget(buttons)
        if self.sessions:
            self.list.setCurrentRow(0)

    def accept(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.chosen.emit(item.data(Qt.ItemDataRole.UserRole).transcript)
        super().accept()
