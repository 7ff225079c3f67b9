"""Draft captions in the app: the window and the overlay show the final text, then the fast row's
draft dimmed; each DraftEvent replaces the draft, final words that reach it take its copy away in
the same update (no word shown twice), an empty one leaves the final text, and nothing saved
holds a draft word. Events are played to the real app's controller as the engine sends them (no
model runs)."""

# ruff: noqa: F811  (the fixtures imported from test_main_window are the tests' parameters)
from __future__ import annotations

import json

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QFontMetrics, QPalette, QTextCursor

from gui.captions import CaptionModel
from gui.overlay import CaptionOverlay
from gui.overlay_text import DRAFT_ALPHA
from gui.settings import Key, Settings
from voxtral_mlx.live.events import DraftEvent, Status, StatusEvent, TextEvent
from voxtral_mlx.text.transcript import Word, join_texts

from .test_main_window import folder, make_app, threads_back  # noqa: F401


def timed(*texts: str, at: float) -> tuple[Word, ...]:
    """Words half a second apart from ``at`` (recording seconds), as both rows time them."""
    return tuple(Word(t, at + 0.5 * i, at + 0.5 * i + 0.3) for i, t in enumerate(texts))


def step(words=(), partial: Word | None = None) -> TextEvent:
    return TextEvent("", 0.0, 0.0, words=tuple(words), partial=partial)


def colour_at(view, position: int) -> QColor:
    cursor = QTextCursor(view.document())
    cursor.setPosition(position + 1)  # the format of the character before the cursor
    return cursor.charFormat().foreground().color()


def shown(app) -> tuple[str, str]:
    """What the window shows, and the overlay's rows as one text."""
    overlay = app.overlay
    rows = [*overlay.lines, overlay.partial, *overlay.draft]
    return app.window.view.toPlainText(), join_texts(rows)


def check_shown(app, final: str, draft: str) -> None:
    """The window: ``final`` in the text colour, then ``draft`` dimmed; the overlay: the same
    words at their end, the draft in its draft colour; every word once."""
    view, overlay_text = shown(app)
    assert view == join_texts([final, draft]) == app.window.captions.text
    dim = app.window.view.palette().color(QPalette.ColorRole.PlaceholderText)
    if draft:
        at = len(view) - len(draft)
        assert all(colour_at(app.window.view, i) == dim for i in range(at, len(view)))
        assert app.overlay.draft and f"{DRAFT_ALPHA})" in app.overlay.label.text()
    if final:
        assert colour_at(app.window.view, 0) != dim
    assert join_texts([final, draft]).endswith(overlay_text)
    assert app.overlay.draft == [] or draft.endswith(join_texts(app.overlay.draft))
    words = view.split()
    assert len(words) == len(set(words))  # the script's words are all different


def test_final_text_then_the_draft_dimmed_replaced_reached_and_cleared(make_app, qtbot):
    app = make_app()
    on_event, controller = app.window.on_event, app.controller
    drafts: list[str] = []
    controller.draft_changed.connect(lambda draft, _source: drafts.append(draft))
    on_event(StatusEvent(Status.LISTENING, "Mic"))
    on_event(step(timed("Hello", at=0.0)))
    on_event(DraftEvent(words=timed("world", "how", "are", at=0.6)))
    check_shown(app, "Hello", "world how are")
    on_event(DraftEvent(words=timed("world", "how", "are", "you", at=0.6)))  # replaces it
    check_shown(app, "Hello", "world how are you")
    # The final row reaches "world" and starts "how": those draft copies go at once, before
    # the engine's next DraftEvent (which then changes nothing: no redraw).
    on_event(step(timed("world", at=0.6), partial=Word("ho", 1.1, 1.2)))
    check_shown(app, "Hello world ho", "are you")
    signals = len(drafts)
    on_event(DraftEvent(words=timed("are", "you", at=1.6)))
    assert len(drafts) == signals
    on_event(step(timed("how", "are", at=1.1)))
    check_shown(app, "Hello world how are", "you")
    on_event(DraftEvent(words=timed("you", "today", at=2.1)))
    check_shown(app, "Hello world how are", "you today")
    on_event(DraftEvent())  # empty: the final text only
    check_shown(app, "Hello world how are", "")
    assert drafts[-1] == ""


