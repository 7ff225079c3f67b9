"""What the window and the overlay show: committed words plus the word still being built.

:class:`CaptionModel` is pure Python (no Qt, no MLX), fed :class:`~voxtral_mlx.live_events.TextEvent`
s on the GUI thread. Words that became final never change; ``partial`` is the word in progress
(replaced on every event, cleared when a recording ends). Recordings (Start ... Stop) are kept
apart: each starts its times at 0, so :meth:`transcript` shifts later ones to follow the earlier
ones, which gives one saveable :class:`~voxtral_mlx.transcript.Transcript` of all that is shown.
"""

from __future__ import annotations

import textwrap
from dataclasses import replace

from voxtral_mlx.live_events import TextEvent
from voxtral_mlx.transcript import Transcript, Word, join_words, segment_words

RECORDING_GAP = 1.0  # seconds between recordings in a saved transcript


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

    def lines(self, max_lines: int = 2, line_chars: int = 42) -> tuple[list[str], str]:
        """The last ``max_lines`` lines of the current recording wrapped at ``line_chars``, with
        room left for the word in progress, which is returned apart (it goes after the last
        line, which may be empty when that word starts a new line); for the overlay."""
        current = self.recordings[-1] if self.recordings else []
        tail, length = [], 0
        for word in reversed(current):  # only the words that can still be on screen
            length += len(word.text) + 1
            if length > max_lines * line_chars * 2:
                break
            tail.append(word)
        words = list(reversed(tail)) + ([self.partial] if self.partial else [])
        text = join_words(words)
        wrapped = textwrap.wrap(text, line_chars, break_long_words=False, break_on_hyphens=False)
        partial = self.partial_text
        if partial and wrapped:
            wrapped[-1] = wrapped[-1][: len(wrapped[-1]) - len(partial)].rstrip()
        return wrapped[-max_lines:], partial

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
