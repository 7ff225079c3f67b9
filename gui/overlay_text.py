"""What the caption overlay's label shows, as rich text: the final lines (older ones fainter),
the word in progress ending the newest, then the draft after it and on the lines below, dimmed
more than any final text; with several sources, each source's label ("You:") opening its
lines in bold. Pure formatting (no widgets); the lines come from
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


def span(text: str, colour: str, alpha: float, label: int = 0) -> str:
    """``text`` in ``colour`` at ``alpha``, its first ``label`` characters (a source's label)
    in bold."""
    bold = f"<b>{html.escape(text[:label])}</b>" if label else ""
    return f'<span style="color: {rgba(colour, alpha)}">{bold}{html.escape(text[label:])}</span>'


def caption_html(lines: list[str], partial: str, draft: list[str], colour: str,
                 labels: tuple[int, ...] = ()) -> str:  # fmt: skip
    """Rows joined by ``<br>``. ``draft[0]`` goes on the newest line after ``partial`` and the
    rest below it; with no ``lines``, every draft line is a row of its own (ShownLines).
    ``labels``: per row, how many first characters are a source's label (ShownLines)."""
    ages = range(len(lines) - 1, -1, -1)  # the newest line is age 0
    label = [*labels, *[0] * (len(lines) + len(draft))]
    rows = [span(line, colour, LINE_ALPHAS[min(age, len(LINE_ALPHAS) - 1)], label[i])
            for i, (line, age) in enumerate(zip(lines, ages, strict=True))]  # fmt: skip
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
    below = len(rows)  # the rows' index of the first draft line below
    rows += [span(line, colour, DRAFT_ALPHA, label[below + i]) for i, line in enumerate(drafts[1:])]  # fmt: skip
    return "<br>".join(rows)


__all__ = ["DRAFT_ALPHA", "LINE_ALPHAS", "PARTIAL_ALPHA", "caption_html", "rgba"]
