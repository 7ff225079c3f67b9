"""The bridge between the GUI thread and the one thread that runs MLX.

Why a thin adapter and not a ``QObject`` moved to a ``QThread``: :class:`LiveTranscriber`
already owns a thread (it loads the model and steps it there: MLX streams belong to the thread
that made them) and its verbs (``start``/``switch``/``stop``) never block. Wrapping it in a
QThread would add a second thread that only waits, and every thread that has run MLX leaves an
OS thread behind (mlx 0.32.4), so the app keeps one transcriber for its lifetime (a new one
only after a fatal error or when the user picks another model or engine).
:class:`EngineBridge` lives on the GUI thread; the transcriber calls its ``on_event`` on the
inference thread, which only emits :attr:`EngineBridge.event`. Receivers live on the GUI thread,
so Qt delivers the event there through a queued connection. Events are frozen dataclasses of
plain Python values (:mod:`voxtral_mlx.live.events`): nothing from MLX crosses.

This module imports :mod:`voxtral_mlx.live.engine` and :mod:`voxtral_mlx.audio.mic` (and,
through :mod:`gui.system_audio`, this system's computer-audio source), none of which imports
mlx; mlx is first imported by the model loader, on the transcriber's thread.

What is recorded is the window's choice (:mod:`gui.sources`): the microphone, the computer's
audio (``system_audio``: this system's source for it, None where there is none, and then
:attr:`EngineBridge.computer_audio_missing` says why), or both at once, started as
``{"You": microphone, "Others": computer audio}``: two labelled rows of one batch.
:data:`COMPUTER_AUDIO` is the name an older version remembered as the "device" for the
computer's audio (still recorded as such).

What captions is the :class:`~gui.engine.Engine` chosen: the model here (``model_loader`` or a
:class:`FolderLoader`), or a server (its ``remote_loader``: no model is loaded or downloaded
here, there are no drafts and the delay is the server's). A new engine takes effect at the
next Record: the transcriber of the old one is stopped (at once when idle) and joined then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from voxtral_mlx.audio.mic import InputDevice, MicSource, list_devices
from voxtral_mlx.live.autosave import default_dir
from voxtral_mlx.live.engine import FolderLoader, LiveTranscriber
from voxtral_mlx.live.events import ErrorEvent, LiveEvent, Status, StatusEvent
from voxtral_mlx.live.source_set import OTHERS, YOU

from .download import model_on_disk
from .engine import Engine
from .settings import LEGACY_COMPUTER_AUDIO
from .sources import BOTH, COMPUTER, MICROPHONE
from .system_audio import system_audio_factory, system_audio_missing

log = logging.getLogger(__name__)
# What an older version remembered as the device for what the computer plays (no PortAudio
# device is called this): recorded as the computer's audio.
COMPUTER_AUDIO = LEGACY_COMPUTER_AUDIO


class EngineBridge(QObject):
    """Record / stop / change delays from the GUI thread; events back as :attr:`event`.

    ``model_loader``: what :class:`LiveTranscriber` calls on its thread (default: a
    :class:`FolderLoader` for ``model``). ``sd``: the sounddevice module for :class:`MicSource`
    (tests pass the fake). ``autosave_dir``: where recordings are journaled (None: the default).
    ``draft_delay_ms``: the draft row's delay (0: no drafts); ``keep_audio``: each recording's
    audio kept beside its journal (:mod:`voxtral_mlx.live.audio_keeper`). ``system_audio``:
    makes the "Computer audio" source (default: :func:`system_audio_factory` with the real
    sounddevice; none with a fake ``sd``, whose tests give their own); None: the computer's
    audio cannot be chosen. ``engine``: what captions (default: the model here).
    """

    event = Signal(object)  # a LiveEvent, always delivered on the GUI thread
    listening_changed = Signal(bool)
    progress = Signal(str, int, int)  # (stage, done, total) while converting a downloaded model

    def __init__(self, model: str | Path = "", *, model_loader: Callable | None = None,
                 sd: Any = None, autosave_dir: str | Path | None = None,
                 draft_delay_ms: int = 0, keep_audio: bool = False,
                 system_audio: Callable[[], Any] | None = None, engine: Engine | None = None,
                 parent: QObject | None = None):  # fmt: skip
        super().__init__(parent)
        self.model = str(model)
        self._loader = model_loader
        self.sd = sd
        self.system_audio = system_audio or (system_audio_factory() if sd is None else None)
        self.autosave_dir = autosave_dir
        self.draft_delay_ms = draft_delay_ms
        self.keep_audio = keep_audio
        self.live: LiveTranscriber | None = None
        self.status: Status | None = None
        self.listening = False
        self._want_listening = False
        self._stale = False  # the transcriber holds a model no longer chosen
        self.engine = engine or Engine()
        self._live_engine = self.engine  # the engine of the transcriber made last
        self.event.connect(self._track)

    # ---- GUI thread -------------------------------------------------------------------------
    def devices(self, rescan: bool = False) -> list[InputDevice]:
        """The input devices now (DeviceError when audio capture is unavailable); ``rescan``
        finds ones plugged in since (skipped by :mod:`voxtral_mlx.audio.mic` while recording)."""
        return list_devices(self.sd, rescan=rescan)

    @property
    def computer_audio_missing(self) -> str:
        """Why the computer's audio cannot be chosen, in one line ("": it can)."""
        if self.system_audio is not None:
            return ""
        return system_audio_missing() or "Computer audio is not available here"

    def record(self, device: str | None, delay_ms: int, listen: str = MICROPHONE) -> None:
        """Start a new recording of ``listen`` (:mod:`gui.sources`): the microphone ``device``
        (name; None or "" = system default), the computer's audio, or both (labelled "You" and
        "Others"). Without a computer-audio source, the microphone alone."""
        self._ensure_started(delay_ms)
        self._want_listening = True
        source = self._source(device, listen)
        delay_ms = None if self.engine.remote else delay_ms  # the server's (as --mic --server)
        self.live.switch(source=source, delay_ms=delay_ms, new_transcript=True,
                         draft_delay_ms=self._drafts)  # fmt: skip

    def _source(self, device: str | None, listen: str = MICROPHONE):
        """The source(s) for a choice (made here, opened by the transcriber): one source, or
        ``{"You": microphone, "Others": computer audio}`` for both."""
        computer = self.system_audio
        if computer is not None and (listen == COMPUTER or device == COMPUTER_AUDIO):
            return computer()
        mic = MicSource(None if device in (None, "", COMPUTER_AUDIO) else device, sd=self.sd)
        if listen == BOTH and computer is not None:
            return {YOU: mic, OTHERS: computer()}
        return mic

    def stop_recording(self) -> None:
        """Stop listening; the last words are flushed, the model stays loaded."""
        self._want_listening = False
        if self.live is not None and self.live.running:
            self.live.switch(source=None)

    def set_delay(self, delay_ms: int) -> None:
        """Applies now when listening (a new session on the loaded model), else on next record."""
        if self.live is not None and self.live.running and self.listening and not self.engine.remote:  # fmt: skip
            self.live.switch(delay_ms=delay_ms)

    def set_draft_delay(self, draft_delay_ms: int) -> None:
        """The draft row's delay (0: drafts off); like :meth:`set_delay`, on the loaded model."""
        self.draft_delay_ms = draft_delay_ms
        if self.live is not None and self.live.running and self.listening:
            self.live.switch(draft_delay_ms=self._drafts)

    def set_keep_audio(self, on: bool) -> None:
        """Keep each recording's audio (or not) from the next recording on."""
        self.keep_audio = on
        if self.live is not None:
            self.live.save_audio = on  # read by the transcriber when a recording begins

    def set_model(self, model: str) -> None:
        """Use another model folder or repo id from the next Start (a loaded one is let go)."""
        self.model = str(model)
        self._loader = None
        if self.running and not self._live_engine.remote:
            self.live.stop()
            self._stale = True

    def set_engine(self, engine: Engine) -> None:
        """Caption with ``engine`` from the next Record; an idle transcriber of another engine
        is let go now (one that is recording, when it stops)."""
        self.engine = engine
        self._let_go_if_changed()

    def _let_go_if_changed(self) -> None:
        if self.running and not self.busy and not self._stale and self.engine != self._live_engine:
            self.live.stop()
            self._stale = True

    @property
    def engine_label(self) -> str:
        """For the status line: "" (this computer) or "Server ws://…", the running
        transcriber's engine, else the chosen one."""
        live = self.running and not self._stale
        return (self._live_engine if live else self.engine).label

    @property
    def switching(self) -> bool:
        """The transcriber was stopped to change model or engine (its STOPPED is no news)."""
        return self._stale

    @property
    def _drafts(self) -> int:
        return 0 if self.engine.remote else self.draft_delay_ms

    def shutdown(self) -> None:
        """Ask the transcriber to flush, write the transcript and end; returns at once."""
        self._want_listening = False
        if self.live is not None and self.live.running:
            self.live.stop()

    def join(self, timeout: float | None = None) -> bool:
        return self.live.join(timeout) if self.live is not None else True

    @property
    def autosave_folder(self) -> Path:
        return Path(self.autosave_dir) if self.autosave_dir else default_dir()

    @property
    def needs_download(self) -> bool:
        """The model is neither injected nor on disk: the first Start downloads it (never with a
        server)."""
        return not self.engine.remote and self._loader is None and not model_on_disk(self.model)

    @property
    def running(self) -> bool:
        return self.live is not None and self.live.running

    @property
    def busy(self) -> bool:
        """Recording, or about to (Start pressed, the model still loading)."""
        return self._want_listening or self.listening

    def _ensure_started(self, delay_ms: int) -> None:
        if self.running and not self._stale and self.engine != self._live_engine:
            self.live.stop()  # the engine changed while it recorded: it ends now
            self._stale = True
        if self.running and not self._stale:
            return
        if self._stale:  # told to stop when the model or engine changed: it is ending now
            self.live.join(5.0)
            self._stale = False
        if self.live is not None:  # ended after a fatal error: let it go, start afresh
            self.live.join(1.0)
        self._live_engine = engine = self.engine
        metadata = {"model": engine.address} if engine.remote else None  # as --mic --server
        if engine.remote:
            loader, delay_ms = engine.loader(), None
        else:
            loader = self._loader or FolderLoader(self.model, on_progress=self._on_progress)
        self.live = LiveTranscriber(
            loader, None, delay_ms=delay_ms, on_event=self._on_event,
            autosave_dir=self.autosave_dir, idle_on_end=True, metadata=metadata,
            draft_delay_ms=self._drafts, save_audio=self.keep_audio,
        )  # fmt: skip
        self.live.start()

    def _track(self, event: LiveEvent) -> None:
        if isinstance(event, ErrorEvent) and not self.listening:
            self._want_listening = False  # the device would not open, or the model failed
        if not isinstance(event, StatusEvent):
            return
        self.status = event.status
        listening = event.status is Status.LISTENING
        if event.status is Status.STOPPED:
            self._want_listening = False
        if listening != self.listening:
            self.listening = listening
            if not listening:
                self._want_listening = False
            self.listening_changed.emit(listening)
            if not listening:  # an engine chosen while it recorded: the next Start uses it
                self._let_go_if_changed()

    # ---- the transcriber's thread -------------------------------------------------------------
    def _on_event(self, event: LiveEvent) -> None:
        self.event.emit(event)  # queued to the GUI thread: receivers live there

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        self.progress.emit(stage, int(done), int(total))


__all__ = ["EngineBridge", "system_audio_factory", "system_audio_missing"]
