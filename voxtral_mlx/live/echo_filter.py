"""Drop the microphone's words that are the computer's own audio heard through loudspeakers.

When ``You`` (the microphone) and ``Others`` (the computer's audio) are transcribed together,
an :class:`~voxtral_mlx.audio.echo.EchoGate` is fed both streams as the model is (the
listeners' taps) and asked, for each final word of ``You``, whether that stretch of the
microphone is the computer's audio played back; such a word is dropped from the captions, the
transcript and the journal (its token ids stay, and the count is in the transcript's
metadata). The gate's clocks are the two sessions' own (both start with the sessions), so a
word's recording time minus the sessions' offset is its time in the gate. Headphones: the
gate finds no echo and nothing is dropped. Transcriber's thread only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from voxtral_mlx.live.source_set import OTHERS, YOU
from voxtral_mlx.text.transcript import Word


class EchoFilter:
    """The taps that feed the gate and the ``keep`` test of the microphone's words; with no
    gate (one source, or echo dropping off) both are None."""

    def __init__(self, gate: Any = None):
        self.gate = gate

    def tap(self, label: str | None) -> Callable[[np.ndarray], None] | None:
        if self.gate is None:
            return None
        return {YOU: self.gate.add_mic, OTHERS: self.gate.add_system}.get(label)

    def keep(self, label: str | None, offset: float) -> Callable[[Word], bool] | None:
        """For ``You``: False for a word (recording seconds; the sessions began at ``offset``)
        that is echo."""
        if self.gate is None or label != YOU:
            return None
        gate = self.gate

        def keep(word: Word) -> bool:
            return not gate.is_echo(word.start - offset, word.end - offset)

        return keep


def echo_filter(sources: Mapping[str | None, Any], enabled: bool) -> EchoFilter:
    """A filter with a gate when ``enabled`` and both the microphone and the computer's audio
    are among ``sources``."""
    if not enabled or YOU not in sources or OTHERS not in sources:
        return EchoFilter()
    from voxtral_mlx.audio.echo import EchoGate  # numpy only; loaded when two sources meet

    return EchoFilter(EchoGate())


__all__ = ["EchoFilter", "echo_filter"]
