"""What the window listens to and how loud it is: the "Listen to" choice (Microphone / Computer
audio / Both) and the level meters, one per source. GUI thread only.

:class:`SourceBox` offers the choices of :mod:`gui.sources`; where this system has no source
for the computer's audio, "Computer audio" and "Both" are shown disabled, their tooltip saying
why. :class:`SourceMeters` is one level bar and lag as before, or, while both sources are on,
one each, labelled "You" and "Others".
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QProgressBar, QWidget

from voxtral_mlx.live.source_set import OTHERS, YOU

from .sources import BOTH, COMPUTER, LAG_WARN_S, LISTEN_CHOICES, LISTEN_TIPS, MICROPHONE

METER_FLOOR_DB = -60
LAG_TIP = "Audio heard but not yet transcribed, beyond the delay"


class SourceBox(QComboBox):
    """Listen to: Microphone / Computer audio / Both. :attr:`chosen` says what the user picked
    (a :mod:`gui.sources` choice); setting it from code (:meth:`choose`) emits nothing."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        for value, text in LISTEN_CHOICES.items():
            self.addItem(text, value)
            self.setItemData(self.count() - 1, LISTEN_TIPS[value], Qt.ItemDataRole.ToolTipRole)
        self.setToolTip("What to caption: the microphone, what the computer plays, or both")
        self.setAccessibleName("Listen to")
        self.missing = ""  # why the computer's audio cannot be chosen ("": it can)
        self.currentIndexChanged.connect(lambda _: self.chosen.emit(self.current()))

    def current(self) -> str:
        return self.currentData() or MICROPHONE

    def choose(self, value: str) -> None:
        """Show ``value`` as chosen (the microphone if it is unknown or not available)."""
        index = self.findData(value)
        if index < 0 or not self.model().item(index).isEnabled():
            index = self.findData(MICROPHONE)
        self.blockSignals(True)
        self.setCurrentIndex(index)
        self.blockSignals(False)

    def set_missing(self, why: str) -> None:
        """Offer the computer's audio ("" ) or not (``why`` not: its tooltip says it). A choice
        that becomes unavailable falls back to the microphone, silently (it is not the user's
        choice, so it is not remembered)."""
        self.missing = why
        for value in (COMPUTER, BOTH):
            index = self.findData(value)
            self.model().item(index).setEnabled(not why)
            self.setItemData(index, why or LISTEN_TIPS[value], Qt.ItemDataRole.ToolTipRole)
        if why and self.current() != MICROPHONE:
            self.choose(MICROPHONE)


class LevelMeter:
    """One source's level bar, its lag, and its name (shown while several sources are on)."""

    def __init__(self, name: str, tip: str):
        self.name = QLabel(name)
        self.bar = QProgressBar(minimum=METER_FLOOR_DB, maximum=0, textVisible=False)
        self.bar.setValue(METER_FLOOR_DB)
        self.bar.setFixedSize(120, 8)
        self.bar.setToolTip(tip)
        self.bar.setAccessibleName(tip)
        self.lag = QLabel("", toolTip=LAG_TIP)

    def show_reading(self, level_db: float | None, lag: float | None) -> None:
        """``level_db`` None: no sound; ``lag`` None: nothing to say (not listening)."""
        level = METER_FLOOR_DB if level_db is None else max(METER_FLOOR_DB, min(0.0, level_db))
        self.bar.setValue(int(level))
        if lag is None:
            self.lag.setText("")
            return
        self.lag.setText(f"lag {lag:.1f} s")
        self.lag.setStyleSheet("color: #d9534f;" if lag > LAG_WARN_S else "")


class SourceMeters(QWidget):
    """The level meters: :attr:`main` (the one source's, or the microphone's "You"), and
    :attr:`others` (the computer's audio, "Others") below it while both are on."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.main = LevelMeter(YOU, "Input level")
        self.others = LevelMeter(OTHERS, "Computer audio level (Others)")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(0)
        for row, meter in enumerate((self.main, self.others)):
            for column, widget in enumerate((meter.name, meter.lag, meter.bar)):
                grid.addWidget(widget, row, column, Qt.AlignmentFlag.AlignVCenter)
        self.labelled: bool | None = None
        self.set_labelled(False)

    def set_labelled(self, on: bool) -> None:
        """One meter, unnamed (one source), or one per source, each named."""
        if on == self.labelled:
            return
        self.labelled = on
        for widget in (self.main.name, self.others.name, self.others.lag, self.others.bar):
            widget.setVisible(on)
        tip = "Microphone level (You)" if on else "Input level"
        self.main.bar.setToolTip(tip)
        self.main.bar.setAccessibleName(tip)

    def show_reading(self, level_db: float | None, lag: float | None, source: str | None) -> None:
        """A source's reading (None: the one source); ``lag`` None too: not listening, every
        meter goes back to silence (a labelled source's alone: it has ended)."""
        if lag is None and source is None:
            for meter in (self.main, self.others):
                meter.show_reading(None, None)
            return
        self.set_labelled(source is not None)
        (self.others if source == OTHERS else self.main).show_reading(level_db, lag)


__all__ = ["METER_FLOOR_DB", "LevelMeter", "SourceBox", "SourceMeters"]
