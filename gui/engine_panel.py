"""The settings window's Engine box: caption with the model on this computer or through a
server (ours, ``python -m voxtral_mlx serve``, or a vLLM deployment), its address and API key.

GUI thread only. Every edit is remembered at once (:mod:`gui.settings`, the key in plain text
like every setting); :attr:`EnginePanel.changed` carries the :class:`~gui.engine.Engine` to
run after each edit that changes it: a server whose address is not one is not used (the note
says why, in red) and this computer captions until it is right.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QWidget

from .engine import LOCAL, SERVER, chosen_engine, normal_url, url_problem
from .settings import Key, Settings

CHOICES = {LOCAL: "This computer", SERVER: "A server"}
NOTES = {
    LOCAL: "The model runs here (downloaded at the first Start if it is not here yet).",
    SERVER: "captions come from this server from the next Start. No drafts with a server, and the delay is the server's.",  # fmt: skip
}
WARNING = "color: #d9534f;"


class EnginePanel(QGroupBox):
    """Engine (This computer / A server), the server's address and its API key."""

    changed = Signal(object)  # the Engine to run

    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__("Engine", parent)
        self.settings = settings
        self.engine = chosen_engine(settings)
        self.choice = QComboBox()
        for value, text in CHOICES.items():
            self.choice.addItem(text, value)
        self.choice.setAccessibleName("Engine")
        self.url = QLineEdit(settings.get(Key.SERVER_URL), placeholderText="ws://HOST:8000 or http://HOST:8000")  # fmt: skip
        self.url.setAccessibleName("Server address")
        self.url.setToolTip("The server's address: python -m voxtral_mlx serve, or vLLM serving Voxtral Realtime (/v1/realtime is added)")  # fmt: skip
        self.api_key = QLineEdit(settings.get(Key.API_KEY), placeholderText="none")
        self.api_key.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)
        self.api_key.setAccessibleName("API key")
        self.api_key.setToolTip("Sent as 'Authorization: Bearer KEY'; stored in the app's settings file in plain text")  # fmt: skip
        self.note = QLabel(wordWrap=True)
        form = QFormLayout(self)
        form.addRow("Captions by", self.choice)
        form.addRow("Server address", self.url)
        form.addRow("API key (optional)", self.api_key)
        form.addRow(self.note)
        self.choice.setCurrentIndex(max(0, self.choice.findData(settings.get(Key.ENGINE))))
        self._show()
        self.choice.currentIndexChanged.connect(self._edited)
        self.url.textChanged.connect(self._edited)
        self.api_key.textChanged.connect(self._edited)

    @property
    def kind(self) -> str:
        return self.choice.currentData()

    def choose(self, kind: str) -> None:
        """Pick This computer (:data:`~gui.engine.LOCAL`) or A server, as the user would."""
        self.choice.setCurrentIndex(self.choice.findData(kind))

    def _edited(self, *_) -> None:
        settings = self.settings
        settings.set(Key.ENGINE, self.kind)
        settings.set(Key.SERVER_URL, self.url.text().strip())
        settings.set(Key.API_KEY, self.api_key.text().strip())
        self._show()
        engine = chosen_engine(settings)
        if engine != self.engine:
            self.engine = engine
            self.changed.emit(engine)

    def _show(self) -> None:
        """The server's fields only matter for a server; the note says what runs, or why the
        address is not used."""
        server = self.kind == SERVER
        for field in (self.url, self.api_key):
            field.setEnabled(server)
        problem = url_problem(self.url.text()) if server else ""
        if problem:
            self.note.setText(f"{problem}. Until then this computer captions.")
        elif server:
            self.note.setText(f"{normal_url(self.url.text())}: {NOTES[SERVER]}")
        else:
            self.note.setText(NOTES[LOCAL])
        self.note.setStyleSheet(WARNING if problem else "")


__all__ = ["CHOICES", "EnginePanel"]
