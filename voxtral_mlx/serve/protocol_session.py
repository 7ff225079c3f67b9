"""The per-connection rules of vLLM's realtime protocol, without I/O: what each client event does.

:class:`ConnectionState` takes parsed events (or raw messages) and answers with :data:`Action` s
for the app: :class:`Reply` (send this event now), :class:`StartUtterance` (open a row: the model
state of a new utterance), :class:`FeedAudio`, :class:`FinishUtterance` (the audio has ended: pad,
flush, then send the deltas left and ``transcription.done``). The app calls
:meth:`ConnectionState.utterance_done` once it has sent that done event.

vLLM's rules, as its connection.py has them (docs/realtime-protocol.md):

- ``session.update`` checks the model; nothing is sent back unless it is wrong.
- A commit (final or not) before a valid ``session.update``: error model_not_validated, ignored.
- The first commit (``final`` false) opens an utterance; audio appended before it is kept and fed
  first. Another commit while one is open is ignored.
- ``final: true`` ends the open utterance's audio. Audio appended after it, until the done event,
  is dropped (vLLM clears its queue after done); the next commit opens a new utterance.

Ours, where vLLM would hang or grow without bound: a final commit with no open utterance opens
one and ends it at once (vLLM waits for a later commit and sends nothing), so a client waiting
for ``transcription.done`` gets one; audio appended before the first commit is capped at
``max_pending_samples`` (input_audio_buffer_full error for the chunk that does not fit).
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxtral_mlx.serve.protocol import (
    AUDIO_SAMPLE_RATE,
    AudioAppend,
    ClientEvent,
    Commit,
    ErrorCode,
    ProtocolError,
    SessionUpdate,
    check_model,
    error_event,
    parse_client_message,
)

MAX_PENDING_SECONDS = 30.0  # audio kept before the first commit (vLLM: unbounded)


@dataclass(frozen=True)
class Reply:
    """Send ``event`` (an error event) to this client now."""

    event: dict[str, Any]


@dataclass(frozen=True)
class StartUtterance:
    """Open a new utterance: a fresh row of the engine for this connection."""


@dataclass(frozen=True, eq=False)
class FeedAudio:
    """Audio for the open utterance: float32 mono at 16 kHz."""

    samples: np.ndarray


@dataclass(frozen=True)
class FinishUtterance:
    """The open utterance's audio has ended: let its last words out, send ``transcription.done``,
    then call :meth:`ConnectionState.utterance_done`."""


Action = Reply | StartUtterance | FeedAudio | FinishUtterance


class Phase(enum.Enum):
    IDLE = "idle"  # no utterance: appends wait in the pending buffer
    OPEN = "open"  # an utterance takes audio
    FINISHING = "finishing"  # final commit seen, done not yet sent: appends are dropped


class ConnectionState:
    """One connection's protocol state. Not thread-safe: one connection's task owns it.

    ``served``: the model names ``session.update`` may give (``""`` always passes, as in vLLM);
    ``max_pending_samples``: audio kept before the first commit."""

    def __init__(
        self,
        served: Collection[str],
        max_pending_samples: int = int(MAX_PENDING_SECONDS * AUDIO_SAMPLE_RATE),
    ) -> None:
        self.served = frozenset(served)
        self.max_pending_samples = max_pending_samples
        self.model_validated = False
        self.phase = Phase.IDLE
        self._pending: list[np.ndarray] = []
        self._pending_samples = 0

    def handle_message(self, message: str | bytes) -> list[Action]:
        """Parse one client message and :meth:`handle` it; a refused message is a Reply."""
        try:
            return self.handle(parse_client_message(message))
        except ProtocolError as err:
            return [Reply(err.event())]

    def handle(self, event: ClientEvent) -> list[Action]:
        """The actions one parsed event calls for, in order (often none)."""
        if isinstance(event, SessionUpdate):
            return self._session_update(event)
        if isinstance(event, AudioAppend):
            return self._append(event.samples)
        return self._commit(event)

    def utterance_done(self) -> None:
        """The app sent ``transcription.done``: back to idle. Audio sent since the final commit
        was dropped as it came (vLLM empties its queue here), so the next utterance starts clean."""
        self.phase = Phase.IDLE

    def _session_update(self, event: SessionUpdate) -> list[Action]:
        try:
            check_model(event.model, self.served)
        except ProtocolError as err:  # a failed update keeps an earlier validation, as vLLM's
            return [Reply(err.event())]
        self.model_validated = True
        return []

    def _append(self, samples: np.ndarray) -> list[Action]:
        if self.phase is Phase.OPEN:
            return [FeedAudio(samples)]
        if self.phase is Phase.FINISHING:
            return []
        if self._pending_samples + len(samples) > self.max_pending_samples:
            seconds = self.max_pending_samples / AUDIO_SAMPLE_RATE
            message = (
                f"more than {seconds:g} s of audio before input_audio_buffer.commit: send "
                "session.update, then a commit, then the audio; this chunk was dropped"
            )
            return [Reply(error_event(message, ErrorCode.BUFFER_FULL))]
        self._pending.append(samples)
        self._pending_samples += len(samples)
        return []

    def _commit(self, event: Commit) -> list[Action]:
        if not self.model_validated:
            message = (
                "Model not validated: send session.update with the model's name "
                "(GET /v1/models) before input_audio_buffer.commit"
            )
            return [Reply(error_event(message, ErrorCode.MODEL_NOT_VALIDATED))]
        if self.phase is Phase.FINISHING or (self.phase is Phase.OPEN and not event.final):
            return []  # vLLM: "generation already in progress", ignored
        actions: list[Action] = []
        if self.phase is Phase.IDLE:
            actions = [StartUtterance(), *(FeedAudio(chunk) for chunk in self._pending)]
            self._pending, self._pending_samples = [], 0
            self.phase = Phase.OPEN
        if event.final:
            actions.append(FinishUtterance())
            self.phase = Phase.FINISHING
        return actions
