"""What the window and the overlay show: committed words plus the word still being built.

:class:`CaptionModel` is pure Python (no Qt, no MLX), fed
:class:`~voxtral_mlx.live.events.TextEvent` s on the GUI thread. Words that became final never
change; ``partial`` is the word in progress (replaced on every event, cleared when a recording
ends). Recordings (Start ... Stop) are kept apart: each starts its times at 0, so
:meth:`transcript` shifts later ones to follow the earlier ones, which gives one saveable
:class:`~voxtral_mlx.text.transcript.Transcript` of all that is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from voxtral_mlx.live.events import TextEvent
from voxtral_mlx.text.captions import LINE_CHARS, MAX_LINES, line_text, wrap
from voxtral_mlx.text.transcript import Transcript, Word, join_words, round_ms, separator

RECORDING_GAP = 1.0  # seconds between recordings in a saved transcript
REFLOW_WORDS = 200  # the overlay wraps at most 3x this many words per update


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
        self,
        max_lines: int = MAX_LINES,
        width: float = LINE_CHARS,
        measure: Callable[[str], float] = len,
    ) -> tuple[list[str], str]:
        """The last ``max_lines`` lines of the current recording, each at most ``width`` wide as
        ``measure`` gives it (characters by default, pixels from the overlay), laid out by
        :func:`~voxtral_mlx.text.captions.wrap`, and the word in progress apart: it ends the
        last line (which may be empty), joined by :func:`separator`.

        A word wider than a line is cut, so the newest words are always on the last line.
        Wrapping starts at a point that moves only every ``REFLOW_WORDS`` words: lines stay put
        as words come."""
        current = self.recordings[-1] if self.recordings else []
        start = max(0, len(current) - 2 * REFLOW_WORDS) // REFLOW_WORDS * REFLOW_WORDS
        words = [w.text for w in current[start:]]
        partial = len(words) if self.partial and self.partial.text.strip() else -1
        if partial >= 0:
            words.append(self.partial.text)
        wrapped = wrap(words, width, measure)[-max_lines:]
        if not wrapped:
            return [], ""
        lines = [line_text(line) for line in wrapped[:-1]]
        lines.append(line_text([piece for piece in wrapped[-1] if piece.word != partial]))
        return lines, "".join(piece.text for piece in wrapped[-1] if piece.word == partial)

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
