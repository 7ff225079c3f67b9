"""Token events -> words -> caption segments -> caption lines. Pure Python, no MLX.

The streaming model emits one token per 80 ms of audio. ``StreamingSession.step()`` turns each
into a :class:`TokenEvent`; :class:`TranscriptBuilder` folds events into timed :class:`Word` s
(live, one batch at a time), and :meth:`TranscriptBuilder.build` cuts the words into caption
:class:`Segment` s (:func:`segment_words`) inside a :class:`Transcript`, which the writers save.

Word boundaries come from three places: a ``word_start`` event (a ``[STREAMING_WORD]`` id or a
leading-space piece), whitespace inside the text, and, for scripts written without spaces
(Chinese, Japanese), every token piece that starts with an ideograph or kana after such a
character, so CJK text still has word-level times and can be cut into captions. Words hold no
whitespace; the full text joins them with one space, except between two characters of those
scripts (:func:`join_words`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from voxtral_mlx.errors import VoxtralError

SENTENCE_END = ".?!…。？！"
# Closing quotes/brackets that may follow a sentence end: `He said "no."` still ends a sentence.
_CLOSERS = "\"')]}»”’」』）】"
# A sentence end only cuts a segment once it holds this share of max_chars, so "Yes. I think..."
# stays one caption instead of flashing "Yes." alone.
_MIN_SENTENCE_SHARE = 0.25
_TIME_DECIMALS = 3  # times are stored in whole milliseconds: exact in JSON, what SRT/VTT show
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
        return TokenEvent(self.token_id, self.text, self.start + seconds, self.end + seconds,
                          self.word_start)  # fmt: skip


@dataclass(frozen=True)
class Word:
    """One word without surrounding whitespace; times in seconds, rounded to milliseconds."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Segment:
    """A caption-sized run of words; ``text`` is the words joined by :func:`join_words`."""

    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)


