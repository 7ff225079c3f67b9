"""The settings window: caption font, size, colours (presets, high contrast) and lines for the
window and the overlay apply at once, are remembered, and show on screen; contrast is the
WCAG ratio; the close-while-listening choice can be changed."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QSettings
from PySide6.QtGui import QColor, QFontDatabase, QPalette

from gui.settings import OVERLAY_KEYS, WINDOW_KEYS, Key, Settings, caption_style
from gui.settings_window import SettingsWindow, contrast

from .test_main_window import folder, make_app  # noqa: F401

HIGH = "High contrast: white on black"


def ini(path) -> Settings:
    return Settings(QSettings(str(path), QSettings.Format.IniFormat))


def other_family(current: str) -> str:
    return next(f for f in QFontDatabase.families() if f != current and not QFontDatabase.isPrivateFamily(f))  # fmt: skip


@pytest.mark.parametrize(("text", "background", "ratio"), [
    ("#ffffff", "#000000", 21.0), ("#777777", "#ffffff", 4.48), ("#ffff00", "#000000", 19.56),
    ("#808080", "#808080", 1.0),
])  # fmt: skip
def test_contrast_is_the_wcag_ratio(text, background, ratio):
    # Reference values from the WCAG 2 definition (WebAIM's contrast checker gives the same).
    assert contrast(QColor(text), QColor(background)) == pytest.approx(ratio, abs=0.01)


def test_styles_are_remembered(qtbot, tmp_path):
    settings = ini(tmp_path / "s.ini")
    dialog = SettingsWindow(settings)
    qtbot.addWidget(dialog)
    overlay = dialog.overlay_panel
    with qtbot.waitSignal(dialog.overlay_style) as sent:
        overlay.use_preset(HIGH)
    assert (sent.args[0].text, sent.args[0].background, sent.args[0].opacity) == ("#ffffff", "#000000", 1.0)  # fmt: skip
    family = other_family(overlay.family.currentFont().family())
    overlay.family.setCurrentFont(family)
    overlay.size.setValue(40)
    overlay.lines.setValue(3)
    window = dialog.window_panel
    window.use_preset("High contrast: yellow on black")
    window.size.setValue(30)
    dialog.close_choice.setCurrentIndex(dialog.close_choice.findData("stop"))
    settings.sync()
    again = ini(tmp_path / "s.ini")
    style = caption_style(again, OVERLAY_KEYS)
    assert (style.text, style.background, style.size, style.lines, style.opacity) == ("#ffffff", "#000000", 40, 3, 1.0)  # fmt: skip
    assert style.family == family
    style = caption_style(again, WINDOW_KEYS)
    assert (style.text, style.background, style.size) == ("#ffff00", "#000000", 30)
    assert again.get(Key.CLOSE_WHILE_LISTENING) == "stop"
    reopened = SettingsWindow(again)  # shows what is remembered
    qtbot.addWidget(reopened)
    assert reopened.overlay_panel.size.value() == 40 and reopened.overlay_panel.lines.value() == 3
    assert reopened.window_panel.text.value == "#ffff00"
    window.use_preset("Default")  # back to the desktop's colours
    assert caption_style(settings, WINDOW_KEYS).text == "" == caption_style(settings, WINDOW_KEYS).background  # fmt: skip


def test_low_contrast_is_flagged(qtbot, tmp_path):
    dialog = SettingsWindow(ini(tmp_path / "s.ini"))
    qtbot.addWidget(dialog)
    panel = dialog.overlay_panel
    panel.text.set_value("#777777")
    panel.background.set_value("#888888")
    panel._show_contrast()
    assert panel.contrast.text().startswith("1.") and "hard to read" in panel.contrast.text()
    panel.use_preset(HIGH)
    assert panel.contrast.text() == "21.0:1" and panel.preset.currentText() == HIGH
    panel.text.set_value("#eeeeee")  # a colour picked by hand: no preset's any more
    panel.text.changed.emit("#eeeeee")
    assert panel.preset.currentText() == "Custom" and panel.style.text == "#eeeeee"
    panel.use_preset("Default")
    assert panel.preset.currentText() == "Default" and panel.style.text == "#ffffff"


def test_window_and_overlay_show_the_chosen_style(make_app, qtbot):  # noqa: F811
    app = make_app()
    win = app.window
    with qtbot.waitSignal(win.settings_requested):
        win.settings_button.click()
    dialog = app.settings_window
    assert dialog is not None and dialog.isVisible()
    dialog.window_panel.use_preset(HIGH)
    dialog.window_panel.size.setValue(36)
    view = win.view
    assert view.font().pointSize() == 36
    assert view.palette().color(QPalette.ColorRole.Base) == QColor("#000000")
    assert view.palette().color(QPalette.ColorRole.Text) == QColor("#ffffff")
    corner = view.viewport().grab().toImage().pixelColor(QPoint(3, 3))
    assert corner.name() == "#000000"  # painted black on screen, not just set

    app.set_overlay_visible(True)
    panel = dialog.overlay_panel
    panel.use_preset("High contrast: yellow on black")
    family = other_family(app.overlay.label.font().family())
    panel.family.setCurrentFont(family)
    panel.size.setValue(40)
    panel.lines.setValue(3)
    overlay = app.overlay
    assert overlay.label.font().pointSize() == 40 and overlay.label.font().family() == family
    assert overlay.settings.get(Key.OVERLAY_LINES) == 3
    image = overlay.grab().toImage()
    middle = image.pixelColor(QPoint(image.width() // 2, 4))  # background, above the text
    assert (middle.red(), middle.green(), middle.blue()) == (0, 0, 0)
    overlay.lines, overlay.partial = ["caption"], ""
    assert "rgba(255,255,0," in overlay._html()  # the text in the chosen colour

    dialog.close()
    restarted = make_app()  # remembered across starts
    assert restarted.window.view.font().pointSize() == 36
    assert restarted.window.view.palette().color(QPalette.ColorRole.Base) == QColor("#000000")
    assert restarted.overlay.label.font().family() == family
    assert restarted.overlay._rgba(1.0).startswith("rgba(255,255,0,")


def shown_lines(view) -> tuple[list[str], bool]:
    """The transcript's lines wholly in the view, and whether any other line shows in part."""
    offset, height = view.verticalScrollBar().value(), view.viewport().height()
    whole, partly = [], False
    block = view.document().begin()
    while block.isValid():
        layout, top = block.layout(), view.document().documentLayout().blockBoundingRect(block).top()  # fmt: skip
        for i in range(layout.lineCount()):
            line = layout.lineAt(i)
            y0, y1 = top + line.y() - offset, top + line.y() + line.height() - offset
            text = block.text()[line.textStart() : line.textStart() + line.textLength()]
            if y0 >= -0.5 and y1 <= height + 0.5:
                whole.append(text.strip())
            elif y1 > 0.5 and y0 < height - 0.5:
                partly = True
        block = block.next()
    return whole, partly


