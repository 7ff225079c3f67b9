"""The live session behind the window: the bridge to the transcriber and the caption model.

GUI thread only, no widgets and no MLX. :class:`Controller` owns the
:class:`~gui.bridge.EngineBridge` and the :class:`~gui.captions.CaptionModel`; it takes the
transcriber's events (queued to the GUI thread by the bridge), keeps the caption model and the
recording's state, and says what to show through its signals (text, draft, status line,
banner, meter, Start/Stop, the overlay's state line). The main window connects those to its
widgets and calls the controller's verbs (start, stop, save, ...) with what its controls hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from voxtral_mlx.live.events import (
    AudioState,
    DraftEvent,
    DroppedEvent,
    ErrorEvent,
    HintEvent,
    LiveEvent,
    MeterEvent,
    Status,
    StatusEvent,
    TextEvent,
    TranscriptEvent,
)
from voxtral_mlx.text.transcript import Transcript
from voxtral_mlx.text.writers import WRITERS

from .bridge import EngineBridge
from .captions import CaptionModel
from .messages import in_gui_words

if TYPE_CHECKING:
    from voxtral_mlx.audio.mic import InputDevice

LAG_WARN_S = 2.0
STATUS_TEXT = {
    Status.LOADING: "Loading the model…",
    Status.LISTENING: "Listening to {detail}",
    Status.IDLE: "Ready",
    Status.STOPPED: "Stopped",
}
STALLED_TEXT = "No audio from {detail}: waiting for it (or choose another microphone)"
DEVICE_LOST = "Device lost"
LOST_TEXT = f"{DEVICE_LOST}: waiting for it (or choose another microphone)"


def state_line(event: MeterEvent) -> str:
    """The overlay's state line for a meter reading: why captions may be missing or late."""
    if event.audio in (AudioState.STALLED, AudioState.LOST):
        return f"{DEVICE_LOST}: waiting for it"
    if event.audio is AudioState.SILENT:
        return "No audio"
    return f"Behind by {event.lag:.0f} s" if event.lag > LAG_WARN_S else ""


