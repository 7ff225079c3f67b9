"""The main window's small parts: the message banner, the microphone picker, the delay box,
labels and rows that fit a narrow window, the keys a focused control takes, and the questions
the window asks. GUI thread only. The transcript view is in :mod:`gui.transcript_view`, the
first-run panel in :mod:`gui.first_run`, the "Listen to" choice and the level meters in
:mod:`gui.source_widgets`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QPainter, QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QMessageBox,
    QSpinBox,
    QToolButton,
    QWidget,
)

if TYPE_CHECKING:
    from voxtral_mlx.audio.mic import InputDevice

CONTROL_KEYS = (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter)
PLAIN = (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier)


class ControlKeys(QObject):
    """Space and Return/Enter go to the focused control (a button, picker or spin box), before
    any window shortcut on the same key; Return clicks any focused button (Qt's push buttons
    only take it in dialogs). Elsewhere the window's shortcuts keep those keys."""

    def install(self, root: QWidget) -> None:
        for widget in root.findChildren(QWidget):
            if isinstance(widget, (QAbstractButton, QComboBox, QAbstractSpinBox)):
                widget.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            return False
        if not isinstance(event, QKeyEvent) or event.key() not in CONTROL_KEYS or event.modifiers() not in PLAIN:  # fmt: skip
            return False
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # the key is the control's, not a shortcut's
            return True
        if event.key() != Qt.Key.Key_Space and isinstance(obj, QAbstractButton):
            obj.click()
            return True
        return False


def ask_close_choice(parent: QWidget) -> str | None:
    """Closing the window while listening, asked once: "tray" (listening goes on), "stop", or
    None (cancelled: the window stays)."""
    return _ask_choice(
        parent, "Voxtral is listening", "Keep listening after the window closes?",
        "Voxtral can go on listening in the tray (captions keep coming in the overlay and are "
        "saved), or stop. You are asked once; Settings can change it.",
        [("tray", "Keep listening in the tray", QMessageBox.ButtonRole.AcceptRole),
         ("stop", "Stop listening", QMessageBox.ButtonRole.DestructiveRole)],
        default="tray",
    )  # fmt: skip


def ask_open_choice(parent: QWidget) -> str | None:
    """Opening a recording while the window shows text: "replace" it, "append" the recording
    below it, or None (cancelled). Asked every time: text is never replaced silently."""
    return _ask_choice(
        parent, "Open recording", "The window already shows text. Replace it with the recording?",
        "Everything heard stays in History either way (it is autosaved).",
        [("replace", "Replace", QMessageBox.ButtonRole.DestructiveRole),
         ("append", "Add below", QMessageBox.ButtonRole.AcceptRole)],
        default="append",
    )  # fmt: skip


def _ask_choice(parent, title: str, text: str, info: str, choices: list, default: str):
    """A question box with named choices and Cancel: the chosen name, or None (cancelled).
    Each button's object name is its choice's name (tests find the buttons by it)."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=parent)
    box.setInformativeText(info)
    buttons = {}
    for name, label, role in choices:
        buttons[name] = box.addButton(label, role)
        buttons[name].setObjectName(name)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(buttons[default])
    box.exec()
    clicked = box.clickedButton()
    return next((name for name, button in buttons.items() if button is clicked), None)


class Banner(QWidget):
    """A one-line message above the transcript (errors, hints) with a close button."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 6, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.kind = ""
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        colours = {"error": ("#5c1a1a", "#ffd7d7"), "hint": ("#4a3b00", "#fff1c2")}
        bg, fg = colours.get(kind, colours["hint"])
        self.setStyleSheet(f"#banner {{ background: {bg}; border-radius: 6px; }} QLabel {{ color: {fg}; }}")  # fmt: skip
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.kind = kind
        self.label.setText(text)
        self.show()


class ElidedLabel(QLabel):
    """A one-line label that may be narrower than its text: it ends in "…" and its tooltip has
    the whole text (a long status must not set the window's minimum width)."""

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self.setToolTip(text)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(
            self.fontMetrics().horizontalAdvance("Mmmm…"), super().minimumSizeHint().height()
        )

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter = QPainter(self)
        self.style().drawItemText(painter, rect, int(self.alignment()), self.palette(), self.isEnabled(), text, QPalette.ColorRole.WindowText)  # fmt: skip


