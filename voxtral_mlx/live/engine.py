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

``LiveTranscriber(model_loader, source=None, *, delay_ms=None, draft_delay_ms=None, on_event=None,
events=None, autosave_dir=None, autosave=True, tap=None, metadata=None, idle_on_end=False,
save_audio=None, drop_echo=True)``

- ``model_loader()`` returns ``(model, tokenizer)``; it runs on the transcriber's thread, which
  then owns every MLX array (MLX streams belong to their thread). :func:`folder_loader`
  (:mod:`voxtral_mlx.live.loader`) makes one for a model folder or repo id; tests pass a tiny
  checkpoint folder.
- ``source``: a :class:`~voxtral_mlx.audio.mic.MicSource`, any object with the same verbs (see
  :class:`AudioSource`), or any iterable of 16 kHz mono float32 chunks (wrapped in
  :class:`IteratorSource`; ``IteratorSource(chunks, realtime=True)`` plays a file like a mic).
  A mapping ``{label: source}`` transcribes several at once, as rows of one batch
  (:mod:`voxtral_mlx.live.source_set`: ``{"You": MicSource(None), "Others":
  SystemAudioSource()}``): each event about one of them, and each word, carries its label; one
  that ends or fails ends alone, the others go on. With ``drop_echo`` (default) and both
  ``You`` and ``Others`` on, the microphone's words that are the computer's audio heard through
  loudspeakers are dropped (:mod:`voxtral_mlx.audio.echo`).
  None: start ``idle`` with the model loaded, waiting for :meth:`switch`.
- Events go to ``on_event(event)`` (called on the transcriber's thread: return quickly; the GUI
  re-emits them as Qt signals) and/or the ``events`` queue (a new ``queue.Queue`` when neither
  is given). They are the plain frozen dataclasses tabled in :mod:`voxtral_mlx.live.events`;
  the last one is always ``StatusEvent(Status.STOPPED)``.
- ``tap(chunk)``: called on the thread with every 16 kHz chunk the model is fed: the very
  array the model keeps, read-only (audio crosses one queue, the source's, and is not copied
  on its way to the model). With labelled sources: ``tap(chunk, label)``.
- Autosave: the transcript is journaled as it grows in ``autosave_dir`` (default
  :func:`voxtral_mlx.live.autosave.default_dir`); format in :mod:`voxtral_mlx.live.autosave`.
- ``save_audio``: keep each recording's audio (what ``tap`` sees) in a crash-safe WAV: a path,
  or True for one beside its journal (:mod:`voxtral_mlx.live.audio_keeper`); the transcript's
  ``metadata["audio"]`` says where. Labelled sources: one file each (``-you``, ``-others``
  before the suffix), ``metadata["audio"]`` maps label to path. Also an attribute, read when
  a source of the recording begins.
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
from dataclasses import replace
from pathlib import Path
from typing import Any

from voxtral_mlx.audio.sources import AudioSource, IteratorSource, as_source
from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.live.audio_keeper import SaveAudio, keep_audio
from voxtral_mlx.live.autosave import default_dir
from voxtral_mlx.live.commands import KEEP, STOP, Switch
from voxtral_mlx.live.echo_filter import echo_filter
from voxtral_mlx.live.events import DraftEvent, ErrorEvent, LiveEvent, Status, StatusEvent
from voxtral_mlx.live.listener import Listener
from voxtral_mlx.live.loader import FolderLoader, folder_loader
from voxtral_mlx.live.monitor import SourceMonitor
from voxtral_mlx.live.recording import Recording
from voxtral_mlx.live.sessions import open_session
from voxtral_mlx.live.source_set import as_sources, describe
from voxtral_mlx.live.thread_exit import wait_os_thread_exit

log = logging.getLogger(__name__)

POLL_SECONDS = 0.02  # longest wait for audio before the loop looks at commands again


