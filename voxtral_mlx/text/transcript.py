"""Token events -> words -> caption segments. Pure Python, no MLX.

:class:`TranscriptBuilder` folds the :class:`TokenEvent` s of ``StreamingSession.step()`` (one per
80 ms of audio) into timed :class:`Word` s; :meth:`Transcript.from_words`, the one way a transcript
is made from words, cuts them into caption :class:`Segment` s (:func:`segment_words`). Lines and
subtitle cues are laid out in :mod:`voxtral_mlx.text.captions`.

A word starts at a ``word_start`` event (``[STREAMING_WORD]`` or a leading-space piece), after
whitespace, and, in scripts written without spaces (Chinese, Japanese), at every token piece
starting with an ideograph or kana after such a character, so CJK text has word times too.
Words hold no whitespace; text joins them with one space, none between CJK characters
(:func:`join_words`).

Several sources (a call: the microphone "You", the computer's audio "Others"): each word and
segment carries its source's label; a segment never mixes sources, segments are in time order,
and the text reads as turns, one line per run of one source's segments: ``"You: Hi.\nOthers:
Hello."``. A transcript of one source has ``source=None`` everywhere and reads as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from voxtral_mlx.errors import VoxtralError

# The spacing rules live in spacing.py; imported from here too, as they always were.
from voxtral_mlx.text.spacing import SENTENCE_END as SENTENCE_END
from voxtral_mlx.text.spacing import ends_sentence, join_texts, separator, starts_cjk_word

# A sentence end only cuts a segment once it holds this share of max_chars, so "Yes. I think..."
# stays one caption instead of flashing "Yes." alone.
_MIN_SENTENCE_SHARE = 0.25
_RUNS = re.compile(r"\s+|\S+")


@dataclass(frozen=True)
class TokenEvent:
    """One decoder step, as returned by ``StreamingSession.step()``.

    ``token_id``: every id the decoder emitted, specials included (pad 32, word 33, eos 2).
    ``text``: text that became valid UTF-8 with this token (``""`` for specials / held bytes).
    ``start``/``end``: seconds of the original audio (left padding excluded) this token describes.
    ``word_start``: a new word starts here (a ``[STREAMING_WORD]`` id or a leading-space piece).
    """

    token_id: int
    text: str
    start: float
    end: float
    word_start: bool = False

    def shifted(self, seconds: float) -> TokenEvent:
        """The same event timed ``seconds`` later (a piece or segment placed in its file)."""
        return replace(self, start=self.start + seconds, end=self.end + seconds)


@dataclass(frozen=True)
class Word:
    """One word without surrounding whitespace; times in seconds, rounded to milliseconds.
    ``source``: who said it when a transcript has several sources ("You", "Others"), else None."""

    text: str
    start: float
    end: float
    source: str | None = None


@dataclass(frozen=True)
class Segment:
    """A caption-sized run of words; ``text`` is the words joined by :func:`join_words`.
    ``source``: its words' source label (a segment never mixes sources), else None."""

    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    source: str | None = None