def test_window_lines_shown_is_a_caption_strip_of_the_newest_lines(make_app, qtbot):  # noqa: F811
    app = make_app()
    win, view = app.window, app.window.view
    win.resize(700, 600)
    dialog = app.settings_window = SettingsWindow(app.settings, win)
    dialog.window_style.connect(view.apply_style)
    assert dialog.window_panel.lines.text() == "All (scrolling transcript)"  # the default
    qtbot.wait(10)
    assert view.height() > win.centralWidget().height() * 0.6  # all: it fills the window
    dialog.window_panel.lines.setValue(2)
    words = [f"word{i}" for i in range(400)]
    view.update_text(words, "newest")
    qtbot.wait(10)
    whole, partly = shown_lines(view)
    assert len(whole) == 2 and not partly  # exactly the last two lines, nothing older peeks in
    assert whole[-1].endswith("newest") and not view.verticalScrollBar().isVisible()
    assert view.y() > win.centralWidget().height() * 0.5  # a strip just above the controls
    view.verticalScrollBar().setValue(0)  # a strip never stays scrolled back
    view.update_text(["more"], "latest")
    assert shown_lines(view)[0][-1].endswith("latest")
    win.resize(700, 10)  # as short as it goes: still two whole lines
    qtbot.wait(10)
    assert len(shown_lines(view)[0]) == 2 and not shown_lines(view)[1]
    assert app.settings.get(Key.WINDOW_LINES) == 2
    restarted = make_app()  # remembered across starts
    assert restarted.window.view.lines == 2
    dialog.window_panel.lines.setValue(0)  # all: the scrolling transcript again
    win.resize(700, 600)
    qtbot.wait(10)
    assert len(shown_lines(view)[0]) > 4 and view.verticalScrollBar().isVisible()
    assert view.height() > win.centralWidget().height() * 0.6


