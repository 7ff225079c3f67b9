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
autosave_dir=None, autosave=True, tap=None, metadata=None, idle_on_end=False)``

- ``model_loader()`` returns ``(model, tokenizer)``; it runs on the transcriber's thread, which
  then owns every MLX array (MLX streams belong to their thread). :func:`folder_loader` makes
  one for a model folder or repo id; tests pass a tiny checkpoint folder.
- ``source``: a :class:`~voxtral_mlx.audio.mic.MicSource`, any object with the same verbs (see
  :class:`AudioSource`), or any iterable of 16 kHz mono float32 chunks (wrapped in
  :class:`IteratorSource`; ``IteratorSource(chunks, realtime=True)`` plays a file like a mic).
  None: start ``idle`` with the model loaded, waiting for :meth:`switch`.
- Events go to ``on_event(event)`` (called on the transcriber's thread: return quickly; the GUI
  re-emits them as Qt signals) and/or the ``events`` queue (a new ``queue.Queue`` when neither
  is given). They are the plain frozen dataclasses of :mod:`voxtral_mlx.live.events` (table
  there): ``StatusEvent`` (loading / listening / idle / stopped), ``TextEvent`` (text delta,
  final words, the word being built, times), ``MeterEvent`` (level dBFS, lag s), ``DroppedEvent``,
  ``HintEvent``, ``ErrorEvent`` (one line; ``fatal``), ``TranscriptEvent`` (a finished
  recording and its files). The last one is always ``StatusEvent(Status.STOPPED)``.
- ``tap(chunk)``: called on the thread with every 16 kHz chunk the model is fed (a copy).
- Autosave: the transcript is journaled as it grows in ``autosave_dir`` (default
  :func:`voxtral_mlx.live.autosave.default_dir`); format in :mod:`voxtral_mlx.live.autosave`.
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
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voxtral_mlx.audio.mic import SILENT_PEAK
from voxtral_mlx.audio.sources import AudioSource, IteratorSource, as_source
from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.live.autosave import default_dir
from voxtral_mlx.live.events import (
    AudioState,
    DroppedEvent,
    ErrorEvent,
    HintEvent,
    LiveEvent,
    MeterEvent,
    Status,
    StatusEvent,
)
from voxtral_mlx.live.recording import Recording

log = logging.getLogger(__name__)

POLL_SECONDS = 0.02  # longest wait for audio before the loop looks at commands again
SILENT_AFTER = 2.0  # seconds of nothing but silence before the meter says AudioState.SILENT
# Once a session has heard sound, silence this long is a pause, not a muted device (a virtual
# source gives digital silence between sentences): SILENT and its hint wait longer then.
PAUSE_SECONDS = 10.0
KEEP: Any = type("Keep", (), {"__repr__": lambda self: "KEEP"})()  # switch(): leave unchanged


class FolderLoader:
    """``model_loader`` for a model folder or Hugging Face repo id, as the CLI loads it (a repo
    id is downloaded and converted to ``bits`` once, see :mod:`voxtral_mlx.checkpoint.cache`); it
    all runs on the transcriber's thread. ``on_progress(stage, done, total)`` while converting.
    """

    def __init__(self, model: str | Path, dtype: str | None = None, bits: int = 4,
                 on_progress: Callable[[str, int, int], None] | None = None):  # fmt: skip
        self.model, self.dtype, self.bits, self.on_progress = model, dtype, bits, on_progress
        self.description = str(model)

    def __call__(self):
        import mlx.core as mx

        from voxtral_mlx.checkpoint import weights
        from voxtral_mlx.checkpoint.cache import model_folder
        from voxtral_mlx.text.tokenizer import Tokenizer

        folder = model_folder(self.model, bits=self.bits, on_progress=self.on_progress)
        dtype = getattr(mx, self.dtype) if self.dtype else weights.default_dtype()
        model, _ = weights.load(folder, dtype=dtype)
        return model, Tokenizer.from_file(folder)


folder_loader = FolderLoader


@dataclass(frozen=True)
class _Switch:
    source: Any
    delay_ms: Any
    new_transcript: bool


_STOP = "stop"


