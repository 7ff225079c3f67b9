"""The transcript view: the main window's text, updated word by word. GUI thread only.

Committed words are appended in the normal colour; the word in progress (italic) and the draft
after it are the document's dimmed tail, replaced on every step and every new draft, so no old
copy stays behind and the committed text above never moves. It follows the text while its
scroll bar is at the bottom and stays put once the user scrolls up (scrolling back down resumes
following). With "lines shown" set (N > 0) it is a caption strip instead: N lines high, no
scroll bar, always on the newest words.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QFont, QPalette, QResizeEvent, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QApplication, QTextEdit, QWidget

from .captions import separator
from .settings import CaptionStyle

QWIDGETSIZE_MAX = (1 << 24) - 1  # Qt's "no maximum" (PySide6 does not export it)


def dimmed(colour: QColor) -> QColor:
    """The word in progress: the text colour at 60 % (still 4.5:1 in the high-contrast presets)."""
    colour = QColor(colour)
    colour.setAlphaF(0.6)
    return colour


class TranscriptView(QTextEdit):
    """Read-only rich text: committed words, then the dimmed word in progress and draft."""

    def __init__(self, font_size: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setAcceptRichText(False)
        self.setFrameShape(QTextEdit.Shape.NoFrame)
        self.lines = 0  # lines shown; 0 = the whole transcript, scrolling
        self.set_font_size(font_size)
        self.document().setDocumentMargin(18)
        self._partial_at = 0  # where the in-progress tail starts
        self._draft_at = 0  # where the draft starts (after the word in progress)
        self._committed = QTextCharFormat()
        self._partial = QTextCharFormat()
        self._partial.setFontItalic(True)
        self._draft = QTextCharFormat()
        self._set_dimmed_colour()
        self._ends_paragraph = True  # the next committed word starts a paragraph
        self._last_word = ""  # the last committed word: what the next one is spaced from
        self._shown_before_draft = ""  # the partial, or the last committed word
        self.draft = ""  # the draft shown after the text
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

    def _set_dimmed_colour(self) -> None:
        colour = self.palette().color(QPalette.ColorRole.PlaceholderText)
        self._partial.setForeground(colour)
        self._draft.setForeground(colour)

    def at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def update_text(self, words: list[str], partial: str, new_paragraph: bool = False) -> None:
        """Append ``words`` (committed) and show ``partial`` after them, then the draft."""
        follow = self.at_bottom() or self.lines > 0
        cursor = self._tail_cursor(self._partial_at)
        if new_paragraph and self.document().characterCount() > 1:
            cursor.insertText("\n\n", self._committed)
            self._ends_paragraph = True
        for word in words:  # spaced as join_texts spaces them: none between CJK characters
            sep = "" if self._ends_paragraph else separator(self._last_word, word)
            cursor.insertText(sep + word, self._committed)
            self._ends_paragraph, self._last_word = False, word
        self._partial_at = cursor.position()
        self._shown_before_draft = "" if self._ends_paragraph else self._last_word
        if partial:
            sep = separator(self._shown_before_draft, partial)
            cursor.insertText(sep + partial, self._partial)
            self._shown_before_draft = partial
        self._draft_at = cursor.position()
        self._insert_draft(cursor)
        self._follow(follow)

    def set_draft(self, draft: str) -> None:
        """Show ``draft`` after the text, dimmed, instead of the one shown ("": none)."""
        if draft == self.draft:
            return
        follow = self.at_bottom() or self.lines > 0
        self.draft = draft
        self._insert_draft(self._tail_cursor(self._draft_at))
        self._follow(follow)

    def _tail_cursor(self, start: int) -> QTextCursor:
        """A cursor where ``start`` was, the text from there to the end removed."""
        cursor = QTextCursor(self.document())
        cursor.setPosition(start)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        return cursor

    def _insert_draft(self, cursor: QTextCursor) -> None:
        if self.draft:
            sep = separator(self._shown_before_draft, self.draft)
            cursor.insertText(sep + self.draft, self._draft)

    def _follow(self, follow: bool) -> None:
        # Following: stay on the newest words. Scrolled up: the view stays where the user is.
        self.follow = follow
        if follow:
            self._to_end()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self.lines:  # rewrapped to a new width: still on the newest line
            self._to_end()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        # Light/dark switched: the word in progress and the draft take the new dimmed colour.
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._set_dimmed_colour()
        elif event.type() == QEvent.Type.FontChange:
            self._fit_lines()

    def reset(self) -> None:
        self.clear()
        self._partial_at = self._draft_at = 0
        self._ends_paragraph = True
        self._shown_before_draft = self.draft = ""
