"""What the window and the overlay show: committed words plus the word still being built.

:class:`CaptionModel` is pure Python (no Qt, no MLX), fed :class:`~voxtral_mlx.live.events.TextEvent`
s on the GUI thread. Words that became final never change; ``partial`` is the word in progress
(replaced on every event, cleared when a recording ends). Recordings (Start ... Stop) are kept
apart: each starts its times at 0, so :meth:`transcript` shifts later ones to follow the earlier
ones, which gives one saveable :class:`~voxtral_mlx.text.transcript.Transcript` of all that is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from voxtral_mlx.live.events import TextEvent
from voxtral_mlx.text.transcript import Transcript, Word, join_texts, join_words, segment_words

RECORDING_GAP = 1.0  # seconds between recordings in a saved transcript
REFLOW_WORDS = 200  # the overlay wraps at most 3x this many words per update

Fragment = tuple[str, bool]  # text (with the space before it, if any), part of the word in progress


class CaptionModel:
    def __init__(self) -> None:
        self.recordings: list[list[Word]] = []
        self.partial: Word | None = None
        self.recording = False  # the last recording still receives words

    # ---- updates ----------------------------------------------------------------------------
    def begin_recording(self) -> None:
        """A new recording starts; its words go into a new paragraph."""
        self.partial = None
        if not self.recordings or self.recordings[-1]:
            self.recordings.append([])
        self.recording = True

    def add(self, event: TextEvent) -> list[Word]:
        """Take one step's words; returns the newly committed ones."""
        if not self.recording:
            self.begin_recording()
        self.recordings[-1].extend(event.words)
        self.partial = event.partial
        return list(event.words)

    def load(self, words: list[Word]) -> None:
        """An earlier, finished recording as a paragraph of its own."""
        self.recordings.append(list(words))
        self.partial, self.recording = None, False

    def end_recording(self) -> None:
        self.partial = None
        self.recording = False

    def clear(self) -> None:
        self.recordings = [[]] if self.recording else []
        self.partial = None

    # ---- views ------------------------------------------------------------------------------
    @property
    def words(self) -> list[Word]:
        return [w for rec in self.recordings for w in rec]

    @property
    def is_empty(self) -> bool:
        return not self.words and self.partial is None

    def paragraphs(self) -> list[str]:
        return [join_words(rec) for rec in self.recordings if rec]

    @property
    def committed_text(self) -> str:
        return "\n\n".join(self.paragraphs())

    @property
    def partial_text(self) -> str:
        return self.partial.text if self.partial else ""

    @property
    def text(self) -> str:
        """Everything shown, the word in progress included (what Copy copies)."""
        tail = self.recordings[-1] if self.recordings else []
        words = tail + ([self.partial] if self.partial else [])
        last = join_words(words)
        return "\n\n".join([*self.paragraphs()[: -1 if tail else None], last]).strip()

    def lines(
        self, max_lines: int = 2, width: float = 42, measure: Callable[[str], float] = len
    ) -> tuple[list[str], str]:
        """The last ``max_lines`` lines of the current recording, each at most ``width`` wide as
        ``measure`` (characters by default, pixels from the overlay) gives it, and the word in
        progress apart: it ends the last line (which may be empty), joined by :func:`separator`.

        Lines break between words, anywhere in Chinese/Japanese (no spaces there), and inside a
        word wider than a line, so the newest words are always on the last line. Wrapping starts
        at a point that moves only every ``REFLOW_WORDS`` words: lines stay put as words come."""
        current = self.recordings[-1] if self.recordings else []
        start = max(0, len(current) - 2 * REFLOW_WORDS) // REFLOW_WORDS * REFLOW_WORDS
        pieces = [(w.text, False) for w in current[start:]]
        if self.partial and self.partial.text.strip():
            pieces.append((self.partial.text, True))
        wrapped = _wrap(pieces, width, measure)[-max_lines:]
        if not wrapped:
            return [], ""
        lines = ["".join(text for text, _ in line) for line in wrapped[:-1]]
        last = wrapped[-1]
        lines.append("".join(text for text, partial in last if not partial))
        return lines, "".join(text for text, partial in last if partial).lstrip()

    def transcript(self, **metadata) -> Transcript:
        """All recordings as one transcript, each shifted to start after the previous one."""
        words: list[Word] = []
        offset = 0.0
        for rec in self.recordings:
            if not rec:
                continue
            words += [
                replace(w, start=round(w.start + offset, 3), end=round(w.end + offset, 3))
                for w in rec
            ]
            offset = words[-1].end + RECORDING_GAP
        duration = words[-1].end if words else 0.0
        return Transcript(words=words, segments=segment_words(words), duration=duration,
                          metadata=dict(metadata))  # fmt: skip


def separator(before: str, after: str) -> str:
    """What goes between two words as :func:`~voxtral_mlx.text.transcript.join_texts` joins them:
    one space, or none between Chinese/Japanese characters."""
    before, after = before.strip(), after.strip()
    if not before or not after:
        return ""
    return join_texts([before[-1], after[0]])[1:-1]


def _wrap(
    pieces: list[Fragment], width: float, measure: Callable[[str], float]
) -> list[list[Fragment]]:
    """Greedy wrap of words into lines no wider than ``width``. A word that does not fit goes to
    the next line, unless it can break anywhere (CJK) or is wider than a line by itself: then
    it fills the line and goes on in the next."""
    lines: list[list[Fragment]] = []
    line: list[Fragment] = []
    text, previous = "", ""
    for word, partial in pieces:
        word = " ".join(word.split())
        gap = separator(previous, word) if line else ""
        previous = word
        if measure(text + gap + word) <= width:
            line.append((gap + word, partial))
            text += gap + word
            continue
        if not (_breaks_anywhere(word) or measure(word) > width) and line:
            lines.append(line)
            line, text, gap = [], "", ""
        while word:
            count = _fitting_chars(text + gap, word, width, measure, at_least=0 if line else 1)
            if count:
                line.append((gap + word[:count], partial))
                text += gap + word[:count]
            word, gap = word[count:], ""
            if word:
                lines.append(line)
                line, text = [], ""
    if line:
        lines.append(line)
    return lines


def _breaks_anywhere(word: str) -> bool:
    # Chinese/Japanese runs: no space is written between their characters, a line breaks anywhere.
    return len(word) > 1 and separator(word[-1], word[0]) == ""


def _fitting_chars(
    prefix: str, word: str, width: float, measure: Callable[[str], float], at_least: int
) -> int:
    """How many leading characters of ``word`` fit after ``prefix`` (binary search)."""
    low, high = at_least, len(word)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(prefix + word[:middle]) <= width:
            low = middle
        else:
            high = middle - 1
    return low
