"""--mic's live display on a virtual terminal of a given width (xterm's rules: a row that runs
past the width wraps, ``\\r`` returns to the start of the cursor's row, ``ESC[K`` erases to its
end): the redrawn row fits at every width and across resizes, no stale copy of a caption is
left on screen, and a note is never printed inside a line of captions."""

from __future__ import annotations

import io
import os
import re
import shutil
import unicodedata
from pathlib import Path

import pytest

from voxtral_mlx.cli.live import DIM, ELLIPSIS, RESET, LiveDisplay
from voxtral_mlx.live.events import (
    AudioState,
    DraftEvent,
    HintEvent,
    MeterEvent,
    Status,
    StatusEvent,
    TextEvent,
)
from voxtral_mlx.text.transcript import Word, join_texts

METER = re.compile(r"\s+\[[ |a-z]+\].*lag \d+\.\d s$")
NOTE = re.compile(r"^(hint|listening|error|warning): ")


def _width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


class Screen:
    """The cells of a terminal ``width`` columns wide (``width`` may change: a resize; rows
    already drawn stay as they are, as in xterm). Rows record whether they continue the row
    above (a wrap)."""

    def __init__(self, width: int):
        self.width = width
        self.rows: list[list[str]] = [[]]
        self.continued = [False]
        self.row = self.col = 0

    def write(self, text: str) -> None:
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "\x1b":
                m = re.match(r"\x1b\[[0-9;]*([A-Za-z])", text[i:])
                assert m, f"unknown escape in {text[i:]!r}"
                if m.group(1) == "K":
                    del self.rows[self.row][self.col :]
                i += m.end()
                continue
            if ch == "\r":
                self.col = 0
            elif ch == "\n":  # the tty's onlcr makes it \r\n
                self._next_row(False)
            else:
                self._put(ch)
            i += 1

    def _put(self, ch: str) -> None:
        w = _width(ch)
        if self.col + w > self.width:
            self._next_row(True)
        cells = self.rows[self.row]
        cells.extend(" " * (self.col + w - len(cells)))
        cells[self.col] = ch
        if w == 2:
            cells[self.col + 1] = ""
        self.col += w

    def _next_row(self, wrapped: bool) -> None:
        self.row, self.col = self.row + 1, 0
        if self.row == len(self.rows):
            self.rows.append([])
            self.continued.append(False)
        self.continued[self.row] = wrapped

    def lines(self) -> list[tuple[str, int]]:
        """Logical lines (wrapped rows joined) and the physical rows each takes."""
        out: list[tuple[str, int]] = []
        for cells, cont in zip(self.rows, self.continued, strict=True):
            text = "".join(cells)
            if cont and out:
                out[-1] = (out[-1][0] + text, out[-1][1] + 1)
            else:
                out.append((text, 1))
        return [(text.rstrip(), n) for text, n in out]


