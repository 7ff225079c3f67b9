"""A source and the :class:`~voxtral_mlx.decode.session.StreamingSession` listening to it: the
live transcriber's audio path, on its (MLX) thread.

Audio crosses one queue between the device callback and the session: the source's. What
``read`` returns goes to the session as it is (``StreamingSession.push``: no inbox, no copy);
it is made read-only first, since the session keeps it and the ``tap`` sees it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from voxtral_mlx.audio.sources import AudioSource
from voxtral_mlx.live.monitor import SourceMonitor
from voxtral_mlx.text.transcript import TokenEvent

log = logging.getLogger(__name__)


class Listener:
    """``session`` transcribing ``source`` (one per session: a switch of delay keeps the source
    and gets a new listener); ``label``: the source's label when several are on. Each turn of
    the loop: :meth:`pump` (read, step, take), or, for several listeners whose sessions share
    a ``SessionGroup``, :meth:`read` each, one group step, :meth:`take` each. Then
    :meth:`end_source` and/or :meth:`drain` at the end."""

    def __init__(self, source: AudioSource, session: Any, monitor: SourceMonitor,
                 tap: Callable[[np.ndarray], None] | list | None, label: str | None = None):  # fmt: skip
        self.source, self.session, self.label = source, session, label
        # Each tap sees every chunk, in order, on its own: one's failure costs the others nothing.
        self._monitor, self._taps = monitor, tap if isinstance(tap, list) else [tap] if tap else []
        self.decoded_to = 0.0  # this session's audio seconds its tokens have reached
        self.backlog = False  # the last step used its whole token budget: do not wait to read
        self.drained = False  # drain() has begun
        monitor.begin(source)

    def pump(self, max_tokens: int, wait: float) -> tuple[list[TokenEvent], bool]:
        """Read (up to ``wait`` s for audio, unless behind), feed, step: the new tokens, and
        whether the source has finished."""
        finished = self.read(wait)
        self.session.group.step(max_tokens)
        return self.take(max_tokens), finished

    def read(self, wait: float) -> bool:
        """Read (up to ``wait`` s for audio, unless behind) and feed; whether the source has
        finished."""
        chunk = self.source.read(0.0 if self.backlog else wait)
        if chunk is not None and chunk.size:
            self.feed(chunk)
        return chunk is None and self.source.finished

    def take(self, max_tokens: int) -> list[TokenEvent]:
        """The session's tokens decoded since the last take (by whoever stepped its group)."""
        events = self.session.take()
        if events:
            self.decoded_to = events[-1].end
        self.backlog = len(events) >= max_tokens
        return events

    def report(self, offset: float) -> None:
        """Meter, drops, hints and stalls due now (``offset``: the recording's seconds before)."""
        self._monitor.report(self.source, self.session, self.decoded_to, offset)

    def feed(self, chunk: np.ndarray) -> None:
        """Hand a chunk the source read (the caller's, see AudioSource) to the session."""
        chunk.flags.writeable = False
        self.session.push(chunk)
        self._monitor.fed(chunk)
        for tap in self._taps:
            try:
                tap(chunk)
            except Exception:  # a listener's bug must not stop transcription
                log.exception("live audio tap failed")

    def end_source(self) -> None:
        """Stop the source, feed what it captured, close it (also when reading raised)."""
        try:
            self.source.stop()
            while (chunk := self.source.read(0.0)) is not None:
                if chunk.size:
                    self.feed(chunk)
        finally:
            self.source.close()

    def drain(self, max_tokens: int) -> Iterator[list[TokenEvent]]:
        """Close the session and step it until done."""
        self.drained = True
        self.session.close()
        while not self.session.done:
            yield self._step(max_tokens)

    def _step(self, max_tokens: int) -> list[TokenEvent]:
        events = self.session.step(max_tokens)
        if events:
            self.decoded_to = events[-1].end
        return events


__all__ = ["Listener"]
