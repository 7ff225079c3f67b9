"""Live transcripts survive a crash: an append-only JSON-lines journal, then a final JSON.

Folder (:func:`default_dir`): ``$VOXTRAL_MLX_DATA_DIR`` if set; else ``transcripts`` in the
platform's user data folder (:func:`voxtral_mlx.env.data_dir`: on macOS
``~/Library/Application Support/voxtral-mlx``, on Linux ``${XDG_DATA_HOME:-~/.local/share}/voxtral-mlx``).

Journal ``live-YYYYmmdd-HHMMSS.jsonl`` (format version 1): one JSON object per line, appended as
the transcript grows::

    {"type": "start", "version": 1, "started": "2026-05-01T10:00:00+02:00", "metadata": {...}}
    {"type": "source", "source": "MacBook Pro Microphone", "delay_ms": 480, "offset": 0.0}
    {"type": "word", "text": "Hello,", "start": 0.32, "end": 0.72}
    {"type": "word", "text": "world.", "start": 0.8, "end": 1.2}
    {"type": "word", "text": "Hi.", "start": 0.9, "end": 1.1, "source": "Others"}
    {"type": "end", "duration": 12.34}

``word`` lines are final words, times in seconds from the start of the recording; a word of a
recording of several sources at once (microphone and computer audio) also has ``source``, its
label ("You", "Others"; one-source recordings leave it out), and the sources' words may
interleave out of time order (each source finalises words at its own pace). A ``source``
line opens each session (the first one, then every device or delay switch, ``offset`` = where
it starts). Every line is flushed when written and the file is fsynced at most once a second
and at every source line and at the end, so a crash or power loss costs at most the last
second. :func:`recover` reads a journal back into a Transcript, ignoring a torn last line.
When the recording ends the whole transcript, token ids included, is also written atomically
beside it as ``live-YYYYmmdd-HHMMSS.json`` (the format of :func:`voxtral_mlx.text.writers.json_text`).
Both files are created 0600 and a folder we create 0700: they hold what someone said.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from voxtral_mlx.env import data_dir
from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.fs.atomic_file import create_exclusive
from voxtral_mlx.text.transcript import Transcript, Word
from voxtral_mlx.text.writers import dump_json, write_json

# Still 1 with word labels: a reader of version 1 reads named keys and ignores the new
# ``source`` key of a word line, so an older build opens a labelled journal (unlabelled).
FORMAT_VERSION = 1
FSYNC_EVERY_SECONDS = 1.0
# Private speech: only the user reads the journal and its JSON, and the folder we create.
PRIVATE_MODE = 0o600
FOLDER_MODE = 0o700


def default_dir() -> Path:
    """Where live transcripts are kept on this platform (see the module docstring)."""
    if os.environ.get("VOXTRAL_MLX_DATA_DIR"):
        return Path(os.environ["VOXTRAL_MLX_DATA_DIR"]).expanduser()
    return data_dir() / "transcripts"


class Autosave:
    """One recording's journal. Methods raise VoxtralError (one line) if the disk fails."""

    def __init__(
        self,
        folder: str | os.PathLike,
        metadata: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        folder = Path(folder).expanduser()
        self._clock = clock
        try:
            folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
            self.path, fd = _create_unique(folder, datetime.now().strftime("live-%Y%m%d-%H%M%S"))
        except OSError as err:
            raise VoxtralError(f"cannot autosave in {folder}: {err.strerror or err}") from err
        self.final_path = self.path.with_suffix(".json")
        self._file = open(fd, "w", encoding="utf-8", newline="\n")
        self._synced = clock()
        started = datetime.now().astimezone().isoformat(timespec="seconds")
        self._write({"type": "start", "version": FORMAT_VERSION, "started": started,
                     "metadata": dict(metadata or {})}, sync=True)  # fmt: skip

    def source(self, name: str, delay_ms: int, offset: float) -> None:
        line = {"type": "source", "source": name, "delay_ms": delay_ms, "offset": offset}
        self._write(line, sync=True)

    def words(self, words: Iterable[Word]) -> None:
        for w in words:
            line = {"type": "word", "text": w.text, "start": w.start, "end": w.end}
            self._write(line if w.source is None else {**line, "source": w.source})
        if self._clock() - self._synced >= FSYNC_EVERY_SECONDS:
            self._sync()

    def checkpoint(self, transcript: Transcript) -> Path:
        """Write the final JSON now (atomically; again later if the recording goes on)."""
        self._sync()
        return write_json(transcript, self.final_path, PRIVATE_MODE)

    def close(self, transcript: Transcript) -> Path:
        """The ``end`` line, then the final JSON; returns its path."""
        if not self._file.closed:
            self._write({"type": "end", "duration": transcript.duration}, sync=True)
            self._file.close()
        return write_json(transcript, self.final_path, PRIVATE_MODE)

    def _write(self, obj: dict, sync: bool = False) -> None:
        try:
            self._file.write(dump_json(obj) + "\n")
            self._file.flush()
            if sync:
                self._sync()
        except (OSError, ValueError) as err:
            raise VoxtralError(f"cannot autosave to {self.path}: {err}") from err

    def _sync(self) -> None:
        if not self._file.closed:
            os.fsync(self._file.fileno())
        self._synced = self._clock()


def _create_unique(folder: Path, stem: str) -> tuple[Path, int]:
    for n in range(1000):
        path = folder / (f"{stem}.jsonl" if n == 0 else f"{stem}-{n}.jsonl")
        if path.with_suffix(".json").exists():  # a kept transcript whose journal was deleted
            continue
        try:
            return path, create_exclusive(path, PRIVATE_MODE)
        except FileExistsError:
            continue
    raise FileExistsError(f"too many recordings named {stem}")


def recover(path: str | os.PathLike) -> Transcript:
    """A journal (even one cut short by a crash) as a Transcript: its words, caption segments
    and duration; no token ids (the journal keeps words only). Words keep their source labels
    (in time order then, as :meth:`Transcript.from_words` keeps them). ``metadata`` holds the
    start line's, plus ``"recovered": True`` when the journal has no ``end`` line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise VoxtralError(f"cannot read {path}: {err.strerror or err}") from err
    words: list[Word] = []
    metadata: dict[str, Any] = {}
    duration = None
    for number, line in enumerate(lines, start=1):
        try:
            item = json.loads(line)
            kind = item["type"]
            if kind == "start":
                metadata = dict(item.get("metadata", {}))
            elif kind == "word":
                words.append(_word(item))
            elif kind == "end":
                duration = float(item["duration"])
        except (ValueError, KeyError, TypeError) as err:
            if number == len(lines):  # torn by a crash mid-write
                break
            raise VoxtralError(f"{path}: line {number} is not a journal entry ({err})") from err
    if duration is None:
        metadata["recovered"] = True
        duration = max((word.end for word in words), default=0.0)  # sources interleave
    return Transcript.from_words(words, duration=duration, metadata=metadata)


def _word(item: dict[str, Any]) -> Word:
    source = item.get("source")
    return Word(str(item["text"]), float(item["start"]), float(item["end"]),
                None if source is None else str(source))  # fmt: skip


__all__ = ["Autosave", "default_dir", "recover"]