class Tty:
    """A stream onto the screen that says it is a terminal."""

    def __init__(self, screen: Screen):
        self.screen = screen

    def write(self, text: str) -> int:
        self.screen.write(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


@pytest.fixture
def terminal(monkeypatch):
    """A screen whose width shutil reports (change ``screen.width`` to resize it)."""
    monkeypatch.setenv("TERM", "xterm")
    screen = Screen(80)
    monkeypatch.setattr(
        shutil, "get_terminal_size", lambda *a, **k: os.terminal_size((screen.width, 24))
    )
    return screen


def text(words=(), partial=None) -> TextEvent:
    return TextEvent(text="", start=0.0, end=0.0, words=tuple(Word(w, 0.0, 0.1) for w in words),
                     partial=None if partial is None else Word(partial, 0.0, 0.1))  # fmt: skip


def speech(words: list[str]) -> list:
    """Events as the engine sends them: each word grows letter by letter as the partial, then
    becomes final; a meter and a hint now and then."""
    events: list = [StatusEvent(Status.LISTENING, "USB Mic")]
    for i, word in enumerate(words):
        for k in range(1, len(word) + 1):
            events.append(text(words[i - 1 : i] if k == 1 and i else (), word[:k]))
        if i % 3 == 0:
            events.append(MeterEvent(level_db=-20.0 - i, lag=0.1 * i, audio_seconds=float(i)))
        if i == 7:
            events.append(HintEvent("'USB Mic' delivers only silence: check that it is not muted"))
    events.append(text(words[-1:]))
    return events


WORDS = ("so today we are going to talk about internationalization and why the "
         "counterrevolutionaries of typography never agreed on anything at all").split()  # fmt: skip


def check_screen(screen: Screen, final: list[str], partial: str) -> None:
    """Every caption on screen once, in order; the live row one physical row that fits."""
    lines = [(t, n) for t, n in screen.lines() if not NOTE.match(t)]
    live, rows = METER.sub("", lines[-1][0]), lines[-1][1]
    assert rows == 1 and sum(map(_width, lines[-1][0])) <= screen.width - 1, lines[-1]
    above = [t for t, _ in lines[:-1] if t]
    if live.startswith(ELLIPSIS):  # the word being built is longer than the row: its end shows
        assert partial.endswith(live[1:]) and join_texts(above) == join_texts(final)
    else:
        assert join_texts([*above, live]) == join_texts([*final, partial])


def drive(screen: Screen, events, resize=None) -> LiveDisplay:
    display = LiveDisplay(Tty(screen), Tty(screen), quiet=False)
    final: list[str] = []
    for n, event in enumerate(events):
        if resize:
            screen.width = resize(n, screen.width)
        display.show(event)
        if isinstance(event, TextEvent):
            final += [w.text for w in event.words]
            partial = event.partial.text if event.partial else ""
            check_screen(screen, final, partial)
    return display


@pytest.mark.parametrize("width", [100, 60, 40, 24, 12, 8])
def test_live_row_fits_the_terminal_and_leaves_no_stale_copies(terminal, width):
    terminal.width = width
    drive(terminal, speech(WORDS)).show(StatusEvent(Status.STOPPED))
    captions = [t for t, _ in terminal.lines() if t and not NOTE.match(t)]
    assert " ".join(captions) == join_texts(WORDS)  # each word once, the last line kept
    notes = [t for t, _ in terminal.lines() if NOTE.match(t)]
    assert notes == ["listening: USB Mic (Ctrl-C to stop)",
                     "hint: 'USB Mic' delivers only silence: check that it is not muted"]  # fmt: skip


def test_resizing_mid_sentence_redraws_within_the_new_width(terminal):
    widths = [120, 30, 90, 14, 50, 9, 70]
    drive(terminal, speech(WORDS), resize=lambda n, w: widths[(n // 17) % len(widths)])


def test_wide_characters_count_two_columns(terminal):
    terminal.width = 17
    words = ["今天", "我们", "讨论", "国际化", "和", "排版", "的", "历史。"]
    drive(terminal, speech(words))
    for line, _ in terminal.lines():
        assert sum(map(_width, line)) <= 16 or NOTE.match(line)


def test_meter_says_when_no_audio_arrives(terminal):
    display = LiveDisplay(Tty(terminal), Tty(terminal), quiet=False)
    display.show(MeterEvent(level_db=-100.0, lag=0.0, audio_seconds=3.0, audio=AudioState.STALLED))
    assert "no audio" in terminal.lines()[-1][0]
    display.show(MeterEvent(level_db=-100.0, lag=0.0, audio_seconds=3.0, audio=AudioState.LOST))
    assert "device lost" in terminal.lines()[-1][0]  # unplugged: waiting for it to come back


class Plain(io.StringIO):
    def isatty(self) -> bool:
        return False


@pytest.mark.parametrize("shared", ["same object", "same file", "separate"])
def test_a_note_never_lands_inside_a_caption_line(tmp_path, shared):
    """Captions and notes into one file (``2>&1 | tee``): a caption line is ended before a
    note; into separate files the caption text is unchanged."""
    path = tmp_path / "log.txt"
    if shared == "same object":
        out = err = Plain()
    else:
        out = open(path, "w", buffering=1)
        err = open(os.dup(out.fileno()) if shared == "same file" else tmp_path / "err", "w", buffering=1)  # fmt: skip
    display = LiveDisplay(out, err, quiet=False)
    for event in [text(["Hello"], "th"), text(["there"], "wor"),
                  HintEvent("'USB Mic' delivers only silence"),
                  text(["world."]), text(["Bye."]), StatusEvent(Status.STOPPED)]:  # fmt: skip
        display.show(event)
    if shared == "same object":
        got = out.getvalue()
    else:
        out.close(), err.close()
        got = path.read_text()
    lines = got.splitlines()
    if shared == "separate":
        assert lines == ["Hello there world.", "Bye."]
        return
    assert lines == ["Hello there", "hint: 'USB Mic' delivers only silence", "world.", "Bye."]


# ---- the session around the display ------------------------------------------------------------
def test_output_into_a_missing_folder_is_refused_before_the_model_loads(
    tmp_path, monkeypatch, capsys
):
    from voxtral_mlx.cli import main as cli

    def no_session(app):
        raise AssertionError("the model would load (and the mic open) first")

    monkeypatch.setattr(cli, "_run_mic", no_session)
    (tmp_path / "file").write_text("")
    for target, says in [(tmp_path / "missing" / "meeting.srt", "does not exist"),
                         (tmp_path, "is a folder"),
                         (tmp_path / "file" / "meeting.srt", "does not exist")]:  # fmt: skip
        assert cli.main(["--mic", "--output", str(target)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: --output") and says in err


class FakeLive:
    """Stands in for LiveTranscriber: plays ``script`` from its events queue (an exception in
    it is raised from ``get``, as a Ctrl-C arrives in the waiting main thread; a callable is
    called: something that happens meanwhile)."""

    journal: Path | None = None

    def __init__(self, script, journal):
        self.script, self.journal, self.stopped = list(script), journal, False
        self.events = self

    def __call__(self, *args, **kwargs):
        return self

    def get(self, timeout=None):
        item = self.script.pop(0)
        while callable(item):  # something that happens meanwhile
            item()
            item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def start(self):
        pass

    def stop(self):
        self.stopped = True

    def join(self, timeout=None):
        return True


def mic_run(monkeypatch, tmp_path, script, *argv) -> int:
    from voxtral_mlx.cli import main as cli
    from voxtral_mlx.live import engine

    monkeypatch.setattr(engine, "LiveTranscriber", FakeLive(script, tmp_path / "live-1.jsonl"))
    monkeypatch.setattr(cli, "_run_mic", cli._mic_session)  # not exit_if_streams_left
    return cli.main(["--mic", *argv])


def finished(tmp_path) -> list:
    """A short recording's events, ending with its transcript autosaved in ``tmp_path``."""
    from voxtral_mlx.live.events import TranscriptEvent
    from voxtral_mlx.text.transcript import Transcript

    transcript = Transcript.from_words([Word("Hello.", 0.3, 0.7)], duration=1.0)
    return [StatusEvent(Status.LISTENING, "Mic"), text(words=["Hello."]),
            TranscriptEvent(transcript, path=tmp_path / "live-1.json",
                            journal=tmp_path / "live-1.jsonl"),
            StatusEvent(Status.STOPPED)]  # fmt: skip


def test_the_autosave_path_is_printed_when_a_session_ends(tmp_path, monkeypatch, capsys):
    autosaved = f"autosaved {tmp_path / 'live-1.json'}"
    out = tmp_path / "out" / "meeting.srt"
    out.parent.mkdir()
    assert mic_run(monkeypatch, tmp_path, finished(tmp_path), "--output", str(out)) == 0
    assert out.is_file() and capsys.readouterr().err.splitlines()[-1] == autosaved

    # --quiet, and a write that fails at the end (the folder went away meanwhile): still said
    out.unlink()
    script = [out.parent.rmdir, *finished(tmp_path)]
    code = mic_run(monkeypatch, tmp_path, script, "-q", "--output", str(out))
    err = capsys.readouterr().err.splitlines()
    assert code == 1 and autosaved in err and err[-1].startswith("error: ")


def test_a_second_ctrl_c_names_the_autosave_journal(tmp_path, monkeypatch, capsys):
    script = [*finished(tmp_path)[:2], KeyboardInterrupt(), KeyboardInterrupt()]
    assert mic_run(monkeypatch, tmp_path, script) == 130
    assert str(tmp_path / "live-1.jsonl") in capsys.readouterr().err.splitlines()[-1]


# ---- drafts: the fast row's words after the final text, dimmed, on a terminal only ---------------
class Frames(Tty):
    """A terminal that also keeps what was written to it, as it was written."""

    def __init__(self, screen: Screen):
        super().__init__(screen)
        self.written: list[str] = []

    def write(self, text: str) -> int:
        self.written.append(text)
        return super().write(text)


def timed(*texts: str, at: float = 0.0) -> tuple[Word, ...]:
    """Words half a second apart from ``at``, as the rows time them."""
    return tuple(Word(t, at + 0.5 * i, at + 0.5 * i + 0.3) for i, t in enumerate(texts))


def live_row(screen: Screen) -> str:
    return METER.sub("", screen.lines()[-1][0])


def test_the_draft_follows_the_final_text_dimmed_and_is_replaced(terminal):
    out = Frames(terminal)
    display = LiveDisplay(out, out, quiet=True)
    display.show(TextEvent("", 0.0, 0.5, words=timed("Hello")))
    display.show(DraftEvent(words=timed("world", "how", at=1.0)))
    assert live_row(terminal) == "Hello world how"
    assert out.written[-1] == f"\r\x1b[KHello{DIM} world how{RESET}"  # final plain, draft dim
    display.show(DraftEvent(words=timed("world", "how", "are", at=1.0)))  # replaces, not adds
    assert live_row(terminal) == "Hello world how are"
    assert out.written[-1].endswith(f"{DIM} world how are{RESET}")
    before = len(out.written)
    display.show(DraftEvent(words=timed("world", "how", "are", at=1.0)))  # the same draft
    assert len(out.written) == before  # nothing redrawn: no flicker
    # The final row reaches "world" and starts "how": the draft's copies go in the same update
    # (no word twice), the rest of the draft stays.
    display.show(TextEvent("", 0.5, 1.6, words=timed("world", at=1.0), partial=Word("ho", 1.5, 1.6)))  # fmt: skip
    assert live_row(terminal) == "Hello world ho are"
    assert out.written[-1] == f"\r\x1b[KHello world {DIM}ho are{RESET}"  # as the partial was
    display.show(TextEvent("", 1.6, 1.9, partial=Word("how", 1.5, 1.8)))
    assert live_row(terminal) == "Hello world how are"
    display.show(DraftEvent())  # empty: no draft, nothing of it left on screen
    assert live_row(terminal) == "Hello world how" and DIM + " are" not in out.written[-1]
    display.show(StatusEvent(Status.STOPPED))
    assert [t for t, _ in terminal.lines() if t] == [
        "Hello world"
    ]  # the partial never became final


@pytest.mark.parametrize("width", [60, 32, 20, 12])
def test_the_draft_is_cut_first_when_the_row_is_full(terminal, width):
    """Whole draft words from its start, in the room the final words, the word being built
    and the meter leave; the final text is laid out as without drafts."""
    terminal.width = width
    display = LiveDisplay(Tty(terminal), Tty(terminal), quiet=False)
    draft = timed(*"and then something quite different happened later on".split(), at=100.0)
    final: list[str] = []
    drafted = cut = 0  # rows that showed some of the draft; rows that cut it
    for n, event in enumerate(speech(WORDS)):
        display.show(event)
        if isinstance(event, TextEvent):
            final += [w.text for w in event.words]
            display.show(DraftEvent(words=draft[: 1 + n % len(draft)]))
            lines = [(t, k) for t, k in terminal.lines() if not NOTE.match(t)]
            row, rows = METER.sub("", lines[-1][0]), lines[-1][1]
            assert rows == 1 and sum(map(_width, lines[-1][0])) <= width - 1
            partial = event.partial.text if event.partial else ""
            shown = join_texts([t for t, _ in lines[:-1] if t] + [row])
            if not row.startswith(ELLIPSIS):
                assert shown.startswith(join_texts([*final, partial]))
                extra = shown[len(join_texts([*final, partial])) :].split()
                assert extra == [w.text for w in draft[: len(extra)]]  # a prefix of the draft
                drafted += bool(extra)
                cut += len(extra) < 1 + n % len(draft)
    assert drafted and cut  # both happened at every width


def test_plain_output_is_unchanged_by_drafts():
    script = [text(["Hello"], "th"), text(["there"], "wor"), text(["world."]), text(["Bye."]),
              StatusEvent(Status.STOPPED)]  # fmt: skip
    drafts = [DraftEvent(words=timed("draft", "words", at=9.0)), DraftEvent()]
    outputs = []
    for events in (script, [e for s in script for e in (s, *drafts)]):
        out = Plain()
        display = LiveDisplay(out, Plain(), quiet=True)
        for event in events:
            display.show(event)
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1] == "Hello there world.\nBye.\n"
