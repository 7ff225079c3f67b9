"""The overlay's caption layout in pixels: never wider than the screen, whatever the words; the
newest words always on its last line, in Latin script and in Chinese/Japanese (no spaces)."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtGui import QFontMetrics, QGuiApplication

from gui.captions import CaptionModel
from gui.overlay import CaptionOverlay
from gui.settings import Key, Settings
from voxtral_mlx.live.events import TextEvent
from voxtral_mlx.text.transcript import Word

JAPANESE = "今日はとても良い天気ですね明日も晴れるでしょうか東京駅で会いましょう"


def shown_overlay(
    qtbot, tmp_path, words: list[str], partial: str = "", **settings
) -> CaptionOverlay:
    store = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    for key, value in settings.items():
        store.set(Key[key], value)
    overlay = CaptionOverlay(store)
    qtbot.addWidget(overlay)
    model = CaptionModel()
    timed = tuple(Word(text, i * 0.2, i * 0.2 + 0.1) for i, text in enumerate(words))
    model.add(
        TextEvent("", 0, 0, words=timed, partial=Word(partial, 99, 99.1) if partial else None)
    )
    overlay.show_captions(model)
    overlay.show()
    qtbot.waitExposed(overlay)
    return overlay


def screen_width() -> int:
    return QGuiApplication.primaryScreen().availableGeometry().width()


def assert_fits(overlay: CaptionOverlay) -> None:
    """Every line as drawn fits the label, and the label shows all its lines (none cut off)."""
    metrics = QFontMetrics(overlay.label.font())
    rows = [*overlay.lines[:-1], overlay.lines[-1] + " " + overlay.partial]
    assert all(metrics.horizontalAdvance(row.strip()) <= overlay.label.width() for row in rows)
    assert overlay.label.sizeHint().height() <= overlay.label.height()
    assert overlay.width() <= screen_width()


def test_a_remembered_width_past_the_screen_is_cut_to_it(qtbot, tmp_path):
    overlay = shown_overlay(qtbot, tmp_path, ["hello"], OVERLAY_WIDTH=5 * screen_width())
    assert overlay.width() <= screen_width()


def test_a_word_longer_than_the_screen_neither_widens_it_nor_hides_the_newest(qtbot, tmp_path):
    long = "Donaudampfschifffahrtsgesellschaftskapitän" * 12  # ~500 characters, one word
    overlay = shown_overlay(qtbot, tmp_path, ["so", long, "and", "then"], partial="next")
    assert overlay.width() <= screen_width()
    assert_fits(overlay)
    assert overlay.lines[-1].endswith("and then") and overlay.partial == "next"
    assert len(overlay.lines) <= overlay.settings.get(Key.OVERLAY_LINES)


def test_japanese_shows_the_newest_characters_without_spaces(qtbot, tmp_path):
    overlay = shown_overlay(qtbot, tmp_path, list(JAPANESE * 4), partial="ね", OVERLAY_WIDTH=400)
    assert_fits(overlay)
    assert len(overlay.lines) == overlay.settings.get(Key.OVERLAY_LINES)
    shown = "".join(overlay.lines) + overlay.partial
    assert " " not in shown and (JAPANESE * 4 + "ね").endswith(shown)
    assert "<br>" in overlay.label.text() and "> <" not in overlay.label.text()


def test_the_newest_line_stays_in_sight_at_every_size(qtbot, tmp_path):
    words = [f"word{i}" for i in range(300)]
    for lines in (1, 2, 3):
        overlay = shown_overlay(qtbot, tmp_path, words, partial="wo", OVERLAY_LINES=lines, OVERLAY_FONT_SIZE=48)  # fmt: skip
        assert_fits(overlay)
        assert overlay.lines[-1].endswith("word299") and overlay.partial == "wo"