def test_live_caption_settings_are_remembered_and_announced(qtbot, tmp_path):
    settings = ini(tmp_path / "s.ini")
    dialog = SettingsWindow(settings)
    qtbot.addWidget(dialog)
    assert dialog.drafts.isChecked() and dialog.draft_delay.value() == 240
    assert not dialog.keep_audio.isChecked()
    with qtbot.waitSignal(dialog.drafts_changed) as sent:
        dialog.drafts.setChecked(False)
    assert sent.args == [0] and not dialog.draft_delay.isEnabled()
    with qtbot.waitSignal(dialog.drafts_changed) as sent:
        dialog.drafts.setChecked(True)
    assert sent.args == [240] and dialog.draft_delay.isEnabled()
    with qtbot.waitSignal(dialog.drafts_changed) as sent:
        dialog.draft_delay.setValue(170)  # snapped to the delay grid once settled
    assert sent.args == [160] and dialog.draft_delay.value() == 160
    with qtbot.waitSignal(dialog.keep_audio_changed) as sent:
        dialog.keep_audio.setChecked(True)
    assert sent.args == [True]
    settings.sync()
    reopened = SettingsWindow(ini(tmp_path / "s.ini"))
    qtbot.addWidget(reopened)
    assert reopened.drafts.isChecked() and reopened.draft_delay.value() == 160
    assert reopened.keep_audio.isChecked()


def test_drafts_off_applies_while_listening_and_the_audio_is_kept(make_app, qtbot, tmp_path):  # noqa: F811
    import soundfile as sf

    from tests.gui.test_main_window import speech_device
    from voxtral_mlx.live.events import DraftEvent, Status, StatusEvent

    app = make_app(speech_device())
    win = app.window
    win.settings_button.click()
    dialog = app.settings_window
    dialog.keep_audio.setChecked(True)
    events = []
    app.bridge.event.connect(events.append)
    win.device_box.setCurrentIndex(win.device_box.findData("USB Mic"))
    win.start_button.click()
    qtbot.waitUntil(lambda: any(isinstance(e, DraftEvent) and e.words for e in events), timeout=20000)  # fmt: skip
    dialog.drafts.setChecked(False)  # applies now: a new session on the loaded model

    def listening():
        return [i for i, e in enumerate(events) if isinstance(e, StatusEvent) and e.status is Status.LISTENING]  # fmt: skip

    qtbot.waitUntil(lambda: len(listening()) == 2, timeout=20000)
    qtbot.wait(300)
    with qtbot.waitSignal(app.bridge.listening_changed, timeout=20000):
        win.stop()
    qtbot.waitUntil(lambda: win.last_saved is not None, timeout=20000)
    assert not any(isinstance(e, DraftEvent) for e in events[listening()[1] :])
    assert app.bridge._loader.threads == ["voxtral-live"]  # the model was not reloaded
    transcript = app.bridge.live.transcript
    # The delays it started with (make_app keeps the window tests at 480 ms; drafts at 240).
    assert (transcript.metadata["delay_ms"], transcript.metadata["draft_delay_ms"]) == (480, 240)
    wav = app.bridge.live.journal.with_suffix(".wav")
    assert transcript.metadata["audio"] == str(wav)
    assert sf.info(wav).frames / 16000 == pytest.approx(transcript.duration, abs=1e-3)
