"""Spacing and sentence rules shared by transcripts and caption layout. Pure Python.

Text joins words with one space, none between Chinese/Japanese characters (scripts written
without spaces); a sentence ends at ``.?!…。？！``, closing quotes or brackets allowed after.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

SENTENCE_END = ".?!…。？！"
# Closing quotes/brackets that may follow a sentence end: `He said "no."` still ends a sentence.
_CLOSERS = "\"')]}»”’」』）】"
# Ideographs and kana, scripts written without spaces (a token piece ~ a word): hiragana and
# katakana, katakana extensions, CJK extension A, unified and compatibility ideographs, halfwidth
# katakana, ideograph extensions B and on.
_CJK_LETTERS = (
    "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
    "\U00020000-\U0003ffff"
)
_CJK_LETTER = re.compile(f"[{_CJK_LETTERS}]")
# Those and CJK punctuation (、。「」，！？...): no space is written around them.
_UNSPACED = re.compile(f"[{_CJK_LETTERS}\u3000-\u303f\uff00-\uff65]")


def starts_cjk_word(previous_char: str, next_char: str) -> bool:
    """Whether a CJK word starts at ``next_char`` after ``previous_char`` (a token piece
    ~ a word in scripts written without spaces)."""
    # Mirrors separator: a word split here is joined back without a space, so text is exact.
    return bool(_UNSPACED.match(previous_char) and _CJK_LETTER.match(next_char))


def separator(left: str, right: str) -> str:
    """What goes between two pieces of text as :func:`join_texts` joins them: one space, none
    between Chinese/Japanese characters or next to an empty piece (outer whitespace ignored)."""
    left, right = left.rstrip(), right.lstrip()
    if not left or not right:
        return ""
    return "" if _UNSPACED.match(left[-1]) and _UNSPACED.match(right[0]) else " "


def join_texts(texts: Sequence[str]) -> str:
    """Join pieces with one space (none between CJK characters); whitespace is normalised."""
    result = ""
    for text in texts:
        text = " ".join(text.split())
        result += separator(result, text) + text
    return result


def ends_sentence(text: str) -> bool:
    """True if ``text`` ends with sentence-ending punctuation, closing quotes allowed after."""
    text = text.rstrip().rstrip(_CLOSERS)
    return bool(text) and text[-1] in SENTENCE_END
