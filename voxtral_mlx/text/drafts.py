"""Draft captions after final ones: which of the fast row's words to show after the accurate
row's text. Pure Python, no MLX.

Both rows transcribe the same audio and time their words in it; the final (long-delay) row is
the transcript, the draft (short-delay) row runs ahead. What is shown is the final text, then
the draft's words that start after the audio the final row has decoded (its pads included),
by a margin of one token (80 ms): the two rows may time the same word one token apart, and a
word the final row has reached must not show twice. Those draft words are a suffix of the
draft (its words are in time order), so the display is always the final text followed by a
suffix of the draft, and the final text never changes once shown. When the final row reaches
a word, the draft's copy leaves the display in the same update.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from voxtral_mlx.text.transcript import Word

MARGIN_S = 0.08  # one token: how far apart two rows may time the same word


def draft_tail(
    final: Sequence[Word], draft: Sequence[Word], decoded_to: float | None = None
) -> list[Word]:
    """The draft words to show after ``final`` (both in time order); ``decoded_to``: the audio
    time the final row has decoded up to (default: the end of its last word)."""
    ends = [t for t in (final[-1].end if final else None, decoded_to) if t is not None]
    if not ends:
        return list(draft)
    cutoff = max(ends) + MARGIN_S
    # Draft words are in time order: the first one past the cutoff starts the suffix (found by
    # bisection: the draft of a long recording holds every word so far, stepped 12.5 x a second).
    first = bisect.bisect_left(draft, cutoff - 1e-9, key=lambda word: word.start)
    return list(draft[first:])


__all__ = ["MARGIN_S", "draft_tail"]
