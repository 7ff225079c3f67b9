"""What the caption overlay's label shows, as rich text: the final lines (older ones fainter),
the word in progress ending the newest, then the draft after it and on the lines below, dimmed
more than any final text. Pure formatting (no widgets); the lines come from
:meth:`gui.captions.CaptionModel.shown_lines`, already wrapped to the overlay's width.
"""

from __future__ import annotations

import html

from PySide6.QtGui import QColor

from voxtral_mlx.text.transcript import separator

LINE_ALPHAS = (1.0, 0.8, 0.6)  # newest line first: older lines fade
PARTIAL_ALPHA = 0.6  # the word in progress
DRAFT_ALPHA = 0.45  # the draft: fainter than any final text


def rgba(colour: str, alpha: float) -> str:
    """``colour`` (a Qt colour name) at ``alpha``, as a style sheet's ``rgba(...)``."""
    c = QColor(colour)
    return f"rgba({c.red()},{c.green()},{c.blue()},{alpha})"


def span(text: str, colour: str, alpha: float) -> str:
    return f'<span style="color: {rgba(colour, alpha)}">{html.escape(text)}</span>'


def caption_html(lines: list[str], partial: str, draft: list[str], colour: str) -> str:
    """Rows joined by ``<br>``. ``draft[0]`` goes on the newest line after ``partial`` and the
    rest below it; with no ``lines``, every draft line is a row of its own (ShownLines)."""
    ages = range(len(lines) - 1, -1, -1)  # the newest line is age 0
    rows = [span(line, colour, LINE_ALPHAS[min(age, len(LINE_ALPHAS) - 1)])
            for line, age in zip(lines, ages, strict=True)]  # fmt: skip
    drafts = draft if lines else ["", *draft]  # [0]: on the newest line
    shown, after = lines[-1] if lines else "", ""
    for text, alpha in ((partial, PARTIAL_ALPHA), (drafts[0] if drafts else "", DRAFT_ALPHA)):
        if text:  # spaced as the layout spaced it: none between Chinese/Japanese characters
            after += separator(shown, text) + span(text, colour, alpha)
            shown = text
    if after and rows:
        rows[-1] += after
    elif after:
        rows.append(after)
    rows += [span(line, colour, DRAFT_ALPHA) for line in drafts[1:]]
    return "<br>".join(rows)


__all__ = ["DRAFT_ALPHA", "LINE_ALPHAS", "PARTIAL_ALPHA", "caption_html", "rgba"]
