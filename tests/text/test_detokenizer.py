"""The streaming detokenizer: text one token at a time, equal to ``Tokenizer.decode`` in the
end, never a broken character on the way, and word starts for the live captions."""

from __future__ import annotations

import random

import pytest

from voxtral_mlx.text.detokenizer import StreamingDetokenizer, TextPiece
from voxtral_mlx.text.tokenizer import Tokenizer

from .tekken_table import (
    BOS,
    EOS,
    MERGES,
    NUM_SPECIAL,
    PAD,
    TABLE,
    VOCAB_SIZE,
    WORD,
    piece,
)


def test_split_character_is_held_until_complete(tok):
    detok = StreamingDetokenizer(tok)
    party = "🎉".encode()  # f0 9f 8e 89
    pushed = [detok.push(piece(party[:1])), detok.push(PAD), detok.push(piece(party[1:2]))]
    pushed += [detok.push(piece(party[2:3])), detok.push(piece(party[3:]))]
    assert pushed == ["", "", "", "", "🎉"]
    ids = [piece(b" \xf0\x9f"), piece(party[2:3]), piece(party[3:]), piece(b"ing")]
    assert [detok.push(i) for i in ids] == [" ", "", "🎉", "ing"]
    assert detok.flush() == ""


@pytest.mark.parametrize(
    "raw, expected",
    [
        ([b"\xff"], ["\ufffd"]),  # never valid: replaced at once
        ([b"\xe4", b"A"], ["", "\ufffdA"]),  # lead byte cut short by ASCII
        ([b"\xf0", b"\x9f", b"\x8e", b"\xf0"], ["", "", "", "\ufffd"]),  # at most 3 bytes held
        ([b"\x89", b"!"], ["\ufffd", "!"]),  # stray continuation byte
    ],
)
def test_invalid_bytes_become_replacement_once_certain(tok, raw, expected):
    detok = StreamingDetokenizer(tok)
    assert [detok.push(piece(b)) for b in raw] == expected


def test_unfinished_character_at_end_is_replaced_by_flush(tok):
    detok = StreamingDetokenizer(tok)
    assert detok.push(piece(b"!")) + detok.push(piece(b"\xe4\xbd")) == "!"
    assert detok.flush() == "\ufffd"
    assert detok.flush() == ""


def test_streaming_equals_decode_for_random_ids(tok):
    """Any ids (specials, stray bytes, merges): joined pushes + flush == decode == bytes.decode."""
    rng = random.Random(0)
    text_ids = list(range(NUM_SPECIAL, VOCAB_SIZE))
    utf8_heavy = [piece(bytes([b])) for b in range(0x80, 0x100)] + [piece(m) for m in MERGES]
    for _ in range(500):
        pool = rng.choice([text_ids, utf8_heavy])
        ids = [
            rng.choice([BOS, EOS, PAD, WORD]) if rng.random() < 0.2 else rng.choice(pool)
            for _ in range(rng.randrange(0, 16))
        ]
        expected = b"".join(TABLE[i] for i in ids).decode("utf-8", errors="replace")
        detok = StreamingDetokenizer(tok)
        assert "".join(detok.push(i) for i in ids) + detok.flush() == expected, ids
        assert tok.decode(ids) == expected, ids


def test_valid_text_never_shows_replacement(tok):
    text = "aé你🎉\n!"
    ids = [piece(bytes([b])) for b in text.encode()]
    detok = StreamingDetokenizer(tok)
    deltas = [detok.push(i) for i in ids]
    assert "".join(deltas) == text and "\ufffd" not in "".join(deltas)


# --- word boundaries -----------------------------------------------------------------------


def events(tok: Tokenizer, ids: list[int]) -> list[TextPiece]:
    detok = StreamingDetokenizer(tok)
    return [detok.push_event(i) for i in ids]


def test_leading_space_and_first_text_start_words(tok):
    ids = [BOS, PAD, piece(b"H"), piece(b"ing"), piece(b" world"), piece(b"!"), piece(b"\n")]
    starts = [e.word_start for e in events(tok, ids)]
    assert starts == [False, False, True, False, True, False, True]


def test_streaming_word_marks_a_boundary_once(tok):
    ids = [
        WORD,
        piece(b" Hello"),
        PAD,
        WORD,
        WORD,
        piece(b"ing"),
        WORD,
        piece(b" "),
        piece(b" world"),
    ]
    got = events(tok, ids)
    assert [e.word_start for e in got] == [
        True,
        False,
        False,
        True,
        False,
        False,
        True,
        False,
        False,
    ]
    assert "".join(e.text for e in got) == " Helloing  world"


def test_word_start_on_a_held_piece(tok):
    # " \xf0\x9f" starts a word; the emoji's text arrives two pushes later, in the same word.
    ids = [piece(b" Hello"), piece(b" \xf0\x9f"), piece(b"\x8e"), piece(b"\x89")]
    assert events(tok, ids) == [(" Hello", True), (" ", True), ("", False), ("🎉", False)]


def test_flush_starts_a_new_stream(tok):
    detok = StreamingDetokenizer(tok)
    assert detok.push_event(piece(b"H")) == ("H", True)
    assert detok.push_event(piece(b"ing")) == ("ing", False)
    detok.flush()
    assert detok.push_event(piece(b"ing")) == ("ing", True)
