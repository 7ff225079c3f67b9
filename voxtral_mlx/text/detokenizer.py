"""Streaming detokenizer: token ids to text one id at a time, never splitting a character.

The live captions and the session's words read text as tokens are decided; a UTF-8 character
may be spread over several tokens (Tekken's byte fallback), so bytes are held until complete.
"""

from __future__ import annotations

import codecs
from typing import NamedTuple

from voxtral_mlx.text.tokenizer import Tokenizer


class TextPiece(NamedTuple):
    """What one pushed token produced.

    ``text``: the text that became complete with this token (may be ``""``).
    ``word_start``: a new word starts at this token; its text is ``text`` plus what later pushes
    return until the next ``word_start``.
    """

    text: str
    word_start: bool


class StreamingDetokenizer:
    """Turns ids into text one id at a time, for live captions. Not thread-safe.

    Contract: ``"".join(push(i) for i in ids) + flush() == tokenizer.decode(ids)`` for any ids.
    A character split across tokens is held (at most 3 bytes) until complete, so no U+FFFD is
    emitted for it; bytes that can never form a character become U+FFFD as soon as that is
    certain, exactly as ``decode`` replaces them.

    Word boundaries: ``push_event`` reports ``word_start`` for a ``[STREAMING_WORD]`` id, for a
    text piece starting with whitespace, and for the first text after creation or ``flush()``.
    A boundary right after another one (no non-whitespace text in between, e.g.
    ``[STREAMING_WORD]`` followed by ``" Hello"``) is not reported twice.
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer
        self._word_id = tokenizer.streaming_word_id
        self._reset()

    def _reset(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._seen_text = False
        self._word_is_empty = False  # a boundary was reported and no non-space text came since

    def push(self, token_id: int) -> str:
        """Text completed by ``token_id`` (see class docstring)."""
        return self.push_event(token_id).text

    def push_event(self, token_id: int) -> TextPiece:
        """Text completed by ``token_id`` and whether a new word starts at it."""
        if token_id == self._word_id:
            return TextPiece("", self._boundary())
        piece = self._tokenizer.token_bytes(token_id)
        if not piece:
            return TextPiece("", False)
        starts = piece[:1].isspace() or not self._seen_text
        word_start = self._boundary() if starts else False
        self._seen_text = True
        if piece.strip():
            self._word_is_empty = False
        return TextPiece(self._utf8.decode(piece), word_start)

    def flush(self) -> str:
        """End of stream: held bytes of an unfinished character become U+FFFD; state resets."""
        text = self._utf8.decode(b"", final=True)
        self._reset()
        return text

    def _boundary(self) -> bool:
        if self._word_is_empty:
            return False
        self._word_is_empty = True
        return True
