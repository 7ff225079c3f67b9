"""Session history: the recordings the transcriber autosaved, newest first: when each started,
how long it lasted, its name or first words; search, rename, export, delete (to the trash).

Each recording is a journal ``live-*.jsonl`` in the autosave folder (see
:mod:`voxtral_mlx.live.autosave`), plus its final ``.json`` once it ended, plus a ``.name`` text
file once renamed (the recording's own files are never rewritten). Opening prefers the final
JSON (it has the token ids) and falls back to recovering the journal, so a recording cut short
by a crash still opens. The dialog only previews; the window decides how an opened recording
joins its text. A recording of several sources previews with its labels, a line per turn
("You: ...", "Others: ..."); its title runs the turns on one line. GUI thread only; reading a
folder of small text files is quick.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QFile, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.live.autosave import recover
from voxtral_mlx.text.transcript import Transcript
from voxtral_mlx.text.writers import WRITERS

PREVIEW_CHARS = 90
DELETED = "Deleted"  # subfolder a deleted recording goes to where there is no trash
EXPORT_FILTERS = "Text (*.txt);;SubRip subtitles (*.srt);;WebVTT subtitles (*.vtt);;JSON with word times (*.json)"  # fmt: skip


@dataclass(frozen=True)
class Session:
    journal: Path
    started: datetime  # local time the recording started
    transcript: Transcript
    name: str = ""  # given by the user; "" = none

    @property
    def files(self) -> list[Path]:
        """The journal and what belongs to it (final JSON, name), those that exist."""
        paths = [self.journal, self.journal.with_suffix(".json"), self.journal.with_suffix(".name")]  # fmt: skip
        return [p for p in paths if p.is_file()]

    @property
    def duration(self) -> str:
        minutes, seconds = divmod(int(round(self.transcript.duration)), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"

    @property
    def title(self) -> str:
        text = " ".join(self.transcript.text.splitlines()) or "(no words)"
        preview = text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"
        crashed = "  (recovered)" if self.transcript.metadata.get("recovered") else ""
        when = f"{self.started:%a %d %b %Y, %H:%M}  ·  {self.duration}{crashed}"
        return f"{self.name}  ·  {when}\n{preview}" if self.name else f"{when}\n{preview}"

    def matches(self, query: str) -> bool:
        query = query.strip().casefold()
        return not query or query in f"{self.name}\n{self.spoken}".casefold()

    @property
    def spoken(self) -> str:
        """The words, without labels: a search for "you" must not match every labelled
        recording through its "You:" lines."""
        if self.transcript.labelled:
            return "\n".join(text for _, text in self.transcript.turns())
        return self.transcript.text


def started_at(journal: Path, transcript: Transcript) -> datetime:
    """The start line's time, in local time; else the file's last change less the duration."""
    try:
        with journal.open(encoding="utf-8") as f:
            return datetime.fromisoformat(json.loads(f.readline())["started"]).astimezone()
    except (OSError, ValueError, KeyError, TypeError):
        return datetime.fromtimestamp(journal.stat().st_mtime - transcript.duration).astimezone()


def read_name(journal: Path) -> str:
    try:
        return journal.with_suffix(".name").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeError):
        return ""


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
        found.append((Session(journal, started_at(journal, transcript), transcript, read_name(journal)), journal.stat().st_mtime))  # fmt: skip
    found.sort(key=lambda pair: (pair[0].started, pair[1]), reverse=True)
    return [session for session, _ in found]


def rename(session: Session, name: str) -> Session:
    """Give a recording a name (a ``.name`` file beside it; "" removes it)."""
    path = session.journal.with_suffix(".name")
    name = " ".join(name.split())
    try:
        if name:
            path.write_text(name + "\n", encoding="utf-8")
        elif path.exists():
            path.unlink()  # only the name we wrote, never the recording
    except OSError as err:
        raise VoxtralError(f"cannot rename the recording ({path}): {err.strerror or err}") from err
    return Session(session.journal, session.started, session.transcript, name)


def delete(session: Session) -> str:
    """Move a recording's files to the desktop's trash, or where there is none to a
    ``Deleted`` folder beside them; never erased. Returns where they went, in words."""
    files = session.files
    if all(QFile.moveToTrash(str(p)) for p in files):
        return "the trash"
    bin_ = session.journal.parent / DELETED
    try:
        bin_.mkdir(mode=0o700, exist_ok=True)
        for path in session.files:  # those the trash did not take
            shutil.move(str(path), str(bin_ / path.name))
    except OSError as err:
        raise VoxtralError(f"cannot delete the recording ({session.journal}): {err.strerror or err}") from err  # fmt: skip
    return str(bin_)


def export(session: Session, path: Path) -> Path:
    """Write a recording in the format ``path``'s suffix names (txt, srt, vtt, json)."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in WRITERS:
        path, fmt = path.with_suffix(".txt"), "txt"
    return WRITERS[fmt](session.transcript, path)


