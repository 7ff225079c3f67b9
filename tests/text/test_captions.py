"""The one caption layout (voxtral_mlx.text.captions): the wrap's contract over random word lists,
and the subtitle cues built on it (balanced lines, cut words timed by characters)."""

from __future__ import annotations

import random

import pytest

from tests.text.test_transcript import words_at
from voxtral_mlx.text.captions import (
    LINE_CHARS,
    MAX_LINES,
    caption_lines,
    fits,
    line_text,
    wrap,
)
from voxtral_mlx.text.transcript import Segment, Word, join_texts, join_words, segment_words


def wide(text: str) -> int:
    """A pixel-like measure: Chinese/Japanese characters twice as wide as Latin ones."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


SYLLABLES = ["a", "ka", "lo", "mer", "st", "x", "é", "今", "日", "東京", "。", "!", "Ω"]


def random_words(rng: random.Random) -> list[str]:
    """0..40 words of 1..60 characters: Latin, CJK, mixed, some longer than any line."""
    return ["".join(rng.choice(SYLLABLES) for _ in range(rng.choice([1, 1, 2, 3, 8, 30])))
            for _ in range(rng.randint(0, 40))]  # fmt: skip


# --- the wrap's contract ----------------------------------------------------------------------


@pytest.mark.parametrize("measure", [len, wide], ids=["characters", "wide-cjk"])
def test_wrap_keeps_every_word_in_order_and_no_line_over_the_width(measure):
    rng = random.Random(18)
    for _ in range(400):
        words = random_words(rng)
        width = rng.choice([1, 2, 5, 9, 20, 42])
        lines = wrap(words, width, measure)
        pieces = [piece for line in lines for piece in line]
        # Words in order, none lost or duplicated: the slices spell the words exactly.
        rebuilt: dict[int, str] = {}
        for piece in pieces:
            rebuilt[piece.word] = rebuilt.get(piece.word, "") + piece.text
            assert rebuilt[piece.word] == words[piece.word][: piece.at + len(piece.text)]
        assert [piece.word for piece in pieces] == sorted(piece.word for piece in pieces)
        assert rebuilt == dict(enumerate(words))
        # No line over the width, unless it is one character wider than the width by itself.
        for line in lines:
            text = line_text(line)
            assert line and line[0].gap == "" and text == text.strip()
            assert measure(text) <= width or (len(text) == 1 and measure(text) > width)
        # The text reads as the transcript joins it, lines rejoined.
        assert join_texts([line_text(line) for line in lines]).replace(" ", "") == "".join(words)


def test_wrap_breaks_a_line_only_where_it_must():
    rng = random.Random(7)
    for _ in range(400):
        words, width = random_words(rng), rng.choice([3, 10, 42])
        lines = wrap(words, width)
        for before, after in zip(lines, lines[1:], strict=False):
            first = after[0]
            if first.at == 0:  # a whole word starts the line: it did not fit after the last
                assert not fits(line_text(before), words[first.word], width)
            else:  # a word wider than a line goes on: it filled the line before
                assert before[-1].word == first.word and len(words[first.word]) > width
                assert len(line_text(before)) == width


def test_wrap_spacing_and_long_words():
    assert wrap([], 10) == [] and wrap(["", "  "], 10) == []
    lines = [line_text(line) for line in wrap("the quick brown fox jumps".split(), 10)]
    assert lines == ["the quick", "brown fox", "jumps"]
    # No space between Chinese/Japanese characters, one next to Latin words.
    lines = [line_text(line) for line in wrap(["今日", "は", "Tokyo", "です。"], 9)]
    assert lines == ["今日は Tokyo", "です。"]
    # A word wider than a line fills the rest of the line, then goes on in the next.
    lines = [line_text(line) for line in wrap(["a", "x" * 25, "end"], 10)]
    assert lines == ["a xxxxxxxx", "x" * 10, "xxxxxxx", "end"]
    # Chinese/Japanese words that fit a line are not cut: they move to the next line whole.
    assert [line_text(line) for line in wrap(["我们", "今天", "去"], 5)] == ["我们今天去"]
    assert [line_text(line) for line in wrap(["我们", "今天", "去"], 4)] == ["我们今天", "去"]
    assert [line_text(line) for line in wrap(["我们", "今天", "去"], 3)] == ["我们", "今天去"]


def test_fits_is_the_greedy_rule():
    assert fits("", "abc", 3) and not fits("", "abcd", 3)
    assert fits("hello", "world", 11) and not fits("hello", "world", 10)
    assert fits("今日", "は", 3) and not fits("今日", "は", 2)
    assert fits("今日", "は", 6, wide) and not fits("今日", "は", 5, wide)


def test_subtitle_convention_is_two_lines_of_42():
    assert (LINE_CHARS, MAX_LINES) == (42, 2)


def test_captions_fit_two_balanced_lines_and_keep_every_word():
    words = words_at(("The quick brown fox jumps over the lazy dog " * 6).split(), step=0.2)
    segments = segment_words(words, max_chars=200, max_seconds=100)
    captions = caption_lines(segments)
    for caption in captions:
        assert 1 <= len(caption.lines) <= 2 and all(len(line) <= 42 for line in caption.lines)
        assert caption.start < caption.end
    assert " ".join(c.text.replace("\n", " ") for c in captions) == join_words(words)
    two = caption_lines(
        segment_words(words_at("a fairly short caption of two balanced lines".split()))
    )
    assert two[0].lines == ("a fairly short caption", "of two balanced lines")


def test_caption_cuts_a_word_longer_than_a_line():
    captions = caption_lines([Segment(0.0, 1.0, "y" * 100, [Word("y" * 100, 0.0, 1.0)])])
    lines = [line for c in captions for line in c.lines]
    assert lines == ["y" * 42, "y" * 42, "y" * 16]
    assert captions[0].start == 0.0 and captions[-1].end == 1.0
    assert captions[0].end == captions[1].start == 0.84


def test_caption_of_a_segment_without_words_uses_its_text():
    captions = caption_lines([Segment(1.0, 2.0, "hand made caption", [])])
    assert captions[0].text == "hand made caption"
    assert (captions[0].start, captions[0].end) == (1.0, 2.0)


def test_captions_of_random_segments_keep_every_word_and_fit():
    rng = random.Random(42)
    for _ in range(200):
        texts = [text for text in random_words(rng) if text]
        words = words_at(texts, step=0.25)
        segments = segment_words(words, max_chars=rng.choice([20, 84, 300]), max_seconds=100)
        line_chars, max_lines = rng.choice([10, 20, 42]), rng.choice([1, 2, 3])
        captions = caption_lines(segments, line_chars, max_lines)
        for caption in captions:
            assert 1 <= len(caption.lines) <= max_lines
            assert all(0 < len(line) <= line_chars for line in caption.lines)
            assert caption.start <= caption.end
        assert all(a.end <= b.start for a, b in zip(captions, captions[1:], strict=False))
        shown = "".join("".join(c.lines) for c in captions)
        assert shown.replace(" ", "") == "".join(texts)  # every word once, in order
        if words:
            assert (captions[0].start, captions[-1].end) == (words[0].start, words[-1].end)


def test_a_long_word_after_others_fills_the_cue_line_and_is_timed_by_characters():
    words = [Word("a", 0.0, 0.1), Word("y" * 100, 0.1, 1.1)]
    first, second = caption_lines([Segment(0.0, 1.1, join_words(words), words)])
    assert first.lines == ("a " + "y" * 40, "y" * 42) and second.lines == ("y" * 18,)
    assert (first.start, first.end, second.start, second.end) == (0.0, 0.92, 0.92, 1.1)


def test_a_word_of_thousands_of_characters_wraps_measuring_little():
    """A model fed noise can write a word of thousands of characters: cutting it must measure
    strings about a line long, not the whole word at every line (the overlay measures with
    font metrics on the GUI thread)."""
    from voxtral_mlx.text.captions import wrap

    measured = [0]

    def measure(text: str) -> int:
        measured[0] += len(text)
        return len(text)

    word = "".join(chr(97 + i % 26) for i in range(20000))
    lines = wrap(["hi", word, "yo"], 40, measure)
    assert "".join(s.text for line in lines for s in line if s.word == 1) == word
    assert all(len("".join(s.gap + s.text for s in line)) <= 40 for line in lines)
    assert measured[0] < 20 * len(word)  # a whole-word search measured ~75 M characters here
