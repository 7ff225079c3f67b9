"""What the window and the overlay show: committed words, the word still being built, and the
draft after them.

:class:`CaptionModel` is pure Python (no Qt, no MLX), fed
:class:`~voxtral_mlx.live.events.TextEvent` s and
:class:`~voxtral_mlx.live.events.DraftEvent` s on the GUI thread. Words that became final never
change; ``partial`` is the word in progress (replaced on every event, cleared when a recording
ends); ``draft`` the fast row's words after them (replaced by every DraftEvent, never saved).
Recordings (Start ... Stop) are kept apart: each starts its times at 0, so :meth:`transcript`
shifts later ones to follow the earlier ones, which gives one saveable
:class:`~voxtral_mlx.text.transcript.Transcript` of the final words shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from voxtral_mlx.live.events import DraftEvent, TextEvent
from voxtral_mlx.text.captions import LINE_CHARS, MAX_LINES, line_text, wrap
from voxtral_mlx.text.drafts import draft_tail
from voxtral_mlx.text.transcript import Transcript, Word, join_words, round_ms, separator

RECORDING_GAP = 1.0  # seconds between recordings in a saved transcript
REFLOW_WORDS = 200  # the overlay wraps at most 3x this many words per update


@dataclass(frozen=True)
class ShownLines:
    """The overlay's last lines. ``lines``: the final words' lines up to the one that holds the
    newest final word (the last may be ""); ``partial``: the word in progress, ending that
    line; ``draft``: the draft on that line after them, then on each line below ("": none on
    that line; [] no draft). With no final text (``lines`` []) the draft's lines are all."""

    lines: list[str]
    partial: str = ""
    draft: list[str] = field(default_factory=list)


class CaptionModel:
    def __init__(self) -> None:
        self.recordings: list[list[Word]] = []
        self.partial: Word | None = None
        self.draft: tuple[Word, ...] = ()  # the draft shown after the text (never saved)
        self.recording = False  # the last recording still receives words

    # ---- updates ----------------------------------------------------------------------------
    def begin_recording(self) -> None:
        """A new recording starts; its words go into a new paragraph."""
        self.partial, self.draft = None, ()
        if not self.recordings or self.recordings[-1]:
            self.recordings.append([])
        self.recording = True

    def add(self, event: TextEvent) -> list[Word]:
        """Take one step's words; returns the newly committed ones."""
        if not self.recording:
            self.begin_recording()
        self.recordings[-1].extend(event.words)
        self.partial = event.partial
        # The final row has reached these draft words: its copy goes in the same update (the
        # DraftEvent that follows would, a moment later; until then a word would show twice).
        reached = [w for w in (*event.words, event.partial) if w is not None]
        self.draft = tuple(draft_tail(reached, self.draft))
        return list(event.words)

    def set_draft(self, event: DraftEvent) -> bool:
        """The draft to show now (it replaces the previous one); whether it changed."""
        if event.words and not self.recording:
            self.begin_recording()
        changed = event.words != self.draft
        self.draft = event.words
        return changed

    def load(self, words: list[Word]) -> None:
        """An earlier, finished recording as a paragraph of its own."""
        self.recordings.append(list(words))
        self.partial, self.draft, self.recording = None, (), False

    def end_recording(self) -> None:
        self.partial, self.draft = None, ()
        self.recording = False

    def clear(self) -> None:
        self.recordings = [[]] if self.recording else []
        self.partial, self.draft = None, ()

    # ---- views ------------------------------------------------------------------------------
    @property
    def words(self) -> list[Word]:
        return [w for rec in self.recordings for w in rec]

    @property
    def is_empty(self) -> bool:
        return not self.words and self.partial is None and not self.draft

    def paragraphs(self) -> list[str]:
        return [join_words(rec) for rec in self.recordings if rec]

    @property
    def committed_text(self) -> str:
        return "\n\n".join(self.paragraphs())

    @property
    def partial_text(self) -> str:
        return self.partial.text if self.partial else ""

    @property
    def draft_text(self) -> str:
        return join_words(self.draft)

    @property
    def text(self) -> str:
        """Everything shown, the word in progress and the draft included (what Copy copies)."""
        tail = self.recordings[-1] if self.recordings else []
        words = tail + ([self.partial] if self.partial else [])
        last = join_words([*words, *self.draft])
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
        below, up to ``max_lines``: where room runs out, it is the draft that is cut."""
        current = self.recordings[-1] if self.recordings else []
        start = max(0, len(current) - 2 * REFLOW_WORDS) // REFLOW_WORDS * REFLOW_WORDS
        words = [w.text for w in current[start:]]
        partial = len(words) if self.partial and self.partial.text.strip() else -1
        if partial >= 0:
            words.append(self.partial.text)
        first_draft = len(words)
        words += [w.text for w in self.draft] if draft else []
        wrapped = wrap(words, width, measure)
        # The line holding the newest final word or the partial stays in sight (-1: only a draft).
        finals = [i for i, line in enumerate(wrapped) if line[0].word < first_draft]
        newest = finals[-1] if finals else -1
        end = min(len(wrapped), newest + max_lines if finals else max_lines)
        shown = wrapped[max(0, end - max_lines) : end]
        if not finals:
            return ShownLines([], "", [line_text(line) for line in shown])
        at = len(shown) - (end - newest)  # ``newest`` in ``shown``
        last = shown[at]
        lines = [line_text(line) for line in shown[:at]]
        lines.append(line_text([p for p in last if p.word < first_draft and p.word != partial]))
        drafts = [line_text([p for p in last if p.word >= first_draft]).lstrip()]
        drafts += [line_text(line) for line in shown[at + 1 :]]
        in_progress = "".join(p.text for p in last if p.word == partial)
        return ShownLines(lines, in_progress, drafts if any(drafts) else [])

    def transcript(self, **metadata) -> Transcript:
        """All recordings as one transcript, each shifted to start after the previous one."""
        words: list[Word] = []
        offset = 0.0
        for rec in self.recordings:
            if not rec:
                continue
            words += [
                replace(w, start=round_ms(w.start + offset), end=round_ms(w.end + offset))
                for w in rec
            ]
            offset = words[-1].end + RECORDING_GAP
        duration = words[-1].end if words else 0.0
        return Transcript.from_words(words, duration=duration, metadata=metadata)


# separator: the text's spacing rule (voxtral_mlx.text.transcript), also the views' to use.
__all__ = ["RECORDING_GAP", "REFLOW_WORDS", "CaptionModel", "separator"]