class HistoryDialog(QDialog):
    """Lists the sessions with a preview of the selected one; ``chosen`` carries the
    transcript the user asked to open in the window."""

    chosen = Signal(object)  # Transcript

    def __init__(self, folder: Path | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Recordings")
        self.resize(760, 460)
        self.folder = folder
        self.search = QLineEdit(placeholderText="Search names and words", clearButtonEnabled=True)
        self.search.textChanged.connect(self.filter)
        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        self.list.currentItemChanged.connect(lambda *_: self._show_current())
        self.list.itemActivated.connect(lambda *_: self.accept())
        self.preview = QTextEdit(readOnly=True)
        self.message = QLabel(f"Autosaved in {folder}" if folder else "")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        split = QSplitter()
        split.addWidget(self.list)
        split.addWidget(self.preview)
        split.setSizes([420, 340])
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.open_button = self.buttons.addButton("Open in window", QDialogButtonBox.ButtonRole.AcceptRole)  # fmt: skip
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        actions = QHBoxLayout()
        for text, slot in (("Rename…", self.rename_dialog), ("Export…", self.export_dialog), ("Delete", self.delete_current)):  # fmt: skip
            button = QPushButton(text)
            button.clicked.connect(lambda *_, slot=slot: slot())
            actions.addWidget(button)
        actions.addStretch()
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(split, 1)
        layout.addLayout(actions)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.reload()

    # ---- the list -----------------------------------------------------------------------------
    def reload(self) -> None:
        self.sessions = sessions(self.folder)
        self.list.clear()
        for session in self.sessions:
            self.list.addItem(self._item(session))
        self.filter(self.search.text())
        if not self.sessions:
            self.preview.setPlaceholderText("No recordings yet.")

    @staticmethod
    def _item(session: Session) -> QListWidgetItem:
        item = QListWidgetItem(session.title)
        item.setData(Qt.ItemDataRole.UserRole, session)
        return item

    def filter(self, query: str) -> None:
        """Show only recordings whose name or words contain ``query``; select the first."""
        for row in range(self.list.count()):
            item = self.list.item(row)
            item.setHidden(not item.data(Qt.ItemDataRole.UserRole).matches(query))
        current = self.list.currentItem()
        if current is None or current.isHidden():
            shown = [self.list.item(r) for r in range(self.list.count()) if not self.list.item(r).isHidden()]  # fmt: skip
            self.list.setCurrentItem(shown[0] if shown else None)
        self._show_current()

    def visible_sessions(self) -> list[Session]:
        items = (self.list.item(r) for r in range(self.list.count()))
        return [i.data(Qt.ItemDataRole.UserRole) for i in items if not i.isHidden()]

    def current(self) -> Session | None:
        item = self.list.currentItem()
        return None if item is None or item.isHidden() else item.data(Qt.ItemDataRole.UserRole)

    def _show_current(self) -> None:
        session = self.current()
        self.preview.setPlainText(session.transcript.text if session else "")
        self.open_button.setEnabled(session is not None)

    # ---- actions ------------------------------------------------------------------------------
    def rename_current(self, name: str) -> None:
        session = self.current()
        if session is None:
            return
        try:
            renamed = rename(session, name)
        except VoxtralError as err:
            self.message.setText(str(err))
            return
        item = self.list.currentItem()
        item.setData(Qt.ItemDataRole.UserRole, renamed)
        item.setText(renamed.title)

    def rename_dialog(self) -> None:
        if (session := self.current()) is None:
            return
        name, ok = QInputDialog.getText(self, "Rename recording", "Name:", text=session.name)
        if ok:
            self.rename_current(name)

    def export_current(self, path: Path) -> Path | None:
        if (session := self.current()) is None:
            return None
        try:
            written = export(session, path)
        except VoxtralError as err:
            self.message.setText(str(err))
            return None
        self.message.setText(f"Exported to {written}")
        return written

    def export_dialog(self) -> None:
        if (session := self.current()) is None:
            return
        suggested = str(Path.home() / f"{session.name or session.journal.stem}.txt")
        path, _ = QFileDialog.getSaveFileName(self, "Export recording", suggested, EXPORT_FILTERS)
        if path:
            self.export_current(Path(path))

    def delete_current(self) -> None:
        """Move the selected recording out of the list (to the trash: it can be restored)."""
        if (session := self.current()) is None:
            return
        try:
            where = delete(session)
        except VoxtralError as err:
            self.message.setText(str(err))
            return
        self.list.takeItem(self.list.currentRow())
        self.sessions = [s for s in self.sessions if s.journal != session.journal]
        self.message.setText(f"Moved to {where}")
        self.filter(self.search.text())

    def accept(self) -> None:
        if (session := self.current()) is not None:
            self.chosen.emit(session.transcript)
        super().accept()
