"""Keep a live recording's audio: every 16 kHz chunk the model is fed, in one WAV per recording.

The live transcriber's ``save_audio``: a path (``--mic --save-audio FILE.wav``: that file), or
True (the app: ``live-YYYYmmdd-HHMMSS.wav`` beside the recording's autosave journal, same
stem). The file is a :class:`~voxtral_mlx.fs.wav_journal.WavJournal` (float32, crash-safe,
created exclusively, 0600) spanning the whole recording, device and delay switches included,
so its time line is the transcript's. A file that cannot be created or written is one
``on_error`` message; the recording and its transcript go on without the audio.
Called on the transcriber's thread only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.fs.wav_journal import WavJournal
from voxtral_mlx.protocol import SAMPLE_RATE

log = logging.getLogger(__name__)

SaveAudio = str | os.PathLike | bool | None


def keep_audio(target: SaveAudio, journal: Path | None, metadata: dict[str, Any],
               on_error: Callable[[str], None], label: str | None = None) -> AudioKeeper | None:  # fmt: skip
    """An AudioKeeper for a recording (or, with ``label``, one of its sources) starting now, or
    None (not asked for, or it could not be created: said through ``on_error``). Puts the
    file's absolute path in ``metadata["audio"]`` (labelled: ``metadata["audio"][label]``); a
    labelled source's file has ``-label`` before the suffix (``talk-you.wav``)."""
    if target is None or target is False:
        return None
    if target is True:
        if journal is None:
            on_error("the audio is not kept: it goes beside the autosave journal, and there is none")  # fmt: skip
            return None
        target = journal.with_suffix(".wav")
    target = Path(target)
    if label is not None:
        target = target.with_name(f"{target.stem}-{label.lower()}{target.suffix or '.wav'}")
    try:
        keeper = AudioKeeper(target.absolute(), on_error)
    except VoxtralError as err:
        on_error(f"{err}; the audio is not kept")
        return None
    if label is None:
        metadata["audio"] = str(keeper.path)
    else:
        metadata.setdefault("audio", {})[label] = str(keeper.path)
    return keeper


class AudioKeeper:
    """One recording's WAV. :meth:`add` every chunk; :meth:`finish` when the recording is
    written (``final``: closed; else synced, the recording may go on). Never raises."""

    def __init__(self, path: Path, on_error: Callable[[str], None]):
        self.path = path
        self._on_error = on_error
        self._wav: WavJournal | None = WavJournal(path, SAMPLE_RATE)

    def add(self, chunk: np.ndarray) -> None:
        self._do(lambda wav: wav.write(chunk))

    def finish(self, final: bool) -> None:
        self._do(lambda wav: wav.close() if final else wav.sync())
        if final:
            self._wav = None

    def _do(self, action: Callable[[WavJournal], None]) -> None:
        wav = self._wav
        if wav is None:
            return
        try:
            action(wav)
        except VoxtralError as err:  # a full disk: once, then the transcript goes on alone
            log.debug("keeping the audio failed", exc_info=True)
            self._wav = None
            wav.abandon()
            self._on_error(f"{err}; the audio after {wav.seconds:.1f} s is not kept (the transcript goes on)")  # fmt: skip


__all__ = ["AudioKeeper", "SaveAudio", "keep_audio"]
