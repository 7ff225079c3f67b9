"""The one caption layout: words -> lines, for subtitle cues, the overlay and the terminal.

Pure Python, no MLX (the GUI imports it). The policy, in :func:`wrap`: lines are filled greedily;
words are joined as :func:`~voxtral_mlx.text.transcript.join_texts` joins them (one space, none
between Chinese/Japanese characters); a word that does not fit goes to the next line, whole; a
word wider than a line by itself fills the rest of the line and goes on in the next, cut where
the width runs out. Width is whatever ``measure`` returns: characters for subtitles, pixels for
the overlay (Qt measures), terminal cells for ``--mic``.

Each surface adds only its own view: :func:`caption_lines` groups lines into timed subtitle cues
of balanced lines, one source's words each; the overlay (:meth:`gui.captions.CaptionModel.lines`) shows the last lines;
the terminal, which prints words as they come and never takes one back, asks :func:`fits`
before each word (and does not cut words: the terminal wraps a long one itself).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from voxtral_mlx.text.transcript import Segment, Word, label_prefix, round_ms, separator

LINE_CHARS = 42  # subtitle convention (Netflix, BBC): 2 lines of at most 42 characters
MAX_LINES = 2

Measure = Callable[[str], float]


@dataclass(frozen=True)
class Slice:
    """A word as placed on a line, or a slice of one wider than a line.

    ``word``: the index of its word in the list given to :func:`wrap`; ``at``: where the slice
    starts in that word (characters); ``gap``: what goes before it on its line ("" first on a
    line, between Chinese/Japanese characters and inside a cut word, else one space).
    """

    word: int
    at: int
    text: str
    gap: str


def fits(line: str, word: str, width: float, measure: Measure = len) -> bool:
    """Whether ``word`` goes on after ``line`` (``""``: a line of its own) within ``width``,
    joined as the text joins them: the layout's one line-breaking test."""
    return measure(line + separator(line, word) + word) <= width


def wrap(words: Sequence[str], width: float, measure: Measure = len) -> list[list[Slice]]:
    """Lay ``words`` out in lines no wider than ``width`` as ``measure`` gives it (the policy
    above). Contract: every word's slices, in order, spell it exactly (whitespace normalised;
    an empty word gives none); words stay in order; no line is wider than ``width`` unless it
    is a single character that is; a line ends only before a word that does not fit after it
    (:func:`fits`) or inside a word wider than a line."""
    lines: list[list[Slice]] = []
    line: list[Slice] = []
    text = ""
    for index, word in enumerate(words):
        word = " ".join(word.split())
        if not word:
            continue
        gap = separator(text, word)
        if fits(text, word, width, measure):
            line.append(Slice(index, 0, word, gap))
            text += gap + word
            continue
        if fits("", word, width, measure):  # a line of its own
            lines.append(line)
            line, text = [Slice(index, 0, word, "")], word
            continue
        at = 0  # wider than a line: it fills this one and goes on in the next
        while at < len(word):
            count = _fitting_chars(text + gap, word[at:], width, measure, 0 if line else 1)
            if count:
                line.append(Slice(index, at, word[at : at + count], gap))
                text += gap + word[at : at + count]
            at, gap = at + count, ""
            if at < len(word):
                lines.append(line)
                line, text = [], ""
    if line:
        lines.append(line)
    return lines


def line_text(line: Sequence[Slice]) -> str:
    """A line as it reads: its slices with the gaps between them."""
    return "".join(piece.gap + piece.text for piece in line)