class ReflowRow(QWidget):
    """Two groups of controls side by side where they fit, else the second below the first, so
    the window can be narrow (beside a video call) without hiding a control. Side by side, the
    first takes the room left (``grow_second``: the second does)."""

    def __init__(self, first: QLayout | QWidget, second: QLayout | QWidget, parent: QWidget | None = None,
                 grow_second: bool = False):  # fmt: skip
        super().__init__(parent)
        self.first, self.second = _as_widget(first), _as_widget(second)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.addWidget(self.first, 0, 0)
        self._grow_second = grow_second
        self.stacked: bool | None = None
        self._arrange(False)

    def _arrange(self, stacked: bool) -> None:
        if stacked == self.stacked:
            return
        self.stacked = stacked
        self._grid.removeWidget(self.second)
        self._grid.addWidget(self.second, *((1, 0) if stacked else (0, 1)))
        grow = 1 if self._grow_second and not stacked else 0  # stacked: both take the width
        self._grid.setColumnStretch(0, 1 - grow)
        self._grid.setColumnStretch(1, grow)
        self.updateGeometry()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        # Stacked is always possible, so the row never forces the sum of both widths.
        width = max(self.first.minimumSizeHint().width(), self.second.minimumSizeHint().width())
        return QSize(width, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        side_by_side = self.first.minimumSizeHint().width() + self._grid.horizontalSpacing() + self.second.sizeHint().width()  # fmt: skip
        self._arrange(event.size().width() < side_by_side)
        super().resizeEvent(event)
        self._grid.activate()  # lay out the new arrangement now, not one frame late


def _as_widget(part: QLayout | QWidget) -> QWidget:
    if isinstance(part, QWidget):
        return part
    part.setContentsMargins(0, 0, 0, 0)
    widget = QWidget()
    widget.setLayout(part)
    return widget


class DeviceBox(QComboBox):
    """The microphone picker; looks for devices again each time it opens (PortAudio has no
    device-change notification)."""

    about_to_open = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # A long device name is cut short in the box (whole in the list), not a window width.
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(8)

    def showPopup(self) -> None:  # noqa: N802 (Qt's name)
        self.about_to_open.emit()
        super().showPopup()

    def fill(self, devices: Sequence[InputDevice], wanted: str) -> None:
        """List "System default microphone" and ``devices``; select ``wanted`` (a name) if it is
        among them, else the default. Emits no change: the choice stays what it was."""
        self.blockSignals(True)
        self.clear()
        self.addItem("System default microphone", "")
        for device in devices:
            label = f"{device.name}  ({device.hostapi})" + ("  — default" if device.is_default else "")  # fmt: skip
            self.addItem(label, device.name)
        self.setCurrentIndex(max(self.findData(wanted), 0))
        self.blockSignals(False)

    def current(self) -> str:
        """The chosen device's name; "" = the system default."""
        return self.currentData() or ""


class DelayBox(QSpinBox):
    """The delay in ms on a grid of ``step``; :attr:`chosen` (ms, snapped to the grid) once the
    user has settled on one: editing finished, or 600 ms after the last change."""

    chosen = Signal(int)

    def __init__(self, low: int, high: int, step: int, value: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setRange(low, high)
        self.setSingleStep(step)
        self.setSuffix(" ms")
        self.setToolTip("Delay: shorter captions sooner, longer is more accurate")
        self.setValue(value)
        self.editingFinished.connect(self._snap)
        self.valueChanged.connect(lambda _: self._settle.start())
        self._settle = QTimer(self, singleShot=True, interval=600)
        self._settle.timeout.connect(self._snap)

    def _snap(self) -> None:
        step = self.singleStep()
        value = min(max(round(self.value() / step) * step, self.minimum()), self.maximum())
        if value != self.value():
            self.setValue(value)
        self.chosen.emit(value)
