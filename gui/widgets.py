"""The main window's parts: the transcript view, the message banner, the microphone picker
and the first-run panel. GUI thread only.

The transcript view is updated incrementally: committed words are appended in the normal
colour, the word in progress is the document's dimmed tail, replaced on every step. It follows
the text while its scroll bar is at the bottom and stays put once the user scrolls up
(scrolling back down resumes following). With "lines shown" set (N > 0) it is a caption strip
instead: N lines high, no scroll bar, always on the newest words.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QMessageBox,
    QPushButton,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .captions import separator
from .settings import CaptionStyle

QWIDGETSIZE_MAX = (1 << 24) - 1  # Qt's "no maximum" (PySide6 does not export it)
DOWNLOAD_GB = 8.9  # consolidated.safetensors of the official release
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


def dimmed(colour: QColor) -> QColor:
    """The word in progress: the text colour at 60 % (still 4.5:1 in the high-contrast presets)."""
    colour = QColor(colour)
    colour.setAlphaF(0.6)
    return colour


class TranscriptView(QTextEdit):
    """Read-only rich text: committed words, then the dimmed word in progress."""

    def __init__(self, font_size: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setAcceptRichText(False)
        self.setFrameShape(QTextEdit.Shape.NoFrame)
        self.lines = 0  # lines shown; 0 = the whole transcript, scrolling
        self.set_font_size(font_size)
        self.document().setDocumentMargin(18)
        self._partial_at = 0  # where the in-progress tail starts
        self._committed = QTextCharFormat()
        self._partial = QTextCharFormat()
        self._partial.setFontItalic(True)
        self._partial.setForeground(self.palette().color(QPalette.ColorRole.PlaceholderText))
        self._ends_paragraph = True  # the next committed word starts a paragraph
        self._last_word = ""  # the last committed word: what the next one is spaced from
        self.follow = True

    def set_font_size(self, points: int) -> None:
        font = self.font()
        font.setPointSize(points)
        self.setFont(font)
        self._fit_lines()

    def set_lines(self, lines: int) -> None:
        """0: the whole transcript, scrolling. N: only the last N lines (a caption strip N
        lines high, its scroll bar hidden, the newest words always in view)."""
        self.lines = max(0, int(lines))
        off, needed = Qt.ScrollBarPolicy.ScrollBarAlwaysOff, Qt.ScrollBarPolicy.ScrollBarAsNeeded
        self.setVerticalScrollBarPolicy(off if self.lines else needed)
        self._fit_lines()
        self.follow = True
        self._to_end()

    def _fit_lines(self) -> None:
        # N lines and the bottom margin: the viewport's top is then the top of the Nth line
        # from the end, so no part of an older line shows above it.
        if not self.lines:
            self.setMinimumHeight(0)
            self.setMaximumHeight(QWIDGETSIZE_MAX)
            return
        lines = self.lines * self.fontMetrics().lineSpacing() + self.document().documentMargin()
        self.setFixedHeight(math.ceil(lines) + 2 * self.frameWidth())  # never fewer lines either

    def _to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def apply_style(self, style: CaptionStyle) -> None:
        """Font, size and colours from the settings window ("" = the desktop's). The word in
        progress is the text colour, dimmed."""
        font = QFont(self.font())
        font.setFamily(style.family or QApplication.font().family())
        font.setPointSize(style.size)
        self.setFont(font)
        palette = QPalette()  # only the roles set here; the rest follow the desktop (light/dark)
        if style.text:
            palette.setColor(QPalette.ColorRole.Text, QColor(style.text))
            palette.setColor(QPalette.ColorRole.PlaceholderText, dimmed(QColor(style.text)))
        if style.background:
            palette.setColor(QPalette.ColorRole.Base, QColor(style.background))
        self.setPalette(palette)
        self.set_lines(style.lines)  # fitted to the new font

    def at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def update_text(self, words: list[str], partial: str, new_paragraph: bool = False) -> None:
        follow = self.at_bottom() or self.lines > 0
        cursor = QTextCursor(self.document())
        cursor.setPosition(self._partial_at)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        if new_paragraph and self.document().characterCount() > 1:
            cursor.insertText("\n\n", self._committed)
            self._ends_paragraph = True
        for word in words:  # spaced as join_texts spaces them: none between CJK characters
            sep = "" if self._ends_paragraph else separator(self._last_word, word)
            cursor.insertText(sep + word, self._committed)
            self._ends_paragraph, self._last_word = False, word
        self._partial_at = cursor.position()
        if partial:
            sep = "" if self._ends_paragraph else separator(self._last_word, partial)
            cursor.insertText(sep + partial, self._partial)
        self.follow = follow
        if follow:
            self._to_end()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self.lines:  # rewrapped to a new width: still on the newest line
            self._to_end()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        # Light/dark switched: the word in progress takes the new palette's dimmed colour.
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._partial.setForeground(self.palette().color(QPalette.ColorRole.PlaceholderText))
        elif event.type() == QEvent.Type.FontChange:
            self._fit_lines()

    def reset(self) -> None:
        self.clear()
        self._partial_at = 0
        self._ends_paragraph = True


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
    the window can be narrow (beside a video call) without hiding a control."""

    def __init__(self, first: QLayout | QWidget, second: QLayout | QWidget, parent: QWidget | None = None):  # fmt: skip
        super().__init__(parent)
        self.first, self.second = _as_widget(first), _as_widget(second)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.addWidget(self.first, 0, 0)
        self._grid.setColumnStretch(0, 1)
        self.stacked: bool | None = None
        self._arrange(False)

    def _arrange(self, stacked: bool) -> None:
        if stacked == self.stacked:
            return
        self.stacked = stacked
        self._grid.removeWidget(self.second)
        self._grid.addWidget(self.second, *((1, 0) if stacked else (0, 1)))
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
