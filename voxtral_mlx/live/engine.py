"""LiveTranscriber: the live loop shared by ``--mic`` and the GUI. One thread owns MLX.

::

    from voxtral_mlx.live.engine import LiveTranscriber, folder_loader
    from voxtral_mlx.audio.mic import MicSource

    live = LiveTranscriber(folder_loader("~/models/voxtral"), MicSource("USB"), on_event=print)
    live.start()                          # the thread loads the model, opens the mic, listens
    live.switch(source=MicSource(None))   # or delay_ms=960: the loaded model is kept
    live.stop(); live.join()              # flushes the last words, writes the transcript
    live.transcript                       # the finished Transcript
    live.journal                          # its autosave journal (known from the first session)

``LiveTranscriber(model_loader, source=None, *, delay_ms=None, on_event=None, events=None,
autosave_dir=None, autosave=True, tap=None, metadata=None, idle_on_end=False, save_audio=None)``

- ``model_loader()`` returns ``(model, tokenizer)``; it runs on the transcriber's thread, which
  then owns every MLX array (MLX streams belong to their thread). :func:`folder_loader`
  (:mod:`voxtral_mlx.live.loader`) makes one for a model folder or repo id; tests pass a tiny
  checkpoint folder.
- ``source``: a :class:`~voxtral_mlx.audio.mic.MicSource`, any object with the same verbs (see
  :class:`AudioSource`), or any iterable of 16 kHz mono float32 chunks (wrapped in
  :class:`IteratorSource`; ``IteratorSource(chunks, realtime=True)`` plays a file like a mic).
  None: start ``idle`` with the model loaded, waiting for :meth:`switch`.
- Events go to ``on_event(event)`` (called on the transcriber's thread: return quickly; the GUI
  re-emits them as Qt signals) and/or the ``events`` queue (a new ``queue.Queue`` when neither
  is given). They are the plain frozen dataclasses tabled in :mod:`voxtral_mlx.live.events`;
  the last one is always ``StatusEvent(Status.STOPPED)``.
- ``tap(chunk)``: called on the thread with every 16 kHz chunk the model is fed: the very
  array the model keeps, read-only (audio crosses one queue, the source's, and is not copied
  on its way to the model).
- Autosave: the transcript is journaled as it grows in ``autosave_dir`` (default
  :func:`voxtral_mlx.live.autosave.default_dir`); format in :mod:`voxtral_mlx.live.autosave`.
- ``save_audio``: keep each recording's audio (what ``tap`` sees) in a crash-safe WAV: a path,
  or True for one beside its journal (:mod:`voxtral_mlx.live.audio_keeper`); the transcript's
  ``metadata["audio"]`` says where. Also an attribute, read when a recording begins.
- ``idle_on_end``: when the source ends (a file is over, a device fails to open or read)
  stay ``idle`` with the model loaded instead of stopping the thread. A microphone that is
  unplugged does not end: it waits for the device (``MeterEvent.audio`` is ``lost``, one
  non-fatal ``ErrorEvent``) and the same session resumes when it is back (one ``HintEvent``).

Methods, callable from any thread, never blocking: :meth:`start`; :meth:`switch` (new device
and/or delay, or ``source=None`` to go idle, writing the transcript so far;
``new_transcript=True`` finishes the current recording, the next source starts another);
:meth:`stop`. :meth:`join` waits for the thread to end; call it before the process exits.

An app that records many times (the GUI) keeps one transcriber for its lifetime: Record is
``switch(source=MicSource(name), new_transcript=True)``, Stop is ``switch(source=None)``; the
model stays loaded and no thread is created per recording. (Each transcriber's thread that has
run MLX leaves one idle MLX-internal OS thread behind when it ends, as of mlx 0.32.4.)
A switch or stop first drains: the source is stopped, what it captured is fed, the session is
closed and stepped until done, so no word already spoken is lost. A new source or delay gets
a new ``StreamingSession`` on the already loaded model; the transcript keeps going, its times
continuing from the audio before.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from voxtral_mlx.audio.sources import AudioSource, IteratorSource, as_source
from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.live.audio_keeper import SaveAudio, keep_audio
from voxtral_mlx.live.autosave import default_dir
from voxtral_mlx.live.commands import KEEP, STOP, Switch
from voxtral_mlx.live.events import DraftEvent, ErrorEvent, LiveEvent, Status, StatusEvent
from voxtral_mlx.live.listener import Listener
from voxtral_mlx.live.loader import FolderLoader, folder_loader
from voxtral_mlx.live.monitor import SourceMonitor
from voxtral_mlx.live.recording import Recording
from voxtral_mlx.live.sessions import open_session
from voxtral_mlx.live.thread_exit import wait_os_thread_exit

log = logging.getLogger(__name__)

POLL_SECONDS = 0.02  # longest wait for audio before the loop looks at commands again


class LiveTranscriber:
    """See the module docstring for the contract."""

    def __init__(self, model_loader: Callable[[], tuple[Any, Any]], source: Any = None, *,
                 delay_ms: int | None = None, draft_delay_ms: int | None = None, on_event: Callable[[LiveEvent], None] | None = None,
                 events: queue.Queue | None = None, autosave_dir: str | Path | None = None,
                 autosave: bool = True, tap: Callable[[np.ndarray], None] | None = None,
                 metadata: dict[str, Any] | None = None, idle_on_end: bool = False,
                 max_tokens_per_step: int = 12, meter_interval: float = 0.1,
                 save_audio: SaveAudio = None):  # fmt: skip
        self._loader = model_loader
        self._initial = None if source is None else as_source(source)
        self._delay_ms = delay_ms
        self._draft_ms = draft_delay_ms or None
        self._on_event = on_event
        self.events = events if events is not None or on_event is not None else queue.Queue()
        self._autosave_dir = (Path(autosave_dir) if autosave_dir else default_dir()) if autosave else None  # fmt: skip
        self._tap, self._metadata = tap, dict(metadata or {})
        self._idle_on_end = idle_on_end
        self.save_audio = save_audio
        self._max_tokens = max_tokens_per_step
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="voxtral-live", daemon=True)
        self.transcript = None  # the last finished recording's Transcript
        self.journal: Path | None = None  # the autosave journal of the latest recording
        # Owned by the transcriber's thread:
        self._model = self._tokenizer = None
        self._listener: Listener | None = None  # None: idle
        self._rec: Recording | None = None
        self._audio = None  # the recording's AudioKeeper
        self._offset = 0.0  # audio seconds of this recording before the current session
        self._ending = False
        self._monitor = SourceMonitor(self._emit, meter_interval)

    # ---- any thread -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def switch(self, source: Any = KEEP, delay_ms: Any = KEEP, new_transcript: bool = False,
               draft_delay_ms: Any = KEEP):  # fmt: skip
        """Change source, delay and/or draft delay without reloading the model (see the module
        docstring)."""
        self._commands.put(Switch(source, delay_ms, new_transcript, draft_delay_ms))

    def stop(self) -> None:
        """Flush the last words, finish the transcript, end the thread. Returns at once."""
        self._commands.put(STOP)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True if it has. Call it before the process exits."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        wait_os_thread_exit(self._thread.native_id)
        return True

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    # ---- the transcriber's thread -------------------------------------------------------------
    def _emit(self, event: LiveEvent) -> None:
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # a listener's bug must not stop transcription
                log.exception("live event callback failed on %r", event)
        if self.events is not None:
            self.events.put(event)

    def _run(self) -> None:
        try:
            self._emit(StatusEvent(Status.LOADING, getattr(self._loader, "description", "")))
            self._model, self._tokenizer = self._loader()
            self._open(self._initial)
            while not self._ending and self._tick():
                pass
        except Exception as err:  # the thread must end with an event, not a lost traceback
            log.debug("live transcription failed", exc_info=True)
            self._emit(ErrorEvent(_one_line(err), fatal=True))
        finally:
            self._shutdown()

    def _tick(self) -> bool:
        """One turn of the loop; False when the thread should end."""
        try:
            cmd = self._commands.get(block=self._listener is None, timeout=1.0)
        except queue.Empty:
            cmd = None
        if cmd == STOP:
            return False
        if cmd is not None:
            self._apply(cmd)
            return True
        if self._listener is None:
            return True
        try:
            ended = self._pump()
        except VoxtralError as err:  # DeviceError, or an unreadable file: this source ends
            self._emit(ErrorEvent(str(err), fatal=not self._idle_on_end))
            ended = True
        if ended:
            self._end_source()
            self._source_gone()
        return True

    def _pump(self) -> bool:
        """Read, feed, step, report. True when the source has finished."""
        events, finished = self._listener.pump(self._max_tokens, POLL_SECONDS)
        self._on_tokens(events, self._listener.session)
        self._listener.report(self._offset)
        return finished

    def _on_tokens(self, events: list, session) -> None:
        if events:
            self._emit(self._rec.add(events))
        if session.draft_delay_ms and (events or session.draft_events):
            self._emit(self._rec.add_draft(session.draft_events))

    def _apply(self, cmd: Switch) -> None:
        if cmd.source is KEEP and self._listener is not None:
            self._drain(self._listener)  # the source keeps capturing meanwhile: nothing is lost
            source = self._listener.source
        else:
            if self._listener is not None:
                self._end_source()
            source = None if cmd.source is None or cmd.source is KEEP else as_source(cmd.source)
        if self._rec is not None and (cmd.new_transcript or source is None):
            self._finish(final=cmd.new_transcript)  # going idle: write what there is now
        if cmd.delay_ms is not KEEP:
            self._delay_ms = cmd.delay_ms
        if cmd.draft_delay_ms is not KEEP:
            self._draft_ms = cmd.draft_delay_ms or None
        if self._listener is not None and source is self._listener.source:
            self._new_session(source)
        else:
            self._open(source)

    def _open(self, source: AudioSource | None) -> None:
        """Open ``source`` and start a session on it; None: go idle."""
        if source is None:
            self._emit(StatusEvent(Status.IDLE))
            return
        try:
            source.open()
        except VoxtralError as err:
            source.close()
            self._emit(ErrorEvent(str(err), fatal=not self._idle_on_end))
            self._source_gone()
            return
        try:
            self._new_session(source)
        except Exception:  # the thread ends (see _run): the device must not stay open
            source.close()
            raise

    def _new_session(self, source: AudioSource) -> None:
        session, self._draft_ms = open_session(self._model, self._tokenizer, self._delay_ms,
                                               self._draft_ms, self._error)  # fmt: skip
        self._delay_ms = session.delay_ms
        self._listener = Listener(source, session, self._monitor, self._feed_tap)
        if self._rec is None:
            meta = {"source": source.name, "delay_ms": self._delay_ms, **self._metadata}
            if session.draft_delay_ms:
                meta["draft_delay_ms"] = session.draft_delay_ms
            self._rec = Recording(self._autosave_dir, meta, self._error)
            self._offset = 0.0
            self.journal = self._rec.autosave.path if self._rec.autosave else None
            self._audio = keep_audio(self.save_audio, self.journal, self._rec.metadata, self._error)  # fmt: skip
        self._rec.begin(self._offset, source.name, self._delay_ms)
        self._emit(StatusEvent(Status.LISTENING, source.name))

    def _feed_tap(self, chunk: np.ndarray) -> None:
        if self._audio is not None:
            self._audio.add(chunk)
        if self._tap is not None:
            self._tap(chunk)

    def _end_source(self) -> None:
        """Stop the source, feed what it captured, drain the session, release the source."""
        listener, self._listener = self._listener, None
        try:
            listener.end_source()
        except VoxtralError as err:
            self._emit(ErrorEvent(str(err)))
        self._drain(listener)

    def _drain(self, listener: Listener) -> None:
        """Decode the rest of ``listener``'s session and end it in the recording (once)."""
        if listener.drained:
            return
        for events in listener.drain(self._max_tokens):
            self._on_tokens(events, listener.session)
        last = self._rec.end_session()
        if last is not None:
            self._emit(last)
        if listener.session.draft_delay_ms:
            self._emit(DraftEvent())  # everything is final: no draft left to show
        self._offset += listener.session.audio_seconds

    def _source_gone(self) -> None:
        """A source ended by itself or failed: go idle, or end the thread."""
        if not self._idle_on_end:
            self._ending = True
            return
        if self._rec is not None:
            self._finish(final=False)
        self._emit(StatusEvent(Status.IDLE))

    def _finish(self, final: bool) -> None:
        """Write the recording's transcript (final: close its journal) and announce it."""
        if self._audio is not None:  # first: the audio is complete when the transcript is out
            self._audio.finish(final)
            self._audio = None if final else self._audio
        event = self._rec.finish(self._offset, final)
        self.transcript = event.transcript
        if final:
            self._rec = None
        self._emit(event)

    def _error(self, message: str) -> None:
        self._emit(ErrorEvent(message))

    def _shutdown(self) -> None:
        try:
            if self._listener is not None:
                self._end_source()  # the source is closed even if this fails
        except Exception as err:  # e.g. the model failed: keep what was transcribed
            log.debug("draining failed", exc_info=True)
            self._emit(ErrorEvent(_one_line(err), fatal=True))
        if self._rec is not None:
            self._rec.end_session()  # no-op unless draining failed half-way
            self._finish(final=True)
        self._listener = self._model = self._tokenizer = None
        self._emit(StatusEvent(Status.STOPPED))


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text if isinstance(err, VoxtralError) else f"live transcription failed: {text or type(err).__name__}"  # fmt: skip


__all__ = [
    "KEEP",
    "AudioSource",
    "FolderLoader",
    "IteratorSource",
    "LiveTranscriber",
    "as_source",
    "folder_loader",
]
