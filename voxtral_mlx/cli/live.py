"""What ``--mic`` prints: final words on stdout as they come, and on a terminal the word being
built, the draft after it (dimmed, from :class:`~voxtral_mlx.live.events.DraftEvent`) and a
level/lag meter, redrawn in place. Printing only (no MLX, no devices). A word goes on the
current line when the caption layout's test says it fits there, in terminal cells
(:func:`~voxtral_mlx.text.captions.fits`); a sentence end also ends the line. Words are never
cut: a final line is printed once, and the terminal wraps a word wider than itself.

The redrawn row always fits the terminal as it is now (asked at every draw, so a resize is
followed): a row that wraps cannot be erased by ``\\r``, and every redraw would leave a stale
copy above it. The row is redrawn only when what it shows changed (no flicker); the draft is
what gives way when the row is full: whole words of it, from its start, fill the room the final
words, the word being built and the meter leave. Drafts are never written off a terminal.
"""

from __future__ import annotations

import os
import shutil
import unicodedata

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
)
from voxtral_mlx.text.captions import fits
from voxtral_mlx.text.drafts import draft_tail
from voxtral_mlx.text.transcript import Word, ends_sentence, join_texts, separator

DIM, RESET = "\x1b[2m", "\x1b[0m"
ELLIPSIS = "…"
PARTIAL_ROOM = 12  # columns left after the final words for the word being built


def interactive(stream) -> bool:
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def columns() -> int:
    """Columns a redrawn row may use now: the last one stays empty (a character there leaves
    the cursor waiting to wrap, and the next ``\\r`` would go to the wrong row)."""
    return max(1, shutil.get_terminal_size().columns - 1)


def cells(text: str) -> int:
    """Terminal columns ``text`` takes: wide (CJK) characters two, combining marks none."""
    return sum(_cell(ch) for ch in text)


