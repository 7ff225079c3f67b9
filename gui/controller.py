"""The live session behind the window: the bridge to the transcriber and the caption model.

GUI thread only, no widgets and no MLX. :class:`Controller` owns the
:class:`~gui.bridge.EngineBridge` and the :class:`~gui.captions.CaptionModel`; it takes the
transcriber's events (queued to the GUI thread by the bridge), keeps the caption model and the
recording's state, and says what to show through its signals (text, draft, status line,
banner, meter, Start/Stop, the overlay's state line). The main window connects those to its
widgets and calls the controller's verbs (start, stop, save, ...) with what its controls hold.

Listening to the microphone and the computer's audio at once (:data:`~gui.sources.BOTH`), the
events name their source ("You", "Others"): the text and draft signals carry it, each source
has its own meter and lag, and a hint or error says which source it is about.

With a server as the engine (:mod:`gui.engine`) the status line names it ("Listening to USB
Mic · Server ws://…", "Connecting to the server ws://…" until it listens).
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
from .captions import CaptionModel, runs, shown_order
from .messages import in_gui_words
from .sources import DEVICE_LOST, LAG_WARN_S, MICROPHONE, SourceStates, about, state_line
from .status_line import idle_line, status_line

if TYPE_CHECKING:
    from voxtral_mlx.audio.mic import InputDevice


class Controller(QObject):
    """Recording verbs for the window; what to show as signals, each emitted on the GUI thread
    while the event that caused it is handled (receivers see the caption model already changed).
    """

    # new committed words' texts, word in progress, new paragraph, their source (None: one)
    text_changed = Signal(object, str, bool, object)
    draft_changed = Signal(str, object)  # the draft to show after the text, dimmed ("": none); its source  # fmt: skip
    captions_changed = Signal()  # the caption model changed (the overlay redraws)
    state_line_changed = Signal(str)  # for the overlay: "" or why captions are missing or late
    status_text = Signal(str)  # the status line
    message = Signal(str, str)  # (text, kind: "error" or "hint") for the banner
    message_outdated = Signal(str)  # a hint no longer true: it goes if the banner still shows it
    meter_changed = Signal(object, object, object)  # level in dB (None: no sound), lag in s (None: none), source  # fmt: skip
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
        self._stalled: str | None = None  # the status shown while a device delivers nothing
        self._states = SourceStates()  # each source's latest meter reading
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
        """The microphones (the computer's audio is a choice of its own: :mod:`gui.sources`);
        VoxtralError when capture is unavailable.
        ``rescan`` also finds ones plugged in since, but never while recording (see
        mic.rescan_devices)."""
        return self.bridge.devices(rescan=rescan and not self.bridge.busy)

    # ---- verbs ------------------------------------------------------------------------------
    def start(self, device: str, delay_ms: int, listen: str = MICROPHONE) -> None:
        """Record what ``listen`` says (:mod:`gui.sources`: the microphone ``device``, "" = the
        system default; the computer's audio; or both); the model loads first if needed."""
        first_load = not self.bridge.running or self.bridge.switching
        self.bridge.record(device, delay_ms, listen)
        self.recording_changed.emit(True)
        if first_load or self.bridge.engine.remote:  # a server: connecting takes a moment
            self.status_text.emit(status_line(self.bridge, Status.LOADING))

    def stop(self) -> None:
        """Stop listening; the last words still come, then the transcript is saved."""
        self._user_stopped = True
        self.bridge.stop_recording()
        self.recording_changed.emit(False)

    def switch_device(self, device: str, delay_ms: int, listen: str = MICROPHONE) -> None:
        """A new microphone or source choice: while listening, a new recording goes on with it
        now."""
        if self.bridge.listening:
            self.bridge.record(device, delay_ms, listen)

    def show_engine(self) -> None:
        """The engine chosen changed (or the app starts): when idle, the status line says
        which (the next Start uses it)."""
        if not self.bridge.busy:
            self.status_text.emit(idle_line(self.bridge))

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
        """Show an earlier recording after what is shown (as its own paragraph); a labelled
        one turn by turn, each opened by its label."""
        below = not self.captions.is_empty
        words = shown_order(transcript)
        self.captions.load(words)
        if not words:
            self.text_changed.emit([], "", below, None)
        for i, (source, run) in enumerate(runs(words)):
            self.text_changed.emit([w.text for w in run], "", below and not i, source)
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
        source, captions = event.source, self.captions
        if not event.words and captions.partial_of(source) == event.partial:
            return  # only pads: nothing changes on screen
        new_paragraph = self._new_paragraph
        self._new_paragraph = False
        draft = captions.draft_of(source)
        words = captions.add(event)
        if captions.draft_of(source) != draft:  # final words reached part of it: it goes first
            self.draft_changed.emit(captions.draft_text_of(source), source)
        texts = [w.text for w in words]
        self.text_changed.emit(texts, captions.partial_text_of(source), new_paragraph, source)
        self.captions_changed.emit()

    def _on_draft(self, event: DraftEvent) -> None:
        source = event.source
        if not self.captions.set_draft(event):
            return  # the same draft: nothing is redrawn
        if self._new_paragraph and event.words:  # a new recording's first text is this draft
            self._new_paragraph = False
            self.text_changed.emit([], self.captions.partial_text_of(source), True, source)
        self.draft_changed.emit(self.captions.draft_text_of(source), source)
        self.captions_changed.emit()

    def _on_status(self, event: StatusEvent) -> None:
        self._listening_to, self._stalled = event.detail or "the microphone", None
        self._states.clear()
        if event.status is Status.STOPPED and self.bridge.switching:
            self.status_text.emit(idle_line(self.bridge))  # let go for another model or engine
        else:
            self.status_text.emit(status_line(self.bridge, event.status, self._listening_to))
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
            self.meter_changed.emit(None, None, None)
        self.status_changed.emit(event.status)
        self._sync_recording()

    def _on_error(self, event: ErrorEvent) -> None:
        self._error_while_listening |= self.bridge.listening
        self.message.emit(about(event.source, in_gui_words(event.message)), "error")
        if event.source is not None:  # it may have ended alone: its meter says nothing now
            self._states.forget(event.source)  # (its next reading, if any, brings it back)
            self.meter_changed.emit(None, None, event.source)
        self._sync_recording()  # e.g. the microphone would not open: back to Start

    def _on_hint(self, event: HintEvent) -> None:
        self.message.emit(about(event.source, event.message), "hint")
        self._hint = event if event.clears_on is not None else None

    def _drop_hint(self, audio: AudioState | None = None, source: str | None = None) -> None:
        """A hint that is no longer true (sound came from its source; ``audio`` None: the
        recording ended) goes, unless another message has replaced it."""
        hint = self._hint
        if hint is None or audio not in (None, hint.clears_on):
            return
        if audio is not None and source != hint.source:
            return  # sound from the other source: this one may still be silent
        self._hint = None
        self.message_outdated.emit(about(hint.source, hint.message))

    def _on_meter(self, event: MeterEvent) -> None:
        self._drop_hint(event.audio, event.source)
        self._states.update(event)
        waiting = self._states.waiting(self._listening_to)
        if waiting != self._stalled and self.bridge.listening:  # stopped delivering, or again
            self._stalled = waiting  # the text shown while waiting (None: listening)
            listening = status_line(self.bridge, Status.LISTENING, self._listening_to)
            self.status_text.emit(waiting or listening)
        stalled = event.audio in (AudioState.STALLED, AudioState.LOST)
        self.meter_changed.emit(None if stalled else event.level_db, event.lag, event.source)
        if self.bridge.listening:
            self._set_state_line(self._states.state_line())

    def _on_dropped(self, event: DroppedEvent) -> None:
        self.message.emit(about(event.source,
            f"{event.total_seconds:.1f} s of audio were dropped: the computer could not keep up; "
            "a longer delay or a smaller model helps"), "hint",
        )  # fmt: skip

    def _on_transcript(self, event: TranscriptEvent) -> None:
        self.last_saved = event.path
        if event.path is not None:
            self.saved.emit(event.path)
        self._end_recording()

    def _end_recording(self) -> None:
        captions = self.captions
        if captions.recording or captions.partials or captions.drafts:
            drafted = [s for s in captions.sources if captions.draft_of(s)]
            sources = captions.sources or [None]
            captions.end_recording()
            for source in drafted:
                self.draft_changed.emit("", source)
            for source in sources:  # each source's word in progress goes
                self.text_changed.emit([], "", False, source)
            self.captions_changed.emit()

    def _set_state_line(self, text: str) -> None:
        if text != self.state_line:
            self.state_line = text
            self.state_line_changed.emit(text)

    def _sync_recording(self, *_) -> None:
        self.recording_changed.emit(self.bridge.busy)


__all__ = ["LAG_WARN_S", "Controller", "state_line"]  # state_line: the one-source state line