@dataclass(frozen=True)
class Caption:
    """One subtitle cue: at most ``max_lines`` lines of at most ``line_chars`` characters."""

    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Transcript:
    """A finished transcript; ``to_dict``/``from_dict`` round-trip it exactly through JSON."""

    words: list[Word] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    duration: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The full text, words joined by single spaces (none between CJK characters)."""
        if self.words:
            return join_words(self.words)
        return join_texts([segment.text for segment in self.segments])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; words live inside their segments (no top-level copy)."""
        return {
            "text": self.text,
            "duration": self.duration,
            "segments": [asdict(segment) for segment in self.segments],
            "tokens": list(self.tokens),
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
                words = [word for segment in segments for word in segment.words]
            return cls(
                words=words,
                segments=segments,
                tokens=[int(token) for token in data.get("tokens", [])],
                duration=float(data.get("duration", 0.0)),
                metadata=dict(data.get("metadata", {})),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise VoxtralError(f"not a transcript: bad or missing field {err}") from err


def _word_from_dict(item: dict[str, Any]) -> Word:
    return Word(str(item["text"]), float(item["start"]), float(item["end"]))


def _segment_from_dict(item: dict[str, Any]) -> Segment:
    words = [_word_from_dict(word) for word in item.get("words", [])]
    return Segment(float(item["start"]), float(item["end"]), str(item["text"]), words)


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
        self._committed_text = ""  # join_words(self._words), kept incrementally
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
        if self._draft is not None and _starts_cjk_word(self._draft.text[-1], run[0]):
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
        word = self._draft.word()
        self._committed_text = join_texts([self._committed_text, word.text])
        self._words.append(word)
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
        if self._draft is None:
            return self._committed_text
        return join_texts([self._committed_text, self._draft.text])

    def build(self, duration: float | None = None, **metadata: Any) -> Transcript:
        """Snapshot (the builder can keep going): words, caption segments, every token id.

        ``duration`` defaults to the end of the last event (0.0 when there was none).
        """
        if duration is None:
            duration = self._last_end or 0.0
        words = self.words
        return Transcript(
            words=words,
            segments=segment_words(words),
            tokens=list(self.tokens),
            duration=_ms(duration),
            metadata=dict(metadata),
        )


@dataclass
class _Draft:
    """The word being built: its text so far and the times of its first and last events."""

    text: str
    start: float
    end: float

    def word(self) -> Word:
        return Word(self.text, _ms(self.start), _ms(self.end))


def _ms(seconds: float) -> float:
    return round(float(seconds), _TIME_DECIMALS)


def _is_cjk_letter(char: str) -> bool:
    """Ideographs and kana: scripts written without spaces, one token piece ~ one word."""
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0x31F0 <= code <= 0x31FF  # katakana extensions
        or 0x3400 <= code <= 0x4DBF  # CJK extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0xFF66 <= code <= 0xFF9F  # halfwidth katakana
        or 0x20000 <= code <= 0x3FFFF  # ideograph extensions B..
    )


def _is_unspaced(char: str) -> bool:
    """CJK letters and CJK punctuation (、。「」，！？...): no space is written around them."""
    code = ord(char)
    return _is_cjk_letter(char) or 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFF65


def _starts_cjk_word(previous_char: str, next_char: str) -> bool:
    # Mirrors _separator: a word split here is joined back without a space, so text is exact.
    return _is_unspaced(previous_char) and _is_cjk_letter(next_char)


def _separator(left: str, right: str) -> str:
    if not left or not right:
        return ""
    return "" if _is_unspaced(left[-1]) and _is_unspaced(right[0]) else " "


def join_texts(texts: Sequence[str]) -> str:
    """Join pieces with one space (none between CJK characters); whitespace is normalised."""
    result = ""
    for text in texts:
        text = " ".join(text.split())
        result += _separator(result, text) + text
    return result


def join_words(words: Sequence[Word]) -> str:
    """The text of ``words`` as it reads: ``["Hello", "world."]`` -> ``"Hello world."``."""
    return join_texts([word.text for word in words])


def ends_sentence(text: str) -> bool:
    """True if ``text`` ends with sentence-ending punctuation, closing quotes allowed after."""
    text = text.rstrip().rstrip(_CLOSERS)
    return bool(text) and text[-1] in SENTENCE_END


def segment_words(
    words: Sequence[Word], max_chars: int = 84, max_seconds: float = 7.0, pause: float = 0.8
) -> list[Segment]:
    """Cut words into caption segments; never inside a word.

    A segment ends before a word that would make it longer than ``max_chars`` characters or
    ``max_seconds`` seconds, before a word that follows a silence of at least ``pause`` seconds,
    and after a sentence end (``.?!…。？！``) once it holds at least a quarter of ``max_chars``.
    A single word over the limits gets a segment of its own.
    """
    segments: list[Segment] = []
    current: list[Word] = []
    length = 0
    for word in words:
        if current:
            gap = len(_separator(current[-1].text, word.text))
            too_long = length + gap + len(word.text) > max_chars
            too_slow = word.end - current[0].start > max_seconds
            paused = _ms(word.start - current[-1].end) >= pause  # times are whole ms
            if too_long or too_slow or paused:
                segments.append(_segment(current))
                current, length = [], 0
        length += (len(_separator(current[-1].text, word.text)) if current else 0) + len(word.text)
        current.append(word)
        if ends_sentence(word.text) and length >= max_chars * _MIN_SENTENCE_SHARE:
            segments.append(_segment(current))
            current, length = [], 0
    if current:
        segments.append(_segment(current))
    return segments


def _segment(words: list[Word]) -> Segment:
    return Segment(words[0].start, words[-1].end, join_words(words), list(words))


@dataclass(frozen=True)
class _Piece:
    """A unit of caption layout: a word, or a slice of a word longer than a line."""

    text: str
    start: float
    end: float
    space_before: bool


def caption_lines(
    segments: Sequence[Segment], line_chars: int = 42, max_lines: int = 2
) -> list[Caption]:
    """Lay segments out as subtitle cues of at most ``max_lines`` balanced lines of at most
    ``line_chars`` characters. A segment that does not fit one cue becomes several, timed by
    its words; a word longer than a line is cut (times shared out by characters)."""
    captions: list[Caption] = []
    for segment in segments:
        pieces = _pieces(segment, line_chars)
        index = 0
        while index < len(pieces):
            count = _fitting_pieces(pieces[index:], line_chars, max_lines)
            chunk = pieces[index : index + count]
            lines = _balanced(chunk, line_chars, max_lines)
            captions.append(Caption(chunk[0].start, chunk[-1].end, tuple(lines)))
            index += count
    return captions


def _pieces(segment: Segment, line_chars: int) -> list[_Piece]:
    words = segment.words
    if not words:  # a hand-made segment without word times: share its time out by characters
        words = _spread(segment.text.split(), segment.start, segment.end)
    pieces: list[_Piece] = []
    previous = ""
    for word in words:
        spaced = bool(_separator(previous, word.text))
        previous = word.text
        chunks = [word.text[i : i + line_chars] for i in range(0, len(word.text), line_chars)]
        for k, part in enumerate(_spread(chunks, word.start, word.end)):
            pieces.append(_Piece(part.text, part.start, part.end, spaced and k == 0))
    return pieces


def _spread(texts: list[str], start: float, end: float) -> list[Word]:
    """Share ``start..end`` out over ``texts`` in proportion to their lengths."""
    total = sum(len(text) for text in texts) or 1
    words, done = [], 0
    for text in texts:
        t0 = start + (end - start) * done / total
        done += len(text)
        t1 = start + (end - start) * done / total
        words.append(Word(text, _ms(t0), _ms(t1)))
    return words


def _wrap(pieces: Sequence[_Piece], width: int) -> list[str]:
    """Greedy wrap; pieces are never wider than a line, so every line is <= width."""
    lines: list[str] = []
    line = ""
    for piece in pieces:
        gap = " " if piece.space_before and line else ""
        if line and len(line) + len(gap) + len(piece.text) > width:
            lines.append(line)
            line, gap = "", ""
        line += gap + piece.text
    if line:
        lines.append(line)
    return lines


def _fitting_pieces(pieces: Sequence[_Piece], line_chars: int, max_lines: int) -> int:
    """How many leading pieces fit in one cue (at least one)."""
    count = 1
    while count < len(pieces) and len(_wrap(pieces[: count + 1], line_chars)) <= max_lines:
        count += 1
    return count


def _balanced(pieces: Sequence[_Piece], line_chars: int, max_lines: int) -> list[str]:
    """The same number of lines as a greedy wrap, with the narrowest width that keeps it."""
    target = len(_wrap(pieces, line_chars))
    widest = max(len(piece.text) for piece in pieces)
    width = line_chars
    while width > widest and len(_wrap(pieces, width - 1)) <= target:
        width -= 1
    return _wrap(pieces, width)