def _fitting_chars(prefix: str, word: str, width: float, measure: Measure, at_least: int) -> int:
    """How many leading characters of ``word`` fit after ``prefix``: galloping, then a binary
    search, so only strings up to twice what fits are measured. (A binary search over the whole
    word measured it all at every line: a word of thousands of characters, which a model fed
    noise can write, froze the overlay's thread for seconds.)"""
    low, high = at_least, at_least + 1
    while high <= len(word) and measure(prefix + word[:high]) <= width:
        low, high = high, 2 * high
    high = min(high, len(word) + 1) - 1  # the largest count not known to overflow
    while low < high:
        middle = (low + high + 1) // 2
        if measure(prefix + word[:middle]) <= width:
            low = middle
        else:
            high = middle - 1
    return low


@dataclass(frozen=True)
class Caption:
    """One subtitle cue: at most ``max_lines`` lines of at most ``line_chars`` characters.
    ``source``: the label of who speaks in it (a cue holds one segment's words, so never two
    sources), else None; ``lines`` hold the words only, the writers add the label."""

    start: float
    end: float
    lines: tuple[str, ...]
    source: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def caption_lines(
    segments: Sequence[Segment], line_chars: int = LINE_CHARS, max_lines: int = MAX_LINES
) -> list[Caption]:
    """Lay segments out as subtitle cues of at most ``max_lines`` balanced lines of at most
    ``line_chars`` characters: a segment's words are wrapped (:func:`wrap`) and every
    ``max_lines`` lines make a cue, timed by its words; a slice of a word cut across lines or
    cues gets the word's time shared out by characters. A labelled segment's lines are
    narrower by its label's prefix (``"You: "``), so the first line still fits once a writer
    adds it (yet never under half of ``line_chars``, for a label that long)."""
    captions: list[Caption] = []
    for segment in segments:
        words = segment.words
        if not words:  # a hand-made segment without word times: share its time out by characters
            words = _spread(segment.text.split(), segment.start, segment.end)
        width = _width(line_chars, segment.source)
        lines = wrap([word.text for word in words], width)
        for first in range(0, len(lines), max_lines):
            cue = [piece for line in lines[first : first + max_lines] for piece in line]
            start = _time_at(words[cue[0].word], cue[0].at)
            end = _time_at(words[cue[-1].word], cue[-1].at + len(cue[-1].text))
            balanced = tuple(_balanced(cue, width))
            captions.append(Caption(start, end, balanced, segment.source))
    return captions


def _width(line_chars: int, source: str | None) -> int:
    """Line width for a segment: room left for its label on the cue's first line."""
    if source is None:
        return line_chars
    return max(line_chars - len(label_prefix(source)), line_chars // 2)


def _spread(texts: list[str], start: float, end: float) -> list[Word]:
    """Share ``start..end`` out over ``texts`` in proportion to their lengths."""
    total = sum(len(text) for text in texts) or 1
    words, done = [], 0
    for text in texts:
        t0 = start + (end - start) * done / total
        done += len(text)
        t1 = start + (end - start) * done / total
        words.append(Word(text, round_ms(t0), round_ms(t1)))
    return words


def _time_at(word: Word, at: int) -> float:
    """The time ``at`` characters into ``word``, its time shared out by characters."""
    return round_ms(word.start + (word.end - word.start) * at / (len(word.text) or 1))


def _balanced(cue: Sequence[Slice], line_chars: int) -> list[str]:
    """The cue's lines, as many as at ``line_chars``, with the narrowest width that keeps that
    many (no narrower than its widest slice, so no word is cut where it was not)."""
    portions: list[str] = []  # each word's part in this cue, in order
    for index, piece in enumerate(cue):
        if index and piece.word == cue[index - 1].word:
            portions[-1] += piece.text
        else:
            portions.append(piece.text)
    target = len(wrap(portions, line_chars))
    widest = max(len(piece.text) for piece in cue)
    width = line_chars
    while width > widest and len(wrap(portions, width - 1)) <= target:
        width -= 1
    return [line_text(line) for line in wrap(portions, width)]


__all__ = [
    "LINE_CHARS",
    "MAX_LINES",
    "Caption",
    "Slice",
    "caption_lines",
    "fits",
    "line_text",
    "wrap",
]
