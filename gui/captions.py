"""What the window and the overlay show: committed words, the word still being built, and the
draft after them.

:class:`CaptionModel` is pure Python (no Qt, no MLX), fed
:class:`~voxtral_mlx.live.events.TextEvent` s and
:class:`~voxtral_mlx.live.events.DraftEvent` s on the GUI thread. Words that became final never
change; the word in progress (replaced on every event, cleared when a recording ends) and the
draft (the fast row's words after them, replaced by every DraftEvent, never saved) are kept per
source. Recordings (Start ... Stop) are kept apart: each starts its times at 0, so
:meth:`transcript` shifts later ones to follow the earlier ones, which gives one saveable
:class:`~voxtral_mlx.text.transcript.Transcript` of the final words shown.

Several sources at once (the microphone "You" and the computer's audio "Others"): the events'
``source`` labels the words; a recording's text is then a line per run of one source, opened
by its label, laid out by :mod:`gui.caption_rows`. One source: no label, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from voxtral_mlx.live.events import DraftEvent, TextEvent
from voxtral_mlx.text.captions import LINE_CHARS, MAX_LINES
from voxtral_mlx.text.drafts import draft_tail
from voxtral_mlx.text.transcript import Transcript, Word, join_words, round_ms, separator

from .caption_rows import ShownLines, is_labelled, lay_out, row_text, rows, runs, tail_order

RECORDING_GAP = 1.0  # seconds between recordings in a saved transcript
REFLOW_WORDS = 200  # the overlay wraps at most 3x this many words per update


class CaptionModel:
    def __init__(self) -> None:
        self.recordings: list[list[Word]] = []
        self.partials: dict[str | None, Word] = {}  # the word in progress, per source
        self.drafts: dict[str | None, tuple[Word, ...]] = {}  # the draft per source (never saved)
        self.recording = False  # the last recording still receives words

    # ---- updates ----------------------------------------------------------------------------
    def begin_recording(self) -> None:
        """A new recording starts; its words go into a new paragraph."""
        self.partials, self.drafts = {}, {}
        if not self.recordings or self.recordings[-1]:
            self.recordings.append([])
        self.recording = True

    def add(self, event: TextEvent) -> list[Word]:
        """Take one step's words (of ``event.source``); returns the newly committed ones, each
        labelled with the event's source."""
        if not self.recording:
            self.begin_recording()
        source = event.source
        words = [w if w.source == source else replace(w, source=source) for w in event.words]
        self.recordings[-1].extend(words)
        _put(self.partials, source, event.partial)
        # The final row has reached these draft words: its copy goes in the same update (the
        # DraftEvent that follows would, a moment later; until then a word would show twice).
        reached = [w for w in (*words, event.partial) if w is not None]
        _put(self.drafts, source, tuple(draft_tail(reached, self.draft_of(source))))
        return words

    def set_draft(self, event: DraftEvent) -> bool:
        """The draft of ``event.source`` to show now (it replaces its previous one); whether it
        changed."""
        if event.words and not self.recording:
            self.begin_recording()
        changed = tuple(event.words) != self.draft_of(event.source)
        _put(self.drafts, event.source, tuple(event.words))
        return changed

    def load(self, words: list[Word]) -> None:
        """An earlier, finished recording as a paragraph of its own."""
        self.recordings.append(list(words))
        self.partials, self.drafts, self.recording = {}, {}, False

    def end_recording(self) -> None:
        self.partials, self.drafts = {}, {}
        self.recording = False

    def clear(self) -> None:
        self.recordings = [[]] if self.recording else []
        self.partials, self.drafts = {}, {}

    # ---- views ------------------------------------------------------------------------------
    @property
    def words(self) -> list[Word]:
        return [w for rec in self.recordings for w in rec]

    @property
    def is_empty(self) -> bool:
        return not self.words and not self.partials and not self.drafts

    @property
    def speaker(self) -> str | None:
        """The source of the newest line: the newest final word's in this recording, else the
        first one with a word in progress or a draft; None with one source."""
        current = self.recordings[-1] if self.recordings else []
        if current:
            return current[-1].source
        return next(iter(tail_order(None, [*self.partials, *self.drafts])), None)

    @property
    def partial(self) -> Word | None:
        """The speaker's word in progress (with one source: the word in progress)."""
        return self.partials.get(self.speaker)

    @property
    def draft(self) -> tuple[Word, ...]:
        """The speaker's draft (with one source: the draft)."""
        return self.draft_of(self.speaker)

    def partial_of(self, source: str | None) -> Word | None:
        return self.partials.get(source)

    def draft_of(self, source: str | None) -> tuple[Word, ...]:
        return self.drafts.get(source, ())

    def partial_text_of(self, source: str | None) -> str:
        partial = self.partials.get(source)
        return partial.text if partial else ""

    def draft_text_of(self, source: str | None) -> str:
        return join_words(self.draft_of(source))

    @property
    def sources(self) -> list[str | None]:
        """The sources of the current recording (its words, words in progress and drafts)."""
        current = self.recordings[-1] if self.recordings else []
        return list(dict.fromkeys([*(w.source for w in current), *self.partials, *self.drafts]))

    def paragraphs(self) -> list[str]:
        """Each recording's text: a line per run of one source (``"You: ..."``) when labelled."""
        return [_paragraph(rec) for rec in self.recordings if rec]

    @property
    def committed_text(self) -> str:
        return "\n\n".join(self.paragraphs())

    @property
    def partial_text(self) -> str:
        return self.partial_text_of(self.speaker)

    @property
    def draft_text(self) -> str:
        return self.draft_text_of(self.speaker)

    @property
    def text(self) -> str:
        """Everything shown, the words in progress and the drafts included (what Copy copies)."""
        tail = self.recordings[-1] if self.recordings else []
        last = "\n".join(row_text(row) for row in rows(tail, self.partials, self.drafts))
        return "\n\n".join([*self.paragraphs()[: -1 if tail else None], last]).strip()

    def lines(
        self,
        max_lines: int = MAX_LINES,
        width: float = LINE_CHARS,
        measure: Callable[[str], float] = len,
    ) -> tuple[list[str], str]:
        """The last ``max_lines`` lines of the current recording, each at most ``width`` wide as
        ``measure`` gives it (characters by default, pixels from the overlay), laid out by
        :func:`~voxtral_mlx.text.captions.wrap`, and the word in progress apart: it ends the
        last line (which may be empty), joined by :func:`separator`. The draft is left out
        (:meth:`shown_lines` has it).

        A word wider than a line is cut, so the newest words are always on the last line.
        Wrapping starts at a point that moves only every ``REFLOW_WORDS`` words: lines stay put
        as words come."""
        shown = self.shown_lines(max_lines, width, measure, draft=False)
        return shown.lines, shown.partial

    def shown_lines(
        self,
        max_lines: int = MAX_LINES,
        width: float = LINE_CHARS,
        measure: Callable[[str], float] = len,
        draft: bool = True,
    ) -> ShownLines:
        """:meth:`lines` with the draft after the text, wrapped with it by the same layout. The
        final words break where they would without it (the wrap is greedy) and the line with
        the newest of them stays in sight; the draft takes the rest of that line and the lines
        below, up to ``max_lines``: where room runs out, it is the draft that is cut. With
        several sources each run of one source starts a line with its label, and another
        source's word in progress and draft are a line of their own below
        (:mod:`gui.caption_rows`)."""
        current = self.recordings[-1] if self.recordings else []
        start = max(0, len(current) - 2 * REFLOW_WORDS) // REFLOW_WORDS * REFLOW_WORDS
        laid = rows(current[start:], self.partials, self.drafts, with_draft=draft)
        return lay_out(laid, max_lines, width, measure)

    def transcript(self, **metadata) -> Transcript:
        """All recordings as one transcript, each shifted to start after the previous one ends
        (its latest word's end: two sources' words are not in time order). Words keep their
        source labels."""
        words: list[Word] = []
        offset = 0.0
        for rec in self.recordings:
            if not rec:
                continue
            words += [
                replace(w, start=round_ms(w.start + offset), end=round_ms(w.end + offset))
                for w in rec
            ]
            offset = max(w.end for w in words) + RECORDING_GAP
        duration = max((w.end for w in words), default=0.0)
        return Transcript.from_words(words, duration=duration, metadata=metadata)


def _put(tails: dict, source: str | None, value) -> None:
    """Set a source's word in progress or draft; None or empty removes it."""
    if value:
        tails[source] = value
    else:
        tails.pop(source, None)


def _paragraph(words: list[Word]) -> str:
    if not is_labelled(words):
        return join_words(words)
    return "\n".join(row_text(row) for row in rows(words, {}, {}))


def shown_order(transcript: Transcript) -> list[Word]:
    """A transcript's words in the order to show them: a labelled one's by its turns (its
    segments are in time order and never mix sources), which reads better than by word."""
    if not transcript.labelled or not all(s.words for s in transcript.segments):
        return list(transcript.words)
    return [w for segment in transcript.segments for w in segment.words]


# separator: the text's spacing rule (voxtral_mlx.text.transcript), also the views' to use.
__all__ = ["RECORDING_GAP", "REFLOW_WORDS", "CaptionModel", "ShownLines", "runs", "separator",
           "shown_order"]  # fmt: skip
