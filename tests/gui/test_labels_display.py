"""Two sources in the app, events played to the real app's controller as the engine sends them
(no model runs): the window and the overlay show a line per speaker opened by its label in bold,
each source's word in progress and draft on its own line; a meter each; hints and errors name
their source; the window saves the labels; a labelled recording opened from History shows its
turns. One source shows no label (the other gui tests keep its look)."""

# ruff: noqa: F811  (the fixtures imported from test_main_window are the tests' parameters)
from __future__ import annotations

import json

import srt
import webvtt
from PySide6.QtGui import QFont, QPalette, QTextCursor

from voxtral_mlx.live.events import (
    AudioState,
    DraftEvent,
    ErrorEvent,
    HintEvent,
    MeterEvent,
    Status,
    StatusEvent,
    TextEvent,
)
from voxtral_mlx.live.source_set import OTHERS, YOU
from voxtral_mlx.text.transcript import Transcript, Word

from .test_main_window import folder, make_app, threads_back  # noqa: F401


def said(source, *texts: str, at: float, partial: str = "") -> TextEvent:
    words = tuple(Word(t, at + 0.5 * i, at + 0.5 * i + 0.3) for i, t in enumerate(texts))
    building = Word(partial, at + 5, at + 5.1) if partial else None
    return TextEvent("", at, at, words=words, partial=building, source=source)


def fmt_at(view, position: int):
    cursor = QTextCursor(view.document())
    cursor.setPosition(position + 1)  # the format of the character before the cursor
    return cursor.charFormat()


def play_call(app) -> None:
    on_event = app.window.on_event
    on_event(StatusEvent(Status.LISTENING, "You: USB Mic, Others: system audio"))
    on_event(said(YOU, "Hi", "there.", at=0.0, partial="How"))
    on_event(said(OTHERS, "Hello!", at=0.4, partial="Good"))
    on_event(DraftEvent(words=(Word("to", 6, 6.2, OTHERS), Word("see", 6.3, 6.5, OTHERS)), source=OTHERS))  # fmt: skip
    on_event(DraftEvent(words=(Word("are", 6, 6.2, YOU),), source=YOU))


def test_a_line_per_speaker_with_a_bold_label_and_the_tails_on_their_own_lines(make_app):
    app = make_app()
    win, view = app.window, app.window.view
    play_call(app)
    text = view.toPlainText()
    assert text == "You: Hi there.\nOthers: Hello! Good to see\nYou: How are" == win.captions.text  # fmt: skip
    dim = view.palette().color(QPalette.ColorRole.PlaceholderText)
    assert fmt_at(view, 0).fontWeight() == QFont.Weight.Bold  # "You:" of a final line
    assert fmt_at(view, text.index("Hi")).fontWeight() != QFont.Weight.Bold
    assert fmt_at(view, text.index("Others")).fontWeight() == QFont.Weight.Bold
    pending = text.rindex("You:")  # You's word in progress waits on a dimmed line of its own
    assert fmt_at(view, pending).fontWeight() == QFont.Weight.Bold
    assert fmt_at(view, pending).foreground().color() == dim
    assert fmt_at(view, text.index("Good")).fontItalic()
    overlay = app.overlay
    assert overlay.lines[-1] == "Others: Hello!" and overlay.partial == "Good"
    assert "<b>Others:</b>" in overlay.label.text()
    app.window.on_event(said(YOU, "How", "are", at=6.0))  # You again: a new line
    assert view.toPlainText() == "You: Hi there.\nOthers: Hello!\nYou: How are\nOthers: Good to see"  # fmt: skip
    assert view.toPlainText() == win.captions.text
    app.window.on_event(StatusEvent(Status.IDLE))  # the end: words in progress and drafts go
    assert view.toPlainText() == "You: Hi there.\nOthers: Hello!\nYou: How are"
    assert view.toPlainText() == win.captions.committed_text


