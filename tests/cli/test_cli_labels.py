"""--mic --system-audio: the live display puts each source's words on lines of their own,
opened with its label ("You: ...", "Others: ..."); the word being built, the draft and the
meter follow the line's source; one-source output carries no label."""

from __future__ import annotations

from tests.cli.test_cli_live import Plain, Tty, live_row, terminal, timed  # noqa: F401 (fixture)
from voxtral_mlx.cli.live import LiveDisplay
from voxtral_mlx.live.events import DraftEvent, MeterEvent, Status, StatusEvent, TextEvent
from voxtral_mlx.text.transcript import Word


def said(source, *words, partial=None) -> TextEvent:
    return TextEvent("", 0.0, 0.1, words=tuple(Word(w, 0.0, 0.1, source) for w in words),
                     partial=None if partial is None else Word(partial, 0.0, 0.1, source),
                     source=source)  # fmt: skip


def test_plain_output_has_a_labelled_line_per_turn():
    out = Plain()
    display = LiveDisplay(out, Plain(), quiet=True)
    for event in [said("You", "Hi", partial="the"), said("Others", "Hello", partial="ag"),
                  said("You", "there."), said("Others", "again,"), said("Others", "friend."),
                  said("You", "Bye"), StatusEvent(Status.STOPPED)]:  # fmt: skip
        display.show(event)
    assert out.getvalue().splitlines() == [
        "You: Hi", "Others: Hello", "You: there.", "Others: again, friend.", "You: Bye"]  # fmt: skip


def test_one_source_has_no_label():
    out = Plain()
    display = LiveDisplay(out, Plain(), quiet=True)
    for event in [said(None, "Hello", "there."), said(None, "Bye"), StatusEvent(Status.STOPPED)]:
        display.show(event)
    assert out.getvalue().splitlines() == ["Hello there.", "Bye"]


def test_on_a_terminal_the_partial_and_draft_follow_the_lines_source(terminal):  # noqa: F811
    display = LiveDisplay(Tty(terminal), Tty(terminal), quiet=True)
    display.show(said("You", "Hi", partial="th"))
    assert live_row(terminal) == "You: Hi th"
    display.show(said("Others", partial="Hel"))  # the other source's partial waits
    display.show(DraftEvent(words=timed("wor", at=1.0), source="Others"))
    assert live_row(terminal) == "You: Hi th"
    display.show(DraftEvent(words=timed("there", "friend", at=1.0), source="You"))
    assert live_row(terminal) == "You: Hi th there friend"
    display.show(said("Others", "Hello", partial="ag"))  # its words: a line of its own
    assert live_row(terminal) == "Others: Hello ag"
    assert [row for row, _ in terminal.lines()][-2].startswith("You: Hi")


def test_the_meter_names_each_source(terminal):  # noqa: F811
    display = LiveDisplay(Tty(terminal), Tty(terminal), quiet=False)
    display.show(MeterEvent(level_db=-20.0, lag=0.1, audio_seconds=1.0, source="You"))
    display.show(MeterEvent(level_db=-30.0, lag=0.4, audio_seconds=1.0, source="Others"))
    row = terminal.lines()[-1][0]
    assert "You [" in row and "Others [" in row and "lag 0.4 s" in row