class Controller(QObject):
    """Recording verbs for the window; what to show as signals, each emitted on the GUI thread
    while the event that caused it is handled (receivers see the caption model already changed).
    """

    text_changed = Signal(object, str, bool)  # new committed words' texts, word in progress, new paragraph  # fmt: skip
    draft_changed = Signal(str)  # the draft to show after the text, dimmed ("": none)
    captions_changed = Signal()  # the caption model changed (the overlay redraws)
    state_line_changed = Signal(str)  # for the overlay: "" or why captions are missing or late
    status_text = Signal(str)  # the status line
    message = Signal(str, str)  # (text, kind: "error" or "hint") for the banner
    message_outdated = Signal(str)  # a hint no longer true: it goes if the banner still shows it
    meter_changed = Signal(object, object)  # level in dB (None: no sound), lag in s (None: none)
    recording_changed = Signal(bool)  # what Start/Stop offers: True = Stop
    status_changed = Signal(object)  # the transcriber's Status, after the signals above
    saved = Signal(object)  # the Path the finished recording was autosaved to

    def __init__(self, bridge: EngineBridge, parent: QObject | None = None):
        super().__init__(parent)
        bridge.setParent(self)
        self.bridge = bridge
        self.captions = CaptionModel()
        self.last_saved: Path | None = None  # the autosaved transcript of the last recording
        self.state_line = ""
        self._new_paragraph = False
        self._listening_to = ""  # the source named by the last LISTENING status
        self._stalled: str | None = None  # the status shown while the device delivers nothing
        self._hint: HintEvent | None = None  # the hint shown while it is true (silence)
        self._error_while_listening = self._user_stopped = False
        bridge.event.connect(self.on_event)
        bridge.listening_changed.connect(self._sync_recording)

    # ---- the transcriber's state ------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """Recording, or about to (Start pressed, the model still loading)."""
        return self.bridge.busy

    @property
    def running(self) -> bool:
        """The transcriber's thread runs (a model is loaded or loading)."""
        return self.bridge.running

    @property
    def needs_download(self) -> bool:
        """Start would have to download the model first (none loaded, none on disk)."""
        return not self.bridge.running and self.bridge.needs_download

    @property
    def autosave_folder(self) -> Path:
        return self.bridge.autosave_folder

    def devices(self, rescan: bool) -> list[InputDevice]:
        """The microphones, then the computer's audio where there is a source for it
        (:data:`~gui.bridge.COMPUTER_AUDIO`); VoxtralError when capture is unavailable.
        ``rescan`` also finds ones plugged in since, but never while recording (see
        mic.rescan_devices)."""
        return self.bridge.devices(rescan=rescan and not self.bridge.busy)

    # ---- verbs ------------------------------------------------------------------------------
    def start(self, device: str, delay_ms: int) -> None:
        """Record from ``device`` ("" = the system default microphone, COMPUTER_AUDIO = what the
        computer plays); the model loads first if needed."""
        first_load = not self.bridge.running
        self.bridge.record(device, delay_ms)
        self.recording_changed.emit(True)
        if first_load:
            self.status_text.emit(STATUS_TEXT[Status.LOADING])

    def stop(self) -> None:
        """Stop listening; the last words still come, then the transcript is saved."""
        self._user_stopped = True
        self.bridge.stop_recording()
        self.recording_changed.emit(False)

    def switch_device(self, device: str, delay_ms: int) -> None:
        """A new microphone (or the computer's audio) chosen: while listening, the recording
        goes on with it now."""
        if self.bridge.listening:
            self.bridge.record(device, delay_ms)

    def set_delay(self, delay_ms: int) -> None:
        self.bridge.set_delay(delay_ms)

    def shutdown(self) -> None:
        """Flush and save on the transcriber's thread, then end it; returns at once."""
        self.bridge.shutdown()

    def join(self, timeout: float | None = None) -> bool:
        return self.bridge.join(timeout)

    def clear(self) -> None:
        self.captions.clear()
        self.captions_changed.emit()

    def load(self, transcript: Transcript) -> None:
        """Show an earlier recording after what is shown (as its own paragraph)."""
        below = not self.captions.is_empty
        self.captions.load(transcript.words)
        self.text_changed.emit([w.text for w in transcript.words], "", below)
        self.captions_changed.emit()

    def save(self, path: Path, delay_ms: int) -> Path:
        """Write what is shown in the format the suffix names (txt, srt, vtt, json; another
        suffix: txt); returns the path written. VoxtralError when it cannot be written."""
        fmt = path.suffix.lower().lstrip(".") or "txt"
        if fmt not in WRITERS:
            path, fmt = path.with_suffix(".txt"), "txt"
        return WRITERS[fmt](self.captions.transcript(delay_ms=delay_ms), path)

    # ---- events from the transcriber --------------------------------------------------------
    def on_event(self, event: LiveEvent) -> None:
        handler = {
            TextEvent: self._on_text,
            DraftEvent: self._on_draft,
            StatusEvent: self._on_status,
            MeterEvent: self._on_meter,
            ErrorEvent: self._on_error,
            HintEvent: self._on_hint,
            DroppedEvent: self._on_dropped,
            TranscriptEvent: self._on_transcript,
        }.get(type(event))
        if handler is not None:
            handler(event)

    def _on_text(self, event: TextEvent) -> None:
        if not event.words and self.captions.partial == event.partial:
            return  # only pads: nothing changes on screen
        new_paragraph = self._new_paragraph
        self._new_paragraph = False
        draft = self.captions.draft
        words = self.captions.add(event)
        if self.captions.draft != draft:  # final words reached part of it: that part goes first
            self.draft_changed.emit(self.captions.draft_text)
        self.text_changed.emit([w.text for w in words], self.captions.partial_text, new_paragraph)
        self.captions_changed.emit()

    def _on_draft(self, event: DraftEvent) -> None:
        if not self.captions.set_draft(event):
            return  # the same draft: nothing is redrawn
        if self._new_paragraph and event.words:  # a new recording's first text is this draft
            self._new_paragraph = False
            self.text_changed.emit([], self.captions.partial_text, True)
        self.draft_changed.emit(self.captions.draft_text)
        self.captions_changed.emit()

    def _on_status(self, event: StatusEvent) -> None:
        self._listening_to, self._stalled = event.detail or "the microphone", None
        self.status_text.emit(STATUS_TEXT[event.status].format(detail=self._listening_to))
        lost = self._error_while_listening and not self._user_stopped
        self._set_state_line(DEVICE_LOST if lost and event.status is not Status.LISTENING else "")
        if event.status is Status.LISTENING:
            self._error_while_listening = self._user_stopped = False
            if not self.captions.recording:  # a new recording, not a new delay on the same one
                self._new_paragraph = bool(self.captions.words)
                self.captions.begin_recording()
        else:
            self._drop_hint()
            self._end_recording()
            self.meter_changed.emit(None, None)
        self.status_changed.emit(event.status)
        self._sync_recording()

    def _on_error(self, event: ErrorEvent) -> None:
        self._error_while_listening |= self.bridge.listening
        self.message.emit(in_gui_words(event.message), "error")
        self._sync_recording()  # e.g. the microphone would not open: back to Start

    def _on_hint(self, event: HintEvent) -> None:
        self.message.emit(event.message, "hint")
        self._hint = event if event.clears_on is not None else None

    def _drop_hint(self, audio: AudioState | None = None) -> None:
        """A hint that is no longer true (sound came; ``audio`` None: the recording ended)
        goes, unless another message has replaced it."""
        hint = self._hint
        if hint is None or audio not in (None, hint.clears_on):
            return
        self._hint = None
        self.message_outdated.emit(hint.message)

    def _on_meter(self, event: MeterEvent) -> None:
        self._drop_hint(event.audio)
        stalled = event.audio in (AudioState.STALLED, AudioState.LOST)
        waiting = {AudioState.STALLED: STALLED_TEXT, AudioState.LOST: LOST_TEXT}.get(event.audio)
        if waiting != self._stalled and self.bridge.listening:  # stopped delivering, or again
            self._stalled = waiting  # the text shown while waiting (None: listening)
            text = waiting or STATUS_TEXT[Status.LISTENING]
            self.status_text.emit(text.format(detail=self._listening_to))
        self.meter_changed.emit(None if stalled else event.level_db, event.lag)
        if self.bridge.listening:
            self._set_state_line(state_line(event))

    def _on_dropped(self, event: DroppedEvent) -> None:
        self.message.emit(
            f"{event.total_seconds:.1f} s of audio were dropped: the computer could not keep up; "
            "a longer delay or a smaller model helps", "hint",
        )  # fmt: skip

    def _on_transcript(self, event: TranscriptEvent) -> None:
        self.last_saved = event.path
        if event.path is not None:
            self.saved.emit(event.path)
        self._end_recording()

    def _end_recording(self) -> None:
        if self.captions.recording or self.captions.partial is not None or self.captions.draft:
            drafted = bool(self.captions.draft)
            self.captions.end_recording()
            if drafted:
                self.draft_changed.emit("")
            self.text_changed.emit([], "", False)
            self.captions_changed.emit()

    def _set_state_line(self, text: str) -> None:
        if text != self.state_line:
            self.state_line = text
            self.state_line_changed.emit(text)

    def _sync_recording(self, *_) -> None:
        self.recording_changed.emit(self.bridge.busy)