class LiveTranscriber:
    """See the module docstring for the contract."""

    def __init__(self, model_loader: Callable[[], tuple[Any, Any]], source: Any = None, *,
                 delay_ms: int | None = None, draft_delay_ms: int | None = None, on_event: Callable[[LiveEvent], None] | None = None,
                 events: queue.Queue | None = None, autosave_dir: str | Path | None = None,
                 autosave: bool = True, tap: Callable[..., None] | None = None,
                 metadata: dict[str, Any] | None = None, idle_on_end: bool = False,
                 max_tokens_per_step: int = 12, meter_interval: float = 0.1,
                 save_audio: SaveAudio = None, drop_echo: bool = True):  # fmt: skip
        self._loader = model_loader
        self._initial = as_sources(source)
        self._delay_ms = delay_ms
        self._draft_ms = draft_delay_ms or None
        self._on_event = on_event
        self.events = events if events is not None or on_event is not None else queue.Queue()
        self._autosave_dir = (Path(autosave_dir) if autosave_dir else default_dir()) if autosave else None  # fmt: skip
        self._tap, self._metadata = tap, dict(metadata or {})
        self._idle_on_end = idle_on_end
        self.save_audio = save_audio
        self.drop_echo = drop_echo
        self._max_tokens = max_tokens_per_step
        self._meter_interval = meter_interval
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="voxtral-live", daemon=True)
        self.transcript = None  # the last finished recording's Transcript
        self.journal: Path | None = None  # the autosave journal of the latest recording
        # Owned by the transcriber's thread:
        self._model = self._tokenizer = None
        self._listeners: list[Listener] = []  # none: idle
        self._sources: dict[str | None, AudioSource] = {}  # what the listeners listen to
        self._rec: Recording | None = None
        self._audio: dict = {}  # the recording's AudioKeepers, per label
        self._offset = 0.0  # audio seconds of this recording before the current sessions
        self._set_seconds = 0.0  # the longest of the current sessions that have ended
        self._ending = False

    # ---- any thread -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def switch(self, source: Any = KEEP, delay_ms: Any = KEEP, new_transcript: bool = False,
               draft_delay_ms: Any = KEEP):  # fmt: skip
        """Change source(s), delay and/or draft delay without reloading the model (see the
        module docstring)."""
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
            cmd = self._commands.get(block=not self._listeners, timeout=1.0)
        except queue.Empty:
            cmd = None
        if cmd == STOP:
            return False
        if cmd is not None:
            self._apply(cmd)
            return True
        if not self._listeners:
            return True
        ended = self._pump()
        if ended:
            self._end(ended)
        if not self._listeners:
            self._source_gone()
        return True

    def _pump(self) -> list[Listener]:
        """Read every source, one step of all their rows, report: the listeners whose source
        has finished or failed (a DeviceError, an unreadable file)."""
        ended = []
        wait = 0.0 if any(li.backlog for li in self._listeners) else POLL_SECONDS
        for listener in self._listeners:
            try:
                if listener.read(wait):
                    ended.append(listener)
            except VoxtralError as err:
                last = len(ended) + 1 == len(self._listeners)  # the others go on without it
                self._emit(ErrorEvent(str(err), fatal=last and not self._idle_on_end,
                                      source=listener.label))  # fmt: skip
                ended.append(listener)
            wait = 0.0  # one wait per turn, not one per source
        self._listeners[0].session.group.step(self._max_tokens)
        for listener in self._listeners:
            self._on_tokens(listener.take(self._max_tokens), listener)
            if listener not in ended:  # a failed source's state is said by its error
                listener.report(self._offset)
        return ended

    def _on_tokens(self, events: list, listener: Listener) -> None:
        session, label = listener.session, listener.label
        if events:
            self._emit(self._rec.add(events, label))
        if session.draft_delay_ms and (events or session.draft_events):
            self._emit(self._rec.add_draft(session.draft_events, label))

    def _apply(self, cmd: Switch) -> None:
        if cmd.source is KEEP and self._listeners:
            sources = self._sources
            self._end(self._listeners, stop=False)  # they keep capturing: nothing is lost
        else:
            self._end(self._listeners)
            sources = {} if cmd.source is KEEP else as_sources(cmd.source)
        if self._rec is not None and (cmd.new_transcript or not sources):
            self._finish(final=cmd.new_transcript)  # going idle: write what there is now
        if cmd.delay_ms is not KEEP:
            self._delay_ms = cmd.delay_ms
        if cmd.draft_delay_ms is not KEEP:
            self._draft_ms = cmd.draft_delay_ms or None
        if sources is self._sources and sources:
            self._new_sessions(sources)
        else:
            self._open(sources)

    def _open(self, sources: dict[str | None, AudioSource]) -> None:
        """Open ``sources`` and start a session on each that opened; none: go idle."""
        if not sources:
            self._emit(StatusEvent(Status.IDLE))
            return
        opened = {}
        for label, source in sources.items():
            try:
                source.open()
                opened[label] = source
            except VoxtralError as err:
                source.close()
                last = not opened and label == list(sources)[-1]
                self._emit(ErrorEvent(str(err), fatal=last and not self._idle_on_end, source=label))  # fmt: skip
        if not opened:
            self._source_gone()
            return
        try:
            self._new_sessions(opened)
        except Exception:  # the thread ends (see _run): the devices must not stay open
            for source in opened.values():
                source.close()
            raise

    def _new_sessions(self, sources: dict[str | None, AudioSource]) -> None:
        group, echo = None, echo_filter(sources, self.drop_echo)
        for label, source in sources.items():
            session, self._draft_ms = open_session(self._model, self._tokenizer, self._delay_ms,
                                                   self._draft_ms, self._error, group)  # fmt: skip
            group = session.group  # the next source's rows step in the same batch
            self._delay_ms = session.delay_ms
            self._listeners.append(self._listener(label, source, session, sources, echo.tap(label)))  # fmt: skip
            self._rec.begin(self._offset, source.name, self._delay_ms, label,
                            echo.keep(label, self._offset))  # fmt: skip
        self._sources = sources
        self._emit(StatusEvent(Status.LISTENING, describe(sources)))

    def _listener(self, label, source, session, sources, echo_tap) -> Listener:
        if self._rec is None:
            self._new_recording(sources, session)
        if label not in self._audio:
            self._audio[label] = keep_audio(self.save_audio, self.journal, self._rec.metadata,
                                            self._error, label)  # fmt: skip
        emit = self._emit if label is None else lambda e: self._emit(replace(e, source=label))
        # What sees each chunk the model is fed, each on its own (Listener.feed): the kept
        # audio first, the caller's tap, the echo gate last.
        keeper, user = self._audio[label], self._tap
        taps = [keeper.add if keeper is not None else None, echo_tap]
        if user is not None:
            taps.insert(1, user if label is None else lambda chunk: user(chunk, label))
        monitor = SourceMonitor(emit, self._meter_interval)
        return Listener(source, session, monitor, [t for t in taps if t is not None], label)

    def _new_recording(self, sources: dict, session) -> None:
        meta = {"source": describe(sources), "delay_ms": self._delay_ms, **self._metadata}
        if None not in sources:
            meta["sources"] = {k: s.name for k, s in sources.items()}
        if session.draft_delay_ms:
            meta["draft_delay_ms"] = session.draft_delay_ms
        self._rec = Recording(self._autosave_dir, meta, self._error)
        self._offset = 0.0
        self.journal = self._rec.autosave.path if self._rec.autosave else None

    def _end(self, listeners: list[Listener], stop: bool = True) -> None:
        """Stop these listeners' sources (``stop``; else they keep capturing: a delay switch),
        feed what they captured, drain their sessions, release the sources. The first failure
        of one does not keep the others open. When none is left, the next sessions start
        after the longest of these."""
        self._listeners = [li for li in self._listeners if li not in listeners]
        try:
            for listener in listeners if stop else ():
                self._sources = {k: s for k, s in self._sources.items() if s is not listener.source}  # fmt: skip
                try:
                    listener.end_source()
                except VoxtralError as err:
                    self._emit(ErrorEvent(str(err), source=listener.label))
        finally:
            for listener in listeners:
                self._drain(listener)
            if listeners and not self._listeners:
                self._offset += self._set_seconds
                self._set_seconds = 0.0

    def _drain(self, listener: Listener) -> None:
        """Decode the rest of ``listener``'s session and end it in the recording (once). The
        other sessions of its group step too: their tokens wait for their ``take``."""
        if listener.drained:
            return
        for events in listener.drain(self._max_tokens):
            self._on_tokens(events, listener)
        last = self._rec.end_session(listener.label)
        if last is not None:
            self._emit(last)
        if listener.session.draft_delay_ms:
            self._emit(DraftEvent(source=listener.label))  # all final: no draft left to show
        self._set_seconds = max(self._set_seconds, listener.session.audio_seconds)

    def _source_gone(self) -> None:
        """Every source ended by itself or failed: go idle, or end the thread."""
        if not self._idle_on_end:
            self._ending = True
            return
        if self._rec is not None:
            self._finish(final=False)
        self._emit(StatusEvent(Status.IDLE))

    def _finish(self, final: bool) -> None:
        """Write the recording's transcript (final: close its journal) and announce it."""
        for keeper in self._audio.values():  # first: the audio is whole when the transcript is out
            if keeper is not None:
                keeper.finish(final)
        if final:
            self._audio = {}
        event = self._rec.finish(self._offset, final)
        self.transcript = event.transcript
        if final:
            self._rec = None
        self._emit(event)

    def _error(self, message: str) -> None:
        self._emit(ErrorEvent(message))

    def _shutdown(self) -> None:
        try:
            if self._listeners:
                self._end(self._listeners)  # the sources are closed even if this fails
        except Exception as err:  # e.g. the model failed: keep what was transcribed
            log.debug("draining failed", exc_info=True)
            self._emit(ErrorEvent(_one_line(err), fatal=True))
        if self._rec is not None:
            for label in list(self._rec.tracks):  # none unless draining failed half-way
                if (last := self._rec.end_session(label)) is not None:
                    self._emit(last)  # the word in progress, saved: shown too
            self._finish(final=True)
        self._listeners, self._model, self._tokenizer = [], None, None
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
