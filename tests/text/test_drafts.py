"""draft_tail: which draft words follow the final text. A property test over random word
streams: the display is always the final text followed by a suffix of the draft, the final text
only grows, and with the two rows hearing the same words no word is shown twice."""

from __future__ import annotations

import random

import pytest

from voxtral_mlx.text.drafts import draft_tail
from voxtral_mlx.text.transcript import Word, join_words


def test_plain_cases():
    final = [Word("a", 0.0, 0.4), Word("b", 0.5, 0.9)]
    draft = [Word("a", 0.0, 0.4), Word("b", 0.58, 0.9), Word("c", 0.98, 1.2), Word("d", 1.3, 1.5)]
    assert draft_tail(final, draft) == draft[2:]  # c starts one token after b's end
    assert draft_tail(final, draft, decoded_to=1.0) == draft[3:]  # the final row heard c's start
    assert draft_tail([], draft) == draft
    assert draft_tail([], draft, decoded_to=0.6) == draft[2:]
    assert draft_tail(final, []) == []
    assert draft_tail([Word("a", 0.0, 0.9)], [Word("a", 0.9, 1.0)]) == []  # timed a token apart


def _truth(rng: random.Random, n: int) -> list[Word]:
    words, t = [], 0.0
    for i in range(n):
        t += rng.choice([0.0, 0.08, 0.16, 0.4])  # words may follow each other at once
        length = rng.choice([0.08, 0.16, 0.32, 0.56])
        words.append(Word(f"w{i}", round(t, 2), round(t + length, 2)))
        t += length
    return words


def _heard(truth: list[Word], rng: random.Random) -> list[Word]:
    """The draft row's version of the words: starts off by up to one token, in order."""
    out = []
    for w in truth:
        start = round(w.start + rng.choice([-0.08, 0.0, 0.0, 0.08]), 2)
        start = min(max(start, out[-1].start if out else 0.0), w.end - 0.08)
        out.append(Word(w.text, start, w.end))
    return out


@pytest.mark.parametrize("seed", range(60))
def test_display_is_final_then_a_draft_suffix_and_no_word_twice(seed):
    """Both rows step through the audio in 80 ms tokens, the final row ``lag`` tokens behind;
    each knows the words that start in what it has decoded (the last one maybe partial)."""
    rng = random.Random(seed)
    truth = _truth(rng, rng.randint(1, 40))
    draft_heard = _heard(truth, rng)
    lag, end = rng.randint(3, 30), truth[-1].end
    shown_before, step = "", 0
    while (step - lag) * 0.08 < end + 0.08:
        step += 1
        f_to, d_to = max(0, step - lag) * 0.08, step * 0.08
        # A word still being built ends where the row has decoded to.
        final = [Word(w.text, w.start, min(w.end, f_to)) for w in truth if w.start < f_to - 1e-9]
        draft = [w for w in draft_heard if w.start < d_to - 1e-9]
        tail = draft_tail(final, draft, decoded_to=f_to)
        assert tail == draft[len(draft) - len(tail) :]  # a suffix of the draft
        final_text = join_words(final)
        assert final_text.startswith(shown_before)  # the final text only grows
        shown_before = final_text
        shown = [w.text for w in final + tail]
        assert len(shown) == len(set(shown))  # no word twice
        order = [w.text for w in truth]
        assert shown == sorted(shown, key=order.index)  # in the spoken order
        # What is hidden between them is at most what starts within a token of the frontier.
        hidden = [w for w in truth[len(final) : order.index(tail[0].text) if tail else len(truth)]]
        assert all(w.start < f_to + 2 * 0.08 + 1e-9 for w in hidden) or not tail
    assert shown_before == join_words(truth)  # in the end all of it is final