def test_saving_keeps_final_words_only(make_app, tmp_path):
    app = make_app()
    win = app.window
    win.on_event(StatusEvent(Status.LISTENING, "Mic"))
    win.on_event(step(timed("Saved", "words.", at=0.0)))
    win.on_event(DraftEvent(words=timed("draftonly", "preview", at=1.2)))
    assert "draftonly preview" in win.view.toPlainText()  # shown...
    for suffix in ("txt", "srt", "vtt", "json"):  # ...never saved
        text = win.save_to(tmp_path / f"t.{suffix}").read_text()
        assert "Saved" in text and "draftonly" not in text and "preview" not in text
    data = json.loads((tmp_path / "t.json").read_text())
    assert [w["text"] for s in data["segments"] for w in s["words"]] == ["Saved", "words."]
    assert win.captions.transcript().text == "Saved words."


def test_a_new_recordings_draft_starts_its_paragraph_and_stop_clears_it(make_app):
    app = make_app()
    win = app.window
    win.on_event(StatusEvent(Status.LISTENING, "Mic"))
    win.on_event(step(timed("First.", at=0.0)))
    win.on_event(StatusEvent(Status.IDLE))
    win.on_event(StatusEvent(Status.LISTENING, "Mic"))
    win.on_event(DraftEvent(words=timed("Second", at=0.0)))  # before any final word
    assert win.view.toPlainText() == "First.\n\nSecond" == win.captions.text
    win.on_event(step(timed("Second", at=0.0)))  # the final row's copy: the same place
    assert win.view.toPlainText() == "First.\n\nSecond" == win.captions.text
    win.on_event(DraftEvent(words=timed("recording", at=0.5)))
    win.on_event(StatusEvent(Status.IDLE))  # stopped: no draft is left
    assert win.view.toPlainText() == "First.\n\nSecond" and app.overlay.draft == []


def test_drafts_do_not_move_a_transcript_scrolled_up(make_app, qtbot):
    app = make_app()
    win = app.window
    win.resize(500, 400)
    win.on_event(StatusEvent(Status.LISTENING, "Mic"))
    win.on_event(step(timed(*[f"word{i}" for i in range(600)], at=0.0)))
    bar = win.view.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()  # following the newest words
    win.on_event(DraftEvent(words=timed(*[f"draft{i}" for i in range(40)], at=400.0)))
    assert bar.value() == bar.maximum()  # still following, the draft in view
    bar.setValue(bar.maximum() // 3)  # the user scrolls up to read
    reading = bar.value()
    for n in (3, 30, 0, 12):
        win.on_event(DraftEvent(words=timed(*[f"draft{i}" for i in range(n)], at=400.0)))
        assert bar.value() == reading
    bar.setValue(bar.maximum())  # back down: following again
    win.on_event(DraftEvent(words=timed(*[f"draft{i}" for i in range(50)], at=400.0)))
    assert bar.value() == bar.maximum()


def overlay_with(qtbot, tmp_path, lines: int) -> tuple[CaptionOverlay, CaptionModel]:
    store = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    store.set(Key.OVERLAY_LINES, lines)
    store.set(Key.OVERLAY_WIDTH, 420)
    overlay = CaptionOverlay(store)
    qtbot.addWidget(overlay)
    model = CaptionModel()
    overlay.show_captions(model)
    overlay.show()
    qtbot.waitExposed(overlay)
    return overlay, model


def test_the_overlay_cuts_the_draft_first_and_keeps_the_newest_final_words(qtbot, tmp_path):
    for n in (1, 2, 3):
        overlay, model = overlay_with(qtbot, tmp_path, n)
        model.add(step(timed(*[f"final{i}" for i in range(60)], at=0.0), Word("par", 30, 30.1)))
        model.set_draft(DraftEvent(words=timed(*[f"draft{i}" for i in range(60)], at=31.0)))
        overlay.refresh()
        metrics = QFontMetrics(overlay.label.font())
        rows = overlay.label.text().split("<br>")
        assert len(rows) == n and overlay.label.sizeHint().height() <= overlay.label.height()
        assert overlay.lines[-1].endswith("final59") and overlay.partial == "par"
        shown_draft = join_texts(overlay.draft).split()
        assert shown_draft == [f"draft{i}" for i in range(len(shown_draft))]  # its start, in order
        assert 0 < len(shown_draft) < 60  # cut
        newest = join_texts([overlay.lines[-1], "par", overlay.draft[0]])
        for row in [newest, *overlay.draft[1:]]:
            assert metrics.horizontalAdvance(row) <= overlay.line_width()
        model.set_draft(DraftEvent())
        overlay.refresh()
        assert overlay.draft == [] and f"{DRAFT_ALPHA})" not in overlay.label.text()
        assert overlay.lines[-1].endswith("final59")
