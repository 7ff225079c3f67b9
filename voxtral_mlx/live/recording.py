"""One live recording's transcript, across sessions (device or delay switches) and sources
(the microphone and the computer's audio at once), and its autosave. Pure Python (no MLX).

Each ``StreamingSession`` times its tokens from its own start; a :class:`Track` (one session of
one source) shifts them by the audio that came before, folds them into words with its own
``TranscriptBuilder`` (so a switch always ends a word) and tells which words are final: every
word but the last one of the session, and all of them once it has ended. A track of a labelled
source ("You", "Others") gives its words that label, and may be given ``keep``: a final word it
refuses (the microphone hearing the computer's own audio, see ``voxtral_mlx.audio.echo``) is
counted, never shown nor saved; its token ids stay. With drafts on, the draft row's events go
into a builder of their own: its words are shown after the final text
(:func:`~voxtral_mlx.text.drafts.draft_tail`), never saved; only its token ids are kept. Final
words are appended to the autosave journal (:mod:`voxtral_mlx.live.autosave`) as they come. A
disk error is reported once through ``on_error`` and turns autosave off; the transcript stays
in memory.
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
from voxtral_mlx.text.transcript import TokenEvent, Transcript, TranscriptBuilder, Word

Keep = Callable[[Word], bool]


class Track:
    """One session of one source: its words (``label`` on each), final ones counted apart."""

    def __init__(self, offset: float, label: str | None, keep: Keep | None):
        self.builder, self.draft = TranscriptBuilder(), TranscriptBuilder()
        self.offset, self.label, self.keep = offset, label, keep
        self.final = 0  # words of the builder already reported final
        self.end = offset  # recording seconds its tokens have reached
        self.kept: list[Word] = []  # final words kept, labelled
        self.dropped = 0

    def add(self, events: list[TokenEvent]) -> tuple[list[TokenEvent], list[Word]]:
        """Fold events in; (the events in recording time, the words that became final)."""
        shifted = [replace(e, start=e.start + self.offset, end=e.end + self.offset) for e in events]  # fmt: skip
        self.builder.add(shifted)
        self.end = shifted[-1].end
        return shifted, self._finalize(len(self.builder.words) - 1)

    def close(self) -> list[Word]:
        """Every word is final now: those not reported yet."""
        return self._finalize(len(self.builder.words))

    def _finalize(self, upto: int) -> list[Word]:
        words = self.builder.words[self.final : max(upto, self.final)]
        self.final = max(upto, self.final)
        new = [self._labelled(w) for w in words]
        keep = [w for w in new if self.keep is None or self.keep(w)]
        self.dropped += len(new) - len(keep)
        self.kept += keep
        return keep

    def pending(self) -> list[Word]:
        """The words not final yet (the last one, while the session is open), labelled."""
        return [self._labelled(w) for w in self.builder.words[self.final :]]

    def partial(self) -> Word | None:
        words = self.builder.words
        return self._labelled(words[-1]) if len(words) > self.final else None

    def add_draft(self, events: list[TokenEvent]) -> tuple[Word, ...]:
        if events:
            self.draft.add([e.shifted(self.offset) for e in events])
        tail = draft_tail(self.builder.words, self.draft.words, decoded_to=self.end)
        return tuple(self._labelled(w) for w in tail)

    def _labelled(self, word: Word) -> Word:
        return word if self.label is None else replace(word, source=self.label)


class Recording:
    """Words and token ids of finished sessions plus the tracks of the current ones (one per
    source, keyed by label: None when there is one source)."""

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
        self.tokens: dict[str | None, list[int]] = {}  # per label, finished sessions
        self.draft_tokens: list[int] = []
        self.dropped = 0  # words refused by a track's ``keep`` (echo), finished sessions
        self.tracks: dict[str | None, Track] = {}

    def begin(self, offset: float, source: str, delay_ms: int, label: str | None = None,
              keep: Keep | None = None) -> None:  # fmt: skip
        """A new session on ``source`` (labelled ``label``) starting ``offset`` s into the
        recording; ``keep(word)`` False drops a final word (echo)."""
        self.tracks[label] = Track(offset, label, keep)
        self._save(lambda a: a.source(source, delay_ms, offset))

    def add(self, events: list[TokenEvent], label: str | None = None) -> TextEvent:
        """Fold one step's events of ``label``'s session in (journaling final words)."""
        track = self.tracks[label]
        shifted, new = track.add(events)
        if new:
            self._save(lambda a: a.words(new))
        return TextEvent(
            text="".join(e.text for e in shifted), start=shifted[0].start, end=track.end,
            words=tuple(new), partial=track.partial(), source=label,
            word_starts=tuple(e.start for e in shifted if e.word_start), n_tokens=len(shifted),
        )  # fmt: skip

    def add_draft(self, events: list[TokenEvent], label: str | None = None) -> DraftEvent:
        """Fold the draft row's events of one step in; the draft to show now."""
        track = self.tracks.get(label)
        words = track.add_draft(events) if track is not None else ()
        return DraftEvent(words=words, source=label)

    def end_session(self, label: str | None = None) -> TextEvent | None:
        """All the words of ``label``'s session are final now: a TextEvent with those not yet
        reported (None if there are none). Safe to call when no such session is open."""
        track = self.tracks.pop(label, None)
        if track is None:
            return None
        new = track.close()
        self.words += track.kept
        self.tokens.setdefault(label, []).extend(track.builder.tokens)
        self.draft_tokens += track.draft.tokens
        self.dropped += track.dropped
        if not new:
            return None
        self._save(lambda a: a.words(new))
        return TextEvent(text="", start=track.end, end=track.end, words=tuple(new), source=label)

    def transcript(self, duration: float) -> Transcript:
        """Everything so far (the open sessions' words included) as a Transcript. With labelled
        sources the token ids of each are in ``metadata["source_tokens"]`` (``tokens`` is one
        row's stream, which two sources do not have)."""
        words, tokens = list(self.words), {k: list(v) for k, v in self.tokens.items()}
        draft, dropped = list(self.draft_tokens), self.dropped
        for label, track in self.tracks.items():
            words += track.kept + track.pending()
            tokens.setdefault(label, []).extend(track.builder.tokens)
            draft += track.draft.tokens
            dropped += track.dropped
        metadata = dict(self.metadata)
        labels = [k for k in tokens if k is not None]
        if labels:
            metadata["source_tokens"] = {k: tokens[k] for k in labels}
            metadata["echo_words_dropped"] = dropped
        return Transcript.from_words(words, tokens=tokens.get(None, []), duration=duration,
                                     metadata=metadata, draft_tokens=draft)  # fmt: skip

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


__all__ = ["Recording", "Track"]