def test_a_meter_each_and_messages_say_which_source(make_app):
    app = make_app()
    win = app.window
    win.on_event(MeterEvent(level_db=-30.0, lag=0.4, audio_seconds=1.0))  # one source
    assert not win.meters.labelled and win.meters.others.bar.isHidden()
    play_call(app)
    win.on_event(MeterEvent(level_db=-20.0, lag=0.5, audio_seconds=1.0, source=YOU))
    win.on_event(MeterEvent(level_db=-10.0, lag=2.5, audio_seconds=1.0, source=OTHERS))
    meters = win.meters
    assert meters.labelled and not meters.others.bar.isHidden() and not meters.main.name.isHidden()  # fmt: skip
    assert (meters.main.name.text(), meters.others.name.text()) == (YOU, OTHERS)
    assert meters.main.bar.value() == -20 and meters.others.bar.value() == -10
    assert meters.main.lag.text() == "lag 0.5 s" and meters.others.lag.text() == "lag 2.5 s"
    assert "d9534f" in meters.others.lag.styleSheet() and not meters.main.lag.styleSheet()
    win.on_event(ErrorEvent("the sound server went away", source=OTHERS))
    assert win.banner.label.text() == "Computer audio: the sound server went away"
    assert meters.others.bar.value() == -60 and meters.others.lag.text() == ""  # it has ended
    assert meters.main.bar.value() == -20  # the microphone goes on
    silent = HintEvent("'USB Mic' delivers only silence", clears_on=AudioState.FLOWING, source=YOU)
    win.on_event(silent)
    assert win.banner.label.text() == "Microphone: 'USB Mic' delivers only silence"
    win.on_event(MeterEvent(level_db=-10.0, lag=0.1, audio_seconds=2.0, source=OTHERS))
    assert win.banner.isVisible()  # sound from the computer says nothing of the microphone
    win.on_event(MeterEvent(level_db=-10.0, lag=0.1, audio_seconds=2.0, source=YOU))
    assert win.banner.isHidden()


def test_a_lost_source_is_named_in_the_status_and_the_overlay(make_app, qtbot):
    app = make_app()
    win = app.window
    app.bridge.listening = True  # as while recording (no transcriber runs here)
    win.on_event(StatusEvent(Status.LISTENING, "You: USB Mic, Others: system audio"))
    win.on_event(MeterEvent(level_db=-20.0, lag=0.0, audio_seconds=1.0, source=YOU))
    win.on_event(MeterEvent(level_db=-90, lag=0.0, audio_seconds=1.0, source=OTHERS, audio=AudioState.LOST))  # fmt: skip
    assert win.status_label.text() == "Computer audio: device lost, waiting for it"
    assert app.overlay.state == "Computer audio: device lost, waiting for it"
    assert win.meters.others.bar.value() == -60  # no level while it is lost
    win.on_event(MeterEvent(level_db=-20.0, lag=0.0, audio_seconds=2.0, source=OTHERS))
    assert win.status_label.text() == "Listening to You: USB Mic, Others: system audio"
    quiet = AudioState.SILENT
    win.on_event(MeterEvent(level_db=-90, lag=0.0, audio_seconds=3.0, source=OTHERS, audio=quiet))
    assert app.overlay.state == ""  # one quiet side of a call is no news
    win.on_event(MeterEvent(level_db=-90, lag=0.0, audio_seconds=3.0, source=YOU, audio=quiet))
    assert app.overlay.state == "No audio"
    app.bridge.listening = False


def test_the_window_saves_the_labels(make_app, tmp_path):
    app = make_app()
    play_call(app)
    app.window.on_event(StatusEvent(Status.IDLE))
    saved = Transcript.from_dict(json.loads(app.window.save_to(tmp_path / "t.json").read_text()))
    assert [(w.text, w.source) for w in saved.words] == [("Hi", YOU), ("Hello!", OTHERS), ("there.", YOU)]  # fmt: skip
    assert {s.source for s in saved.segments} == {YOU, OTHERS}
    cues = list(srt.parse(app.window.save_to(tmp_path / "t.srt").read_text()))
    assert {c.content.split(":")[0] for c in cues} == {YOU, OTHERS}
    vtt = app.window.save_to(tmp_path / "t.vtt").read_text()
    assert "<v You>" in vtt and "<v Others>" in vtt and len(webvtt.read(str(tmp_path / "t.vtt"))) == len(cues)  # fmt: skip
    txt = app.window.save_to(tmp_path / "t.txt").read_text()
    assert all(line.startswith(("You: ", "Others: ")) for line in txt.splitlines() if line)


def test_a_labelled_recording_from_history_shows_its_turns(make_app):
    words = [Word("Hi", 0.0, 0.3, YOU), Word("Hello", 0.2, 0.5, OTHERS),
             Word("there.", 0.4, 0.7, YOU), Word("Bye.", 2.0, 2.3, OTHERS)]  # fmt: skip
    transcript = Transcript.from_words(words)
    app = make_app()
    assert app.window.show_transcript(transcript)  # nothing shown yet: no question asked
    view = app.window.view
    assert view.toPlainText() == transcript.text == "You: Hi there.\nOthers: Hello Bye."
    assert app.window.captions.text == view.toPlainText()
    assert app.window.captions.transcript().words == transcript.words  # labels kept for Save
    app.controller.load(Transcript.from_words([Word("plain", 0, 1)]))  # "Add below"
    assert view.toPlainText() == transcript.text + "\n\nplain" == app.window.captions.text
    app.controller.load(transcript)
    assert view.toPlainText().endswith("plain\n\n" + transcript.text)
