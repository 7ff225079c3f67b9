"""How captions are laid out when a recording has several sources (the microphone "You" and the
computer's audio "Others"), shared by the window and the overlay. Pure Python (no Qt, no MLX).

A recording's final words, in the order they came, make one row per run of one source, opened
by its label (``"You:"``): a new row whenever the speaker changes, as ``--mic --system-audio``
prints them. The speaker (the newest final word's source) has its word in progress and its
draft at the end of its row; another source's are a row of their own below it, opened by its
label, until that source's words become final. A recording of one source is one row without a
label, laid out exactly as before labels existed.

:func:`rows` makes the rows, :func:`lay_out` wraps them into the lines the overlay shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from voxtral_mlx.live.source_set import YOU
from voxtral_mlx.text.captions import Slice, line_text, wrap
from voxtral_mlx.text.transcript import Word, join_texts


@dataclass(frozen=True)
class ShownLines:
    """The overlay's last lines. ``lines``: the final words' lines up to the one that holds the
    newest final word (the last may be ""); ``partial``: the word in progress, ending that
    line; ``draft``: the draft on that line after them, then on each line below ("": none on
    that line; [] no draft). With no final text (``lines`` []) the draft's lines are all.
    ``labels``: with several sources, for each row as shown (``lines``, then ``draft[1:]``;
    all of ``draft`` when there are no lines) how many of its first characters are a source's
    label ("You:"), 0 for none; () for one source."""

    lines: list[str]
    partial: str = ""
    draft: list[str] = field(default_factory=list)
    labels: tuple[int, ...] = ()


@dataclass(frozen=True)
class Row:
    """A line before wrapping: ``texts`` in order, the first ``keep`` of them final (they keep
    the row in sight; the word in progress counts), ``partial`` the index of the word in
    progress (-1: none, or it is shown as draft); ``label`` the source's label that opens each
    of its lines (None: one source); ``anchor``: its first line stays in sight even with
    nothing final on it (the speaker's row, only a draft so far)."""

    texts: list[str]
    keep: int
    partial: int = -1
    label: str | None = None
    anchor: bool = False


def label_text(source: str) -> str:
    """A row's label as shown: ``"You:"`` (the text puts one space after it)."""
    return f"{source}:"


def is_labelled(words: Iterable[Word], *tails: Mapping[str | None, object]) -> bool:
    """Whether any of ``words`` or the sources in ``tails`` (dicts keyed by source) is labelled."""
    return any(w.source is not None for w in words) or any(k is not None for t in tails for k in t)


def runs(words: Sequence[Word]) -> list[tuple[str | None, list[Word]]]:
    """Consecutive words of one source, in the order given: (source, words) per run."""
    out: list[tuple[str | None, list[Word]]] = []
    for word in words:
        if out and out[-1][0] == word.source:
            out[-1][1].append(word)
        else:
            out.append((word.source, [word]))
    return out


def tail_order(speaker: str | None, sources: Iterable[str | None]) -> list[str | None]:
    """The sources with a word in progress or a draft, in the order their tails show: the
    speaker's first (on its own row), then the microphone's, then the others by label."""
    return sorted(set(sources), key=lambda s: (s != speaker, s != YOU, s or ""))


def rows(words: Sequence[Word], partials: Mapping[str | None, Word],
         drafts: Mapping[str | None, Sequence[Word]], with_draft: bool = True) -> list[Row]:  # fmt: skip
    """The rows of a recording's ``words`` (in the order they came), with each source's word
    in progress (``partials``) and draft (``drafts``; left out unless ``with_draft``)."""
    if not is_labelled(words, partials, drafts):
        return [_row([w.text for w in words], partials.get(None), drafts.get(None, ()), with_draft)]  # fmt: skip
    spoken = runs(words)
    tails = [s for s in (*partials, *drafts) if _has_tail(s, partials, drafts, with_draft)]
    speaker = spoken[-1][0] if spoken else tail_order(None, tails)[0] if tails else None
    out = [_row([w.text for w in ws], None, (), False, s) for s, ws in spoken[:-1]]
    last = [w.text for w in spoken[-1][1]] if spoken else []
    if spoken or speaker in tails:
        out.append(_row(last, partials.get(speaker), drafts.get(speaker, ()), with_draft, speaker))  # fmt: skip
    for source in tail_order(speaker, tails)[1:] if speaker in tails else tail_order(None, tails):
        partial = partials.get(source)
        texts = [partial.text] if partial is not None else []
        texts += [w.text for w in drafts.get(source, ())] if with_draft else []
        out.append(Row(texts, 0, -1, label_text(source)))  # all of it is shown like a draft
    return out


def _has_tail(source, partials, drafts, with_draft: bool) -> bool:
    partial = partials.get(source)
    return bool(partial is not None and partial.text.strip()) or bool(with_draft and drafts.get(source))  # fmt: skip


def _row(finals: list[str], partial: Word | None, draft: Sequence[Word], with_draft: bool,
         source: str | None = None) -> Row:  # fmt: skip
    texts = list(finals)
    at = len(texts) if partial is not None and partial.text.strip() else -1
    if at >= 0:
        texts.append(partial.text)
    keep = len(texts)
    texts += [w.text for w in draft] if with_draft else []
    label = None if source is None else label_text(source)
    return Row(texts, keep, at, label, anchor=label is not None)


def row_text(row: Row) -> str:
    """A row as the text reads (what Copy copies): ``"You: Hello wor"``."""
    return join_texts([row.label or "", *row.texts])


def lay_out(rows: Sequence[Row], max_lines: int, width: float,
            measure: Callable[[str], float]) -> ShownLines:  # fmt: skip
    """The last ``max_lines`` lines of ``rows``, each wrapped at ``width`` (each row starts a
    line, and each line of a labelled row opens with its label, so every line shown says who
    speaks): the line holding the newest final word stays in sight; what follows it (the
    draft, another source's row) takes the lines below, and is what is cut where room runs
    out."""
    wrapped = [(row, i, line) for row in rows for i, line in enumerate(_wrap(row, width, measure))]  # fmt: skip
    finals = [n for n, (row, i, line) in enumerate(wrapped) if line[0].word < row.keep or (row.anchor and not i)]  # fmt: skip
    newest = finals[-1] if finals else -1
    end = min(len(wrapped), newest + max_lines if finals else max_lines)
    shown = wrapped[max(0, end - max_lines) : end]
    labels = tuple(len(row.label or "") for row, _, _ in shown) if any(r.label for r in rows) else ()  # fmt: skip
    if not finals:
        return ShownLines([], "", [_labelled(row, line) for row, _, line in shown], labels)
    at = len(shown) - (end - newest)  # ``newest`` in ``shown``
    row, _, last = shown[at]
    lines = [_labelled(r, line) for r, _, line in shown[:at]]
    lines.append(_labelled(row, [p for p in last if p.word < row.keep and p.word != row.partial]))
    drafts = [line_text([p for p in last if p.word >= row.keep]).lstrip()]
    drafts += [_labelled(r, line) for r, _, line in shown[at + 1 :]]
    in_progress = "".join(p.text for p in last if p.word == row.partial)
    return ShownLines(lines, in_progress, drafts if any(drafts) else [], labels)


def _wrap(row: Row, width: float, measure: Callable[[str], float]) -> list[list[Slice]]:
    """A row's lines; a labelled row's are narrower by the label that opens each."""
    if row.label is None:
        return wrap(row.texts, width, measure)
    label = row.label
    return wrap(row.texts, width, lambda text: measure(join_texts([label, text])))


def _labelled(row: Row, line: Sequence[Slice]) -> str:
    """A line as shown: opened by its row's label, if any."""
    text = line_text(line)
    return text if row.label is None else join_texts([row.label, text])


__all__ = ["Row", "ShownLines", "is_labelled", "label_text", "lay_out", "row_text", "rows",
           "runs", "tail_order"]  # fmt: skip
