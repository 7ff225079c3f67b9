"""One live recording's transcript, across sessions (device or delay switches), and its
autosave. Pure Python (no MLX).

Each ``StreamingSession`` times its tokens from its own start; :class:`Recording` shifts them by
the audio that came before, folds them into words with a ``TranscriptBuilder`` per session (so
a switch always ends a word) and tells which words are final: every word but the last one of
the current session, and all of them once the session has ended. With drafts on, the draft
row's events go into a builder of their own: its words are shown after the final text
(:func:`~voxtral_mlx.text.drafts.draft_tail`), never saved; only its token ids are kept. Final words are appended to
the autosave journal (:mod:`voxtral_mlx.live.autosave`) as they come. A disk error is
reported once through ``on_error`` and turns autosave off; the transcript stays in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.live.autosave import Autosave
from voxtral_mlx.live.events import DraftEvent, TextEvent, TranscriptEvent
from voxtral_mlx.text.drafts import draft_tail
from voxtral_mlx.text.transcript import (
    TokenEvent,
    Transcript,
    TranscriptBuilder,
    Word,
)


class Recording:
    """Words and token ids of finished sessions plus the current session's builder."""

    def __init__(self, autosave_dir: Path | None, metadata: dict[str, Any],
                 on_error: Callable[[str], None]):  # fmt: skip
        self.metadata = dict(metadata)
        self._on_error = on_error
        self.autosave: Autosave | None = None
        if autosave_dir is not None:
            try:
                self.autosave = Autosave(autosave_dir, self.metadata)
            except VoxtralError as err:
                on_error(f"{err}; the transcript is kept in memory only")
        self.words: list[Word] = []  # finished sessions
        self.tokens: list[int] = []
        self.draft_tokens: list[int] = []
        self._builder: TranscriptBuilder | None = None
        self._draft: TranscriptBuilder | None = None
        self._offset = 0.0
        self._final = 0  # words of the current builder already reported final
        self._end = 0.0

    def begin(self, offset: float, source: str, delay_ms: int) -> None:
        """A new session on ``source`` whose audio starts ``offset`` s into the recording."""
        self._builder, self._offset, self._final = TranscriptBuilder(), offset, 0
        self._draft = TranscriptBuilder()
        self._save(lambda a: a.source(source, delay_ms, offset))

    def add(self, events: list[TokenEvent]) -> TextEvent:
        """Fold one step's events in (journaling the words that became final)."""
        shifted = [replace(e, start=e.start + self._offset, end=e.end + self._offset) for e in events]  # fmt: skip
        self._builder.add(shifted)
        words = self._builder.words
        final = max(len(words) - 1, self._final)
        new = words[self._final : final]
        self._final = final
        self._end = shifted[-1].end
        if new:
            self._save(lambda a: a.words(new))
        return TextEvent(
            text="".join(e.text for e in shifted), start=shifted[0].start, end=self._end,
            words=tuple(new), partial=words[-1] if len(words) > final else None,
            word_starts=tuple(e.start for e in shifted if e.word_start), n_tokens=len(shifted),
        )  # fmt: skip

    def add_draft(self, events: list[TokenEvent]) -> DraftEvent:
        """Fold the draft row's events of one step in; the draft to show now."""
        if events:
            self._draft.add([replace(e, start=e.start + self._offset,
                                     end=e.end + self._offset) for e in events])  # fmt: skip
        shown = self._builder.words if self._builder is not None else []
        draft = self._draft.words if self._draft is not None else []
        return DraftEvent(words=tuple(draft_tail(shown, draft, decoded_to=self._end)))

    def end_session(self) -> TextEvent | None:
        """All the session's words are final now: a TextEvent with those not yet reported
        (None if there are none). Safe to call when no session is open."""
        builder, self._builder = self._builder, None
        if builder is None:
            return None
        draft, self._draft = self._draft, None
        self.draft_tokens += draft.tokens if draft is not None else []
        words = builder.words
        self.words += words
        self.tokens += builder.tokens
        new = words[self._final :]
        if not new:
            return None
        self._save(lambda a: a.words(new))
        return TextEvent(text="", start=self._end, end=self._end, words=tuple(new))

    def transcript(self, duration: float) -> Transcript:
        """Everything so far (the open session's words included) as a Transcript."""
        words, tokens = list(self.words), list(self.tokens)
        if self._builder is not None:
            words += self._builder.words
            tokens += self._builder.tokens
        draft = list(self.draft_tokens) + (self._draft.tokens if self._draft is not None else [])
        return Transcript.from_words(words, tokens=tokens, duration=duration,
                                     metadata=self.metadata, draft_tokens=draft)  # fmt: skip

    def finish(self, duration: float, final: bool) -> TranscriptEvent:
        """Write the final JSON (``final``: also close the journal); the event announcing it."""
        transcript = self.transcript(duration)
        path = journal = None
        if self.autosave is not None:
            journal = self.autosave.path
            write = self.autosave.close if final else self.autosave.checkpoint
            try:
                path = write(transcript)
            except VoxtralError as err:
                self._on_error(str(err))
        return TranscriptEvent(transcript, path, journal)

    def _save(self, write: Callable[[Autosave], None]) -> None:
        if self.autosave is None:
            return
        try:
            write(self.autosave)
        except VoxtralError as err:
            self.autosave = None
            self._on_error(f"{err}; autosave is off, the transcript is kept in memory")


__all__ = ["Recording"]
