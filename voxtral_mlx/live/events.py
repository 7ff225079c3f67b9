"""What a :class:`~voxtral_mlx.live.engine.LiveTranscriber` tells its listener.

Every event is a frozen dataclass of plain Python values (str, float, int, tuples, a
:class:`~voxtral_mlx.text.transcript.Transcript`): no MLX array ever leaves the inference thread, so
events may be handed to any thread (a Qt signal, a queue). All carry ``at``, the
``time.monotonic()`` second they were made. Times inside the audio are seconds from the start
of the recording (device or delay switches keep counting). With several sources at once (the
microphone and the computer's audio) each event about one of them names it in ``source``.

=================  =======================================================================
event              when / fields
=================  =======================================================================
StatusEvent        ``status`` (:class:`Status`) changed; ``detail`` names the source or model
TextEvent          after every model step that decoded tokens (pads too: ``end`` says how far
                   transcription has got): ``text`` raw piece text, ``words`` that became
                   final, ``partial`` the word still being built, ``word_starts`` times
DraftEvent         with drafts on, after every step that decoded tokens of either row: ``words``
                   the fast draft row's words the final text has not reached yet (show
                   them dimmed after it, replacing the previous draft)
MeterEvent         about 10 x a second while listening: level (RMS dBFS), lag, audio state
DroppedEvent       audio was lost: the capture queue overflowed, or PortAudio flagged overflow
HintEvent          a one-line hint, e.g. only silence for 2 s (muted? macOS permission?);
                   ``clears_on``: the audio state that makes it untrue (sound came)
ErrorEvent         a one-line error; ``fatal`` when the transcriber stops because of it (a
                   device that stopped delivering is one, not fatal: a HintEvent follows if it
                   delivers again)
TranscriptEvent    a recording was finished (stop, end of source, switch with a new transcript)
=================  =======================================================================
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from pathlib import Path

from voxtral_mlx.text.transcript import Transcript, Word, join_words


class Status(str, enum.Enum):
    """``loading`` the model; ``listening`` to a source; ``idle`` (model loaded, no source, waiting
    for ``switch``); ``stopped`` (the thread has ended: the last event)."""

    LOADING = "loading"
    LISTENING = "listening"
    IDLE = "idle"
    STOPPED = "stopped"


class AudioState(str, enum.Enum):
    """What the source delivers: ``flowing`` sound; ``silent`` (nothing but silence for a
    while: muted?); ``stalled`` (the device stopped delivering: suspended); ``lost`` (the
    device has gone, e.g. unplugged: waiting for it to come back)."""

    FLOWING = "flowing"
    SILENT = "silent"
    STALLED = "stalled"
    LOST = "lost"


@dataclass(frozen=True, kw_only=True)
class LiveEvent:
    """``at``: when it was made; ``source``: the label of the source it is about when several
    are transcribed at once ("You", "Others"), None when there is one."""

    at: float = field(default_factory=time.monotonic)
    source: str | None = None


@dataclass(frozen=True)
class StatusEvent(LiveEvent):
    status: Status
    detail: str = ""


@dataclass(frozen=True)
class TextEvent(LiveEvent):
    """One model step's output.

    ``text``: the token pieces decoded in this step, concatenated (may start with a space;
    ``""`` when only pads came). ``start``/``end``: the audio these tokens describe.
    ``words``: words that became final with this step, in order (their text will not change).
    ``partial``: the word still being built (its text may still grow), or None.
    ``word_starts``: audio times at which a new word started in this step.
    ``n_tokens``: how many tokens the step decoded.
    """

    text: str
    start: float
    end: float
    words: tuple[Word, ...] = ()
    partial: Word | None = None
    word_starts: tuple[float, ...] = ()
    n_tokens: int = 0


@dataclass(frozen=True)
class DraftEvent(LiveEvent):
    """The draft to show after the final text now (it replaces the previous one; empty: none).

    ``words``: the draft row's words that start at or after the end of the final text's last
    word (:func:`voxtral_mlx.text.drafts.draft_tail`), in recording seconds; ``text`` their
    text. They are never saved: the transcript holds the final row's words only.
    """

    words: tuple[Word, ...] = ()

    @property
    def text(self) -> str:
        return join_words(self.words)


@dataclass(frozen=True)
class MeterEvent(LiveEvent):
    """``level_db``: RMS dBFS of the latest audio (-100 for silence). ``lag``: seconds of audio
    received but not yet transcribed, beyond the chosen delay (queued in the source included).
    ``audio_seconds``: audio received so far in this recording. ``audio``: :class:`AudioState`
    of the source now."""

    level_db: float
    lag: float
    audio_seconds: float
    audio: AudioState = AudioState.FLOWING


@dataclass(frozen=True)
class DroppedEvent(LiveEvent):
    """``seconds`` newly dropped (oldest audio, queue full), ``total_seconds`` in this source,
    ``overflows``: PortAudio input-overflow flags so far (audio lost before it reached us)."""

    seconds: float
    total_seconds: float
    overflows: int = 0


@dataclass(frozen=True)
class HintEvent(LiveEvent):
    """``clears_on``: the hint stops being true once a MeterEvent's ``audio`` is this (the
    silence hint: :attr:`AudioState.FLOWING`); None: it stays true."""

    message: str
    clears_on: AudioState | None = None


@dataclass(frozen=True)
class ErrorEvent(LiveEvent):
    message: str
    fatal: bool = False


@dataclass(frozen=True)
class TranscriptEvent(LiveEvent):
    """A finished recording. ``path``: its final JSON in the autosave folder (None if autosave
    is off); ``journal``: the JSON-lines autosave it was built from."""

    transcript: Transcript
    path: Path | None = None
    journal: Path | None = None


__all__ = [
    "AudioState",
    "DraftEvent",
    "DroppedEvent",
    "ErrorEvent",
    "HintEvent",
    "LiveEvent",
    "MeterEvent",
    "Status",
    "StatusEvent",
    "TextEvent",
    "TranscriptEvent",
]