class LiveTranscriber:
    """See the module docstring for the contract."""

    def __init__(self, model_loader: Callable[[], tuple[Any, Any]], source: Any = None, *,
                 delay_ms: int | None = None, on_event: Callable[[LiveEvent], None] | None = None,
                 events: queue.Queue | None = None, autosave_dir: str | Path | None = None,
                 autosave: bool = True, tap: Callable[[np.ndarray], None] | None = None,
                 metadata: dict[str, Any] | None = None, idle_on_end: bool = False,
                 max_tokens_per_step: int = 12, meter_interval: float = 0.1):  # fmt: skip
        self._loader = model_loader
        self._initial = None if source is None else as_source(source)
        self._delay_ms = delay_ms
        self._on_event = on_event
        self.events = events if events is not None or on_event is not None else queue.Queue()
        self._autosave_dir = (Path(autosave_dir) if autosave_dir else default_dir()) if autosave else None  # fmt: skip
        self._tap, self._metadata = tap, dict(metadata or {})
        self._idle_on_end = idle_on_end
        self._max_tokens, self._meter_interval = max_tokens_per_step, meter_interval
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="voxtral-live", daemon=True)
        self.transcript = None  # the last finished recording's Transcript
        self.journal: Path | None = None  # the autosave journal of the latest recording
        # Owned by the transcriber's thread:
        self._model = self._tokenizer = None
        self._source: AudioSource | None = None
        self._session = None
        self._rec: Recording | None = None
        self._offset = 0.0  # audio seconds of this recording before the current session
        self._ending = False
        self._backlog = False
        self._heard = False  # this session has fed sound (not only digital silence)
        self._decoded_to = 0.0
        self._meter_at = 0.0
        self._dropped_seen, self._overflows_seen = 0.0, 0

    # ---- any thread -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def switch(self, source: Any = KEEP, delay_ms: Any = KEEP, new_transcript: bool = False):
        """Change source and/or delay without reloading the model (see the module docstring)."""
        self._commands.put(_Switch(source, delay_ms, new_transcript))

    def stop(self) -> None:
        """Flush the last words, finish the transcript, end the thread. Returns at once."""
        self._commands.put(_STOP)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True if it has. Call it before the process exits."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        _wait_os_thread_exit(self._thread.native_id)
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
            cmd = self._commands.get(block=self._source is None, timeout=1.0)
        except queue.Empty:
            cmd = None
        if cmd == _STOP:
            return False
        if cmd is not None:
            self._apply(cmd)
            return True
        if self._source is None:
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
        src, session = self._source, self._session
        chunk = src.read(0.0 if self._backlog else POLL_SECONDS)
        if chunk is not None and chunk.size:
            self._feed(chunk)
        events = session.step(self._max_tokens)
        self._backlog = len(events) >= self._max_tokens
        self._on_tokens(events)
        self._report(src, session)
        return chunk is None and src.finished

    def _feed(self, chunk: np.ndarray) -> None:
        self._session.feed(chunk)
        self._heard = self._heard or bool(np.max(np.abs(chunk)) > SILENT_PEAK)
        if self._tap is not None:
            try:
                self._tap(chunk.copy())
            except Exception:
                log.exception("live audio tap failed")

    def _on_tokens(self, events: list) -> None:
        if not events:
            return
        self._decoded_to = events[-1].end
        self._emit(self._rec.add(events))

    def _report(self, src: AudioSource, session) -> None:
        now = time.monotonic()
        if now - self._meter_at >= self._meter_interval:
            self._meter_at = now
            fed = session.audio_seconds
            lag = max(0.0, fed - self._decoded_to - session.delay_ms / 1000) + src.queued_seconds
            self._emit(MeterEvent(level_db=src.level_db, lag=lag, audio_seconds=self._offset + fed,
                                  audio=self._audio_state(src)))  # fmt: skip
        dropped, overflows = src.dropped_seconds, src.overflows
        if dropped > self._dropped_seen or overflows > self._overflows_seen:
            self._emit(DroppedEvent(dropped - self._dropped_seen, dropped, overflows))
            self._dropped_seen, self._overflows_seen = dropped, overflows
        silent = self._audio_state(src) is AudioState.SILENT
        hint = src.poll_hint() if silent else None
        if hint:  # the source's hint is about silence: true until sound comes
            self._emit(HintEvent(hint, clears_on=AudioState.FLOWING))
        stall = src.poll_stall()
        if stall is not None:  # reported once each way; the source stays, it may come back
            stalled, message = stall
            self._emit(ErrorEvent(message) if stalled else HintEvent(message))

    def _apply(self, cmd: _Switch) -> None:
        if cmd.source is KEEP and self._source is not None:
            self._drain_session()  # the source keeps capturing meanwhile: nothing is lost
            source = self._source
        else:
            if self._source is not None:
                self._end_source()
            source = None if cmd.source is None or cmd.source is KEEP else as_source(cmd.source)
        if self._rec is not None and (cmd.new_transcript or source is None):
            self._finish(final=cmd.new_transcript)  # going idle: write what there is now
        if cmd.delay_ms is not KEEP:
            self._delay_ms = cmd.delay_ms
        if source is self._source and source is not None:
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
        self._source = source
        self._new_session(source)

    def _new_session(self, source: AudioSource) -> None:
        from voxtral_mlx.decode.session import StreamingSession

        try:
            self._session = StreamingSession(self._model, self._tokenizer, self._delay_ms)
        except VoxtralError as err:  # a bad delay: say so, keep the model's default
            self._emit(ErrorEvent(str(err)))
            self._delay_ms = None
            self._session = StreamingSession(self._model, self._tokenizer)
        self._delay_ms = self._session.delay_ms
        self._decoded_to, self._backlog, self._heard = 0.0, False, False
        self._dropped_seen, self._overflows_seen = source.dropped_seconds, source.overflows
        if self._rec is None:
            meta = {"source": source.name, "delay_ms": self._delay_ms, **self._metadata}
            self._rec = Recording(self._autosave_dir, meta, self._error)
            self._offset = 0.0
            self.journal = self._rec.autosave.path if self._rec.autosave else None
        self._rec.begin(self._offset, source.name, self._delay_ms)
        self._emit(StatusEvent(Status.LISTENING, source.name))

    def _end_source(self) -> None:
        """Stop the source, feed what it captured, drain the session, release the source."""
        source, self._source = self._source, None
        try:
            source.stop()
            while (chunk := source.read(0.0)) is not None:
                if chunk.size:
                    self._feed(chunk)
        except VoxtralError as err:
            self._emit(ErrorEvent(str(err)))
        finally:
            source.close()
        self._drain_session()

    def _drain_session(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        session.close()
        while not session.done:
            self._on_tokens(session.step(self._max_tokens))
        last = self._rec.end_session()
        if last is not None:
            self._emit(last)
        self._offset += session.audio_seconds

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
        event = self._rec.finish(self._offset, final)
        self.transcript = event.transcript
        if final:
            self._rec = None
        self._emit(event)

    def _audio_state(self, src: AudioSource) -> AudioState:
        if getattr(src, "lost", False):  # sources of older code may not say
            return AudioState.LOST
        if src.stalled:
            return AudioState.STALLED
        quiet = PAUSE_SECONDS if self._heard else SILENT_AFTER
        return AudioState.SILENT if _heard_silence(src, quiet) else AudioState.FLOWING

    def _error(self, message: str) -> None:
        self._emit(ErrorEvent(message))

    def _shutdown(self) -> None:
        try:
            if self._source is not None:
                self._end_source()
            elif self._session is not None:
                self._drain_session()
        except Exception as err:  # e.g. the model failed: keep what was transcribed
            log.debug("draining failed", exc_info=True)
            self._emit(ErrorEvent(_one_line(err), fatal=True))
            if self._source is not None:
                self._source.close()
        if self._rec is not None:
            self._rec.end_session()  # no-op unless draining failed half-way
            self._finish(final=True)
        self._session = self._model = self._tokenizer = None
        self._emit(StatusEvent(Status.STOPPED))


def _wait_os_thread_exit(native_id: int | None, timeout: float = 2.0) -> None:
    """Let a finished thread run its C++ thread-local destructors before we go on.

    MLX keeps per-thread state (e.g. the random key) whose destructor takes the GIL when the
    OS thread exits, after ``Thread.join`` has returned (Python < 3.13). If the interpreter is
    finalizing by then, CPython ends that thread with ``pthread_exit`` and the process aborts
    ("terminate called without an active exception"). Sleeping releases the GIL so the
    destructors can run; on Linux we wait until the thread is really gone.
    """
    if sys.version_info >= (3, 13):  # join() waits for the OS thread itself
        return
    task = Path(f"/proc/self/task/{native_id}")
    if native_id is None or not Path("/proc/self/task").is_dir():
        time.sleep(0.05)
        return
    deadline = time.monotonic() + timeout
    while task.exists() and time.monotonic() < deadline:
        time.sleep(0.001)


def _heard_silence(src: AudioSource, seconds: float) -> bool:
    """Whether the source has truly delivered ``seconds`` of nothing but silence. It counts
    seconds since it last read sound; audio still queued in it (captured during a slow step:
    the first one compiles) has not been looked at and must not count as silent."""
    return src.silent_seconds - src.queued_seconds >= seconds


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
