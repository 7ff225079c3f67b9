"""The transcript view: the main window's text, updated word by word. GUI thread only.

Committed words are appended in the normal colour; the word in progress (italic) and the draft
after it are the document's dimmed tail, replaced on every step and every new draft, so no old
copy stays behind and the committed text above never moves. It follows the text while its
scroll bar is at the bottom and stays put once the user scrolls up (scrolling back down resumes
following). With "lines shown" set (N > 0) it is a caption strip instead: N lines high, no
scroll bar, always on the newest words.

Words with a source label (several sources at once: "You", "Others") go on a line per run of
one source, opened by the label in bold; the speaker's word in progress and draft end its line,
another source's are a dimmed line of their own below it (as :mod:`gui.caption_rows` lays them
out, so the view reads as :attr:`gui.captions.CaptionModel.text`). Words without a label are
shown exactly as before labels existed.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QFont, QPalette, QResizeEvent, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QApplication, QTextEdit, QWidget

from .caption_rows import label_text, tail_order
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
        self._partial_at = 0  # where the in-progress tail (words in progress, drafts) starts
        self._committed = QTextCharFormat()
        self._label = QTextCharFormat()
        self._label.setFontWeight(QFont.Weight.Bold)
        self._partial = QTextCharFormat()
        self._partial.setFontItalic(True)
        self._draft = QTextCharFormat()
        self._tail_label = QTextCharFormat()  # another source's label on its pending line
        self._tail_label.setFontWeight(QFont.Weight.Bold)
        self._set_dimmed_colour()
        self._ends_paragraph = True  # the next committed word starts a paragraph
        self._last_word = ""  # the last committed word (or label): what the next is spaced from
        self._line_source: str | None = None  # the source of the line being written (labelled)
        self._tails: dict[str | None, tuple[str, str]] = {}  # source: (word in progress, draft)
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
        for fmt in (self._partial, self._draft, self._tail_label):
            fmt.setForeground(colour)

    def at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    @property
    def draft(self) -> str:
        """The draft shown after the text (with labels: the speaker's)."""
        return self._tails.get(self._line_source, ("", ""))[1]

    def update_text(self, words: list[str], partial: str, new_paragraph: bool = False,
                    source: str | None = None) -> None:  # fmt: skip
        """Append ``words`` (committed, of ``source``: a label, or None for one source) and
        show ``partial`` (that source's word in progress) after them, then the drafts."""
        follow = self.at_bottom() or self.lines > 0
        cursor = self._tail_cursor(self._partial_at)
        if new_paragraph and self.document().characterCount() > 1:
            cursor.insertText("\n\n", self._committed)
            self._ends_paragraph, self._line_source = True, None
        for word in words:  # spaced as join_texts spaces them: none between CJK characters
            if source is not None and source != self._line_source:
                self._open_line(cursor, source, self._label)
                self._line_source, self._ends_paragraph = source, False
            sep = "" if self._ends_paragraph else separator(self._last_word, word)
            cursor.insertText(sep + word, self._committed)
            self._ends_paragraph, self._last_word = False, word
        self._partial_at = cursor.position()
        self._tails[source] = (partial, self._tails.get(source, ("", ""))[1])
        self._insert_tails(cursor)
        self._follow(follow)

    def set_draft(self, draft: str, source: str | None = None) -> None:
        """Show ``draft`` (of ``source``) after its text, dimmed, instead of the one shown
        ("": none)."""
        partial, shown = self._tails.get(source, ("", ""))
        if draft == shown:
            return
        follow = self.at_bottom() or self.lines > 0
        self._tails[source] = (partial, draft)
        self._insert_tails(self._tail_cursor(self._partial_at))
        self._follow(follow)

    def _open_line(self, cursor: QTextCursor, source: str, label: QTextCharFormat) -> None:
        """A new line opened by ``source``'s label (none before it at a paragraph's start)."""
        if not self._ends_paragraph:
            cursor.insertText("\n", self._committed)
        cursor.insertText(label_text(source), label)
        self._last_word = label_text(source)

    def _tail_cursor(self, start: int) -> QTextCursor:
        """A cursor where ``start`` was, the text from there to the end removed."""
        cursor = QTextCursor(self.document())
        cursor.setPosition(start)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        return cursor

    def _insert_tails(self, cursor: QTextCursor) -> None:
        """Each source's word in progress and draft: the line's source's after its words,
        another's on a line of its own opened by its label (several sources)."""
        line, at_start, last = self._line_source, self._ends_paragraph, self._last_word
        shown = [s for s, (partial, draft) in self._tails.items() if partial or draft]
        for source in tail_order(line, shown):
            partial, draft = self._tails[source]
            before = "" if at_start else last
            if source != line:  # (several sources) another source's line, below
                if not at_start:
                    cursor.insertText("\n", self._draft)
                cursor.insertText(label_text(source), self._tail_label)
                before = label_text(source)
            for text, fmt in ((partial, self._partial), (draft, self._draft)):
                if text:
                    cursor.insertText(separator(before, text) + text, fmt)
                    before = text
            at_start = False

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
        self._partial_at = 0
        self._ends_paragraph, self._last_word, self._line_source = True, "", None
        self._tails = {}