@dataclass
class Transcript:
    """A finished transcript; ``to_dict``/``from_dict`` round-trip it exactly through JSON.
    ``draft_tokens``: a live recording's fast draft row's token ids (its words are never saved:
    the transcript is the accurate row's); empty otherwise, and then left out of the JSON."""

    words: list[Word] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    duration: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)
    draft_tokens: list[int] = field(default_factory=list)

    @classmethod
    def from_words(cls, words: Iterable[Word], *, tokens: Iterable[int] = (), duration: float = 0.0,
                   metadata: dict[str, Any] | None = None,
                   draft_tokens: Iterable[int] = ()) -> Transcript:  # fmt: skip
        """``words`` cut into caption segments (:func:`segment_words`), ``duration`` in whole ms.
        Words of several sources may come in any order: they are kept in time order."""
        words = _in_time_order(list(words))
        return cls(words, segment_words(words), list(tokens), round_ms(duration),
                   dict(metadata or {}), list(draft_tokens))  # fmt: skip

    @property
    def labelled(self) -> bool:
        """Whether the words or segments carry source labels (several sources)."""
        return any(item.source is not None for item in (*self.words, *self.segments))

    @property
    def text(self) -> str:
        """The full text, words joined by single spaces (none between CJK characters); for a
        labelled transcript one line per turn (:meth:`turns`): ``"You: Hi.\nOthers: Hello."``."""
        if self.labelled:
            return "\n".join(label_prefix(source) + text for source, text in self.turns())
        if self.words:
            return join_words(self.words)
        return join_texts([segment.text for segment in self.segments])

    def turns(self) -> list[tuple[str | None, str]]:
        """(source, text) per run of consecutive segments of one source, in time order: a
        turn reads better than a line per caption-sized segment when two people talk."""
        turns: list[tuple[str | None, str]] = []
        for segment in self.segments or segment_words(self.words):
            if turns and turns[-1][0] == segment.source:
                turns[-1] = (segment.source, join_texts([turns[-1][1], segment.text]))
            else:
                turns.append((segment.source, segment.text))
        return turns

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; words live inside their segments (no top-level copy)."""
        return {
            "text": self.text,
            "duration": self.duration,
            "segments": [_segment_dict(segment) for segment in self.segments],
            "tokens": list(self.tokens),
            **({"draft_tokens": list(self.draft_tokens)} if self.draft_tokens else {}),
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        """Inverse of :meth:`to_dict` (``text`` is derived and ignored); a top-level ``words``
        list is used when present. Raises VoxtralError for a dict of the wrong shape."""
        try:
            segments = [_segment_from_dict(item) for item in data["segments"]]
            if "words" in data:
                words = [_word_from_dict(item) for item in data["words"]]
            else:
                words = _in_time_order([word for segment in segments for word in segment.words])
            tokens = [int(token) for token in data.get("tokens", [])]
            draft = [int(token) for token in data.get("draft_tokens", [])]
            duration, metadata = float(data.get("duration", 0.0)), dict(data.get("metadata", {}))
            return cls(words, segments, tokens, duration, metadata, draft)
        except (KeyError, TypeError, ValueError) as err:
            raise VoxtralError(f"not a transcript: bad or missing field {err}") from err


def _segment_dict(segment: Segment) -> dict[str, Any]:
    """A segment's dict, ``source`` first (easy to see on its line) and only where set: a
    one-source transcript keeps the JSON it always had."""
    item = asdict(segment)
    source = item.pop("source")
    item["words"] = [{k: v for k, v in w.items() if v is not None} for w in item["words"]]
    return item if source is None else {"source": source, **item}


def _in_time_order(words: list[Word]) -> list[Word]:
    """Labelled words sorted by start, ties by label: one order whatever order they came in
    (two sources step on the same 80 ms grid, so equal starts are common), which makes
    ``from_dict(to_dict())`` exact. Unlabelled words are left as they are."""
    if all(word.source is None for word in words):
        return words
    return sorted(words, key=_time_key)


def _time_key(item: Word | Segment) -> tuple[float, str]:
    return item.start, item.source or ""


def _word_from_dict(item: dict[str, Any]) -> Word:
    source = item.get("source")
    return Word(str(item["text"]), float(item["start"]), float(item["end"]),
                None if source is None else str(source))  # fmt: skip


def _segment_from_dict(item: dict[str, Any]) -> Segment:
    words = [_word_from_dict(word) for word in item.get("words", [])]
    source = item.get("source")
    return Segment(float(item["start"]), float(item["end"]), str(item["text"]), words,
                   None if source is None else str(source))  # fmt: skip


class TranscriptBuilder:
    """Folds :class:`TokenEvent` s into words, incrementally. Not thread-safe.

    A word starts at a ``word_start`` event (its time when it is the first boundary since the
    previous word's last text, so a ``[STREAMING_WORD]`` marker followed by pads then text
    starts the word at the marker), else at the event carrying its first character. It ends at
    the end of its last event carrying non-whitespace text. Events with ``text=""`` (pads,
    specials, held UTF-8 bytes) only add their id to ``tokens`` unless they are word starts.
    """

    def __init__(self) -> None:
        self.tokens: list[int] = []
        self._words: list[Word] = []
        self._anchor: float | None = None  # start of a pending word_start event
        self._draft: _Draft | None = None  # the word being built
        self._last_end: float | None = None

    def add(self, events: Iterable[TokenEvent]) -> None:
        """Append events in emission order (call once per ``step()`` or with a whole file)."""
        for event in events:
            self.tokens.append(event.token_id)
            self._last_end = event.end
            if event.word_start:
                self._close_word()
                if self._anchor is None:
                    self._anchor = event.start
            for run in _RUNS.finditer(event.text):
                self._add_run(run.group(), event)

    def _add_run(self, run: str, event: TokenEvent) -> None:
        if run.isspace():
            self._close_word()
            return
        if self._draft is not None and starts_cjk_word(self._draft.text[-1], run[0]):
            self._close_word()
        if self._draft is None:
            start = event.start if self._anchor is None else self._anchor
            self._draft = _Draft("", start, event.end)
            self._anchor = None
        self._draft.text += run
        self._draft.end = event.end

    def _close_word(self) -> None:
        if self._draft is None:
            return
        self._words.append(self._draft.word())
        self._draft = None

    @property
    def words(self) -> list[Word]:
        """Words so far, the one still being built included (its text may still grow)."""
        if self._draft is None:
            return list(self._words)
        return [*self._words, self._draft.word()]

    @property
    def partial_text(self) -> str:
        """Text so far, spaced like :attr:`Transcript.text`; equals ``build().text`` at the end."""
        return join_words(self.words)

    def build(self, duration: float | None = None, **metadata: Any) -> Transcript:
        """Snapshot (the builder can keep going): words, caption segments, every token id.

        ``duration`` defaults to the end of the last event (0.0 when there was none).
        """
        if duration is None:
            duration = self._last_end or 0.0
        return Transcript.from_words(self.words, tokens=self.tokens, duration=duration,
                                     metadata=metadata)  # fmt: skip


@dataclass
class _Draft:
    """The word being built: its text so far and the times of its first and last events."""

    text: str
    start: float
    end: float

    def word(self) -> Word:
        return Word(self.text, round_ms(self.start), round_ms(self.end))


def label_prefix(source: str | None) -> str:
    """What a labelled line or cue starts with: ``"You: "``; ``""`` without a label."""
    return f"{source}: " if source is not None else ""


def round_ms(seconds: float) -> float:
    """Seconds rounded to whole milliseconds: exact in JSON, what SRT/VTT show."""
    return round(float(seconds), 3)


def join_words(words: Sequence[Word]) -> str:
    """The text of ``words`` as it reads: ``["Hello", "world."]`` -> ``"Hello world."``."""
    return join_texts([word.text for word in words])


def segment_words(
    words: Sequence[Word], max_chars: int = 84, max_seconds: float = 7.0, pause: float = 0.8
) -> list[Segment]:
    """Cut words into caption segments; never inside a word.

    A segment ends before a word that would make it longer than ``max_chars`` characters or
    ``max_seconds`` seconds, before a word that follows a silence of at least ``pause`` seconds,
    and after a sentence end (``.?!…。？！``) once it holds at least a quarter of ``max_chars``.
    A single word over the limits gets a segment of its own. Words of several sources: each
    source's words (in the order given) are cut on their own, then all segments are put in
    time order (ties by label), so no segment mixes sources.
    """
    runs: dict[str | None, list[Word]] = {}
    for word in words:
        runs.setdefault(word.source, []).append(word)
    if len(runs) <= 1:
        return _cut(words, max_chars, max_seconds, pause)
    segments = [s for run in runs.values() for s in _cut(run, max_chars, max_seconds, pause)]
    return sorted(segments, key=_time_key)


def _cut(words: Sequence[Word], max_chars: int, max_seconds: float, pause: float) -> list[Segment]:
    """:func:`segment_words` for the words of one source."""
    segments: list[Segment] = []
    current: list[Word] = []
    length = 0
    for word in words:
        gap = len(separator(current[-1].text, word.text)) if current else 0
        if current and (
            length + gap + len(word.text) > max_chars
            or word.end - current[0].start > max_seconds
            or round_ms(word.start - current[-1].end) >= pause  # times are whole ms
        ):
            segments.append(_segment(current))
            current, length, gap = [], 0, 0
        length += gap + len(word.text)
        current.append(word)
        if ends_sentence(word.text) and length >= max_chars * _MIN_SENTENCE_SHARE:
            segments.append(_segment(current))
            current, length = [], 0
    if current:
        segments.append(_segment(current))
    return segments


def _segment(words: list[Word]) -> Segment:
    return Segment(words[0].start, words[-1].end, join_words(words), list(words), words[0].source)