def _cell(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def tail(text: str, width: int) -> str:
    """The end of ``text`` that fits ``width`` columns, ``…`` first where it was cut: the
    newest words are the ones a reader needs."""
    if cells(text) <= width:
        return text
    kept, used = [], cells(ELLIPSIS)
    for ch in reversed(text):
        used += _cell(ch)
        if used > width:
            break
        kept.append(ch)
    return (ELLIPSIS + "".join(reversed(kept))) if width >= cells(ELLIPSIS) else ""


def meter_text(event: MeterEvent) -> str:
    if event.audio is AudioState.STALLED:
        return f"[ no audio ]  lag {event.lag:.1f} s"
    if event.audio is AudioState.LOST:
        return f"[ device lost ]  lag {event.lag:.1f} s"
    bars = max(0, min(8, round((event.level_db + 60) / 60 * 8)))
    return f"[{'|' * bars}{' ' * (8 - bars)}] {event.level_db:4.0f} dB  lag {event.lag:.1f} s"


def same_sink(out, err) -> bool:
    """Whether both streams end in the same file, pipe or terminal (``2>&1``)."""
    if out is err:
        return True
    try:
        return os.path.samestat(os.fstat(out.fileno()), os.fstat(err.fileno()))
    except (AttributeError, OSError, ValueError):
        return False


def draft_fit(row: str, draft: tuple[Word, ...], width: int) -> str:
    """The draft's words from its start that fit after ``row`` within ``width`` columns, with
    the separator before them ("" when none fits): it is cut before anything else."""
    text = row
    for word in draft:
        piece = " ".join(word.text.split())
        if piece and not fits(text, piece, width, cells):
            break
        text += separator(text, piece) + piece
    return text[len(row) :]


class LiveDisplay:
    """Prints live events. Final words go to stdout as they come, a line per sentence. On a
    terminal the word still being built follows them dimmed and is redrawn as it grows, then
    the draft (dimmed too, replaced by each DraftEvent), and (stderr a terminal, not --quiet) a
    level/lag meter; otherwise stdout gets only final words, plain. Status, hints and errors
    are lines on stderr, never inside a line of captions (a caption line going to the same
    place is ended first)."""

    def __init__(self, out, err, quiet: bool):
        self.out, self.err, self.quiet = out, err, quiet
        self.tty = interactive(out)
        self.meter_on = not quiet and interactive(err)
        self.shared = same_sink(out, err)
        self._line = self._partial = self._meter = ""
        self._draft: tuple[Word, ...] = ()
        self._speaker: str | None = None  # the label of the source the current line is from
        self._meters: dict[str | None, str] = {}
        self._row_open = False  # plain output: caption text on a line not yet ended
        self._drawn: tuple[str, str] | None = None  # the live row on screen (None: none)

    def show(self, event: LiveEvent) -> None:
        if isinstance(event, TextEvent):
            for word in event.words:
                self._add_word(word.text, event.source)
            if event.source != self._speaker and (self._line or self._partial):
                return  # the other source's word being built waits for its own line
            self._speaker = event.source
            self._partial = " ".join(event.partial.text.split()) if event.partial else ""
            # The final row has reached these draft words: they go now, not a step later.
            reached = [w for w in (*event.words, event.partial) if w is not None]
            self._draft = tuple(draft_tail(reached, self._draft))
        elif isinstance(event, DraftEvent):
            if not self.tty or event.source != self._speaker:
                return  # plain output: final text only; a draft shows on its source's line
            self._draft = event.words
        elif isinstance(event, MeterEvent):
            self._meters[event.source] = meter_text(event)
            self._meter = "  ".join(m if k is None else f"{k} {m}" for k, m in self._meters.items())  # fmt: skip
        elif isinstance(event, StatusEvent):
            if event.status is Status.STOPPED:
                self._clear()
                self._partial = self._meter = ""
                self._draft = ()
                self._end_line()
                return
            self._status(event)
        elif isinstance(event, HintEvent):
            self.note(f"hint: {event.message}")
        elif isinstance(event, ErrorEvent):
            self.note(f"error: {event.message}", always=True)
        elif isinstance(event, DroppedEvent) and event.seconds > 0:
            self.note(f"warning: {event.seconds:.1f} s of audio dropped: transcription is falling behind")  # fmt: skip
        self._draw()

    def _status(self, event: StatusEvent) -> None:
        if event.status is Status.LISTENING:
            self.note(f"listening: {event.detail} (Ctrl-C to stop)")
        elif event.status is Status.LOADING:
            self.note(f"loading model {event.detail}")

    def note(self, message: str, always: bool = False) -> None:
        if self.quiet and not always:
            return
        self._clear()
        if self._row_open and self.shared:
            self.out.write("\n")  # the sentence goes on below the note, not around it
            self._row_open = False
        self.out.flush()
        print(message, file=self.err, flush=True)
        self._draw()

    def _add_word(self, word: str, source: str | None = None) -> None:
        """A final word; a word of another source than the line's starts a new line, which
        (several sources) opens with its label: ``You: ...``."""
        if source != self._speaker:
            if self._line or self._row_open:
                self._end_line()
            self._speaker, self._partial, self._draft = source, "", ()
        label = [] if source is None else [f"{source}:"]
        line = join_texts([self._line or "", *([] if self._line else label), word])
        if self.tty:
            if self._line and not fits(self._line, word, columns() - self._reserve(), cells):
                self._end_line()
                line = join_texts([*label, word])
        else:
            piece = line[len(self._line) :]
            self.out.write(piece if self._row_open else piece.lstrip())
            self._row_open = True
        self._line = line
        if ends_sentence(word):
            self._end_line()

    def _reserve(self) -> int:
        """Room kept after the final words for the word being built and the meter; at most
        half the row, so a narrow terminal still gets words."""
        meter = 2 + cells(self._meter) if self.meter_on and self._meter else 0
        return min(PARTIAL_ROOM + meter, columns() // 2)

    def _end_line(self) -> None:
        if self.tty:
            self.out.write("\r\x1b[K" + self._line)
            self._drawn = None
        if (self.tty and (self._line or self._partial)) or self._row_open:
            self.out.write("\n")
        self._row_open = False
        self.out.flush()
        self._line = ""

    def _clear(self) -> None:
        self._drawn = None
        if self.tty:
            self.out.write("\r\x1b[K")
            self.out.flush()
        elif self.meter_on:
            self.err.write("\r\x1b[K")
            self.err.flush()

    def _draw(self) -> None:
        width = columns()
        if not self.tty:
            self.out.flush()
            if self.meter_on and self._meter:
                self.err.write(f"\r{tail(self._meter, width)}\x1b[K")
                self.err.flush()
            return
        if self._line and not fits(self._line, self._partial, width, cells):
            self._end_line()  # the words and the one being built no longer fit one row
        row = tail(join_texts([self._line, self._partial]), width)
        cut = len(row) - min(len(self._partial), len(row))
        meter = f"  {self._meter}" if self.meter_on and self._meter else ""
        meter = meter if cells(row) + cells(meter) <= width else ""
        draft = draft_fit(row, self._draft, width - cells(meter))
        dimmed = f"{DIM}{row[cut:]}{draft}{RESET}" if cut < len(row) or draft else ""
        frame = (f"\r\x1b[K{row[:cut]}{dimmed}", f"{DIM}{meter}{RESET}" if meter else "")
        if frame == self._drawn:
            return  # the same row again: redrawing it would only flicker
        self._drawn = frame
        self.out.write(frame[0])
        self.out.flush()
        if frame[1]:
            self.err.write(frame[1])
            self.err.flush()


__all__ = ["DIM", "LiveDisplay", "cells", "columns", "draft_fit", "interactive", "tail"]
