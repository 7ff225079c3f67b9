"""What the app listens to, and how it speaks of each source. Pure Python (no Qt, no MLX).

The choice: :data:`MICROPHONE` (the microphone picked beside it), :data:`COMPUTER` (what the
computer plays) or :data:`BOTH` (the two at once, labelled "You" and "Others":
:mod:`voxtral_mlx.live.source_set`). :class:`SourceStates` keeps each source's latest meter
reading while listening, which says what the status line and the overlay's state line show:
with one source as before labels existed; with two, which of them is lost or late.
"""

from __future__ import annotations

from voxtral_mlx.live.events import AudioState, MeterEvent
from voxtral_mlx.live.source_set import OTHERS, YOU

MICROPHONE, COMPUTER, BOTH = "microphone", "computer", "both"
LISTEN_CHOICES = {MICROPHONE: "Microphone", COMPUTER: "Computer audio", BOTH: "Both"}
LISTEN_TIPS = {
    MICROPHONE: "The microphone chosen beside",
    COMPUTER: "What the computer plays (a call, a video): its default output",
    BOTH: "The microphone (You) and what the computer plays (Others), each line labelled",
}
SOURCE_NAMES = {YOU: "Microphone", OTHERS: "Computer audio"}  # a label, in messages

LAG_WARN_S = 2.0
STALLED_TEXT = "No audio from {detail}: waiting for it (or choose another microphone)"
DEVICE_LOST = "Device lost"
LOST_TEXT = f"{DEVICE_LOST}: waiting for it (or choose another microphone)"
WAITING = (AudioState.STALLED, AudioState.LOST)


def source_name(label: str | None) -> str:
    """What the app calls a labelled source in messages: "Microphone", "Computer audio"."""
    return SOURCE_NAMES.get(label, label or "")


def about(label: str | None, message: str) -> str:
    """``message`` saying which source it is about (``"Computer audio: ..."``); as it is for
    one source (``label`` None)."""
    return message if label is None else f"{source_name(label)}: {message}"


def state_line(event: MeterEvent) -> str:
    """The overlay's state line for a meter reading: why captions may be missing or late."""
    if event.audio in WAITING:
        return f"{DEVICE_LOST}: waiting for it"
    if event.audio is AudioState.SILENT:
        return "No audio"
    return f"Behind by {event.lag:.0f} s" if event.lag > LAG_WARN_S else ""


class SourceStates:
    """The latest meter reading of each source of the recording (keyed by label; None for one
    source): what the status line says while one waits for its device, and the overlay's state
    line. GUI thread only."""

    def __init__(self) -> None:
        self.meters: dict[str | None, MeterEvent] = {}

    def clear(self) -> None:
        self.meters = {}

    def update(self, event: MeterEvent) -> None:
        self.meters[event.source] = event

    def forget(self, label: str | None) -> None:
        """A source that may have ended: its last reading no longer says anything."""
        self.meters.pop(label, None)

    def waiting(self, detail: str) -> str | None:
        """The status while a source delivers nothing (None: all deliver). One source: what it
        always said, naming ``detail``; several: which one, e.g. "Computer audio: device lost,
        waiting for it"."""
        for label, event in self.meters.items():
            if event.audio not in WAITING:
                continue
            if label is None:
                text = STALLED_TEXT if event.audio is AudioState.STALLED else LOST_TEXT
                return text.format(detail=detail)
            lost = "no audio" if event.audio is AudioState.STALLED else "device lost"
            return about(label, f"{lost}, waiting for it")
        return None

    def state_line(self) -> str:
        """The overlay's state line: one source's as :func:`state_line` says; with several, a
        source that is lost (named), "No audio" only when none has sound (one quiet side of a
        call is no news), else the longest lag."""
        if set(self.meters) <= {None}:
            return state_line(self.meters[None]) if self.meters else ""
        for label, event in self.meters.items():
            if event.audio in WAITING:
                return about(label, f"{DEVICE_LOST.lower()}, waiting for it")
        if all(event.audio is AudioState.SILENT for event in self.meters.values()):
            return "No audio"
        lag = max(event.lag for event in self.meters.values())
        return f"Behind by {lag:.0f} s" if lag > LAG_WARN_S else ""


__all__ = ["BOTH", "COMPUTER", "LISTEN_CHOICES", "MICROPHONE", "SourceStates", "about",
           "source_name", "state_line"]  # fmt: skip
