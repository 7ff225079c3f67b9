"""The settings window: the engine (this computer or a server: :mod:`gui.engine_panel`); how captions look in the main window and in the overlay (font, size,
text and background colours with their contrast, presets including high contrast, lines
shown (the window: all, or the last N), the overlay's background opacity); live captions
(drafts on/off and their delay, keeping the audio); and what closing the window while
listening does.

Every change applies at once and is remembered (:mod:`gui.settings`); ``window_style`` and
``overlay_style`` carry the new :class:`~gui.settings.CaptionStyle` to whoever shows captions,
``drafts_changed`` the draft delay to run (0: drafts off), ``keep_audio_changed`` the audio
setting, ``engine_changed`` the :class:`~gui.engine.Engine` to run. With a server the drafts
controls are disabled, their tooltip saying why. GUI thread only.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPalette, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFontComboBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from voxtral_mlx.protocol import DELAY_STEP_MS, MAX_DELAY_MS, MIN_DELAY_MS

from .engine import DRAFTS_OFF
from .engine_panel import EnginePanel
from .settings import (
    OVERLAY_KEYS,
    PRESETS,
    WINDOW_KEYS,
    WINDOW_LINES_MAX,
    CaptionStyle,
    Key,
    Settings,
    caption_style,
    default_caption_style,
    draft_delay_ms,
    save_caption_style,
)
from .widgets import DelayBox

READABLE = 4.5  # WCAG 2 AA for text
SIZES = (10, 96)
CUSTOM = "Custom"  # shown when the colours are no preset's
CLOSE_CHOICES = {"ask": "Ask", "tray": "Keep listening in the tray", "stop": "Stop listening"}


def luminance(colour: QColor) -> float:
    """WCAG 2 relative luminance of an opaque colour."""

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())  # fmt: skip


def contrast(text: QColor, background: QColor) -> float:
    """WCAG 2 contrast ratio, 1 to 21."""
    low, high = sorted((luminance(text), luminance(background)))
    return (high + 0.05) / (low + 0.05)


class ColourButton(QPushButton):
    """Shows a colour and picks another; "" is the desktop's (shown as its own colour)."""

    changed = Signal(str)

    def __init__(self, title: str, fallback: QColor, parent: QWidget | None = None):
        super().__init__(parent)
        self.title, self.fallback, self.value = title, fallback, ""
        self.clicked.connect(self.choose)

    def colour(self) -> QColor:
        return QColor(self.value) if self.value else self.fallback

    def set_value(self, value: str) -> None:
        self.value = value
        self.setText(value or "Desktop")
        swatch = QPixmap(32, 16)
        swatch.fill(self.colour())
        self.setIcon(QIcon(swatch))

    def choose(self) -> None:
        picked = QColorDialog.getColor(self.colour(), self, self.title)
        if picked.isValid():
            self.set_value(picked.name())
            self.changed.emit(self.value)


class StylePanel(QWidget):
    """One place's caption style; ``changed`` carries it after every edit."""

    changed = Signal(object)  # CaptionStyle

    def __init__(self, style: CaptionStyle, default: CaptionStyle, overlay: bool, parent: QWidget | None = None):  # fmt: skip
        super().__init__(parent)
        self.default, self.style = default, style
        palette = self.palette()
        self.preset = QComboBox()
        self.preset.addItems([*PRESETS, CUSTOM])
        self.preset.activated.connect(lambda _: self.use_preset(self.preset.currentText()))
        self.family = QFontComboBox()
        self.family.currentFontChanged.connect(lambda f: self._edit(family=f.family()))
        self.size = QSpinBox()
        self.size.setRange(*SIZES)
        self.size.setSuffix(" pt")
        self.size.valueChanged.connect(lambda v: self._edit(size=v))
        self.text = ColourButton("Text colour", palette.color(QPalette.ColorRole.Text))
        self.text.changed.connect(lambda v: self._edit(text=v))
        self.background = ColourButton("Background colour", palette.color(QPalette.ColorRole.Base))  # fmt: skip
        self.background.changed.connect(lambda v: self._edit(background=v))
        self.contrast = QLabel()
        self.preview = QLabel("The quick brown fox jumps over the lazy dog")
        self.preview.setWordWrap(True)
        self.preview.setAutoFillBackground(True)
        form = QFormLayout(self)
        form.addRow("Preset", self.preset)
        form.addRow("Font", self.family)
        form.addRow("Size", self.size)
        form.addRow("Text", self.text)
        form.addRow("Background", self.background)
        form.addRow("Contrast", self.contrast)
        self.opacity = None
        if overlay:
            self.opacity = QDoubleSpinBox(decimals=2, minimum=0.2, maximum=1.0, singleStep=0.05)
            self.opacity.valueChanged.connect(lambda v: self._edit(opacity=round(v, 2)))
            form.addRow("Background opacity", self.opacity)
            self.lines = QSpinBox(minimum=1, maximum=3)
        else:  # the window: the whole transcript, or a caption strip of the last N lines
            self.lines = QSpinBox(minimum=0, maximum=WINDOW_LINES_MAX)
            self.lines.setSpecialValueText("All (scrolling transcript)")
            self.lines.setToolTip("Show only the last lines, newest always in view; or all")
        self.lines.valueChanged.connect(lambda v: self._edit(lines=v))
        form.addRow("Lines shown", self.lines)
        form.addRow(self.preview)
        self.show_style(style)

    def show_style(self, style: CaptionStyle) -> None:
        """Put ``style`` in the controls without reporting edits."""
        self.style = style
        controls = [self.family, self.size, self.opacity, self.lines]
        for control in controls:
            if control is not None:
                control.blockSignals(True)
        if style.family:
            self.family.setCurrentFont(style.family)
        self.size.setValue(style.size)
        if self.opacity is not None:
            self.opacity.setValue(style.opacity)
        self.lines.setValue(style.lines)
        for control in controls:
            if control is not None:
                control.blockSignals(False)
        self.text.set_value(style.text)
        self.background.set_value(style.background)
        self.preset.setCurrentText(self._preset_name(style))
        self._show_contrast()

    def _preset_name(self, style: CaptionStyle) -> str:
        colours = (style.text, style.background)
        if colours == (self.default.text, self.default.background):
            return "Default"
        return next((name for name, pair in PRESETS.items() if pair == colours), CUSTOM)

    def use_preset(self, name: str) -> None:
        if name not in PRESETS:
            return  # "Custom": the colours chosen by hand stay
        colours = PRESETS[name]
        text, background = colours or (self.default.text, self.default.background)
        opacity = 1.0 if colours else self.default.opacity  # high contrast: no see-through
        self._edit(text=text, background=background, opacity=opacity)
        self.show_style(self.style)

    def _edit(self, **changes) -> None:
        self.style = replace(self.style, **changes)
        self.preset.setCurrentText(self._preset_name(self.style))
        self._show_contrast()
        self.changed.emit(self.style)

    def _show_contrast(self) -> None:
        text, background = self.text.colour(), self.background.colour()
        ratio = contrast(text, background)
        verdict = "" if ratio >= READABLE else f": below {READABLE}:1, hard to read for many people"
        self.contrast.setText(f"{ratio:.1f}:1{verdict}")
        self.contrast.setStyleSheet("" if ratio >= READABLE else "color: #d9534f;")
        palette = self.preview.palette()
        palette.setColor(QPalette.ColorRole.WindowText, text)
        palette.setColor(QPalette.ColorRole.Window, background)
        self.preview.setPalette(palette)
        font = self.preview.font()
        if self.style.family:
            font.setFamily(self.style.family)
        font.setPointSize(min(self.style.size, 28))
        self.preview.setFont(font)


class SettingsWindow(QDialog):
    """Caption looks for the window and the overlay, live captions, and the
    close-while-listening choice."""

    window_style = Signal(object)  # CaptionStyle
    overlay_style = Signal(object)
    drafts_changed = Signal(int)  # the draft delay in ms; 0: drafts off
    keep_audio_changed = Signal(bool)
    engine_changed = Signal(object)  # gui.engine.Engine

    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("Voxtral settings")
        self.window_panel = StylePanel(caption_style(settings, WINDOW_KEYS), default_caption_style(WINDOW_KEYS), overlay=False)  # fmt: skip
        self.window_panel.changed.connect(lambda s: self._save(WINDOW_KEYS, s, self.window_style))  # fmt: skip
        self.overlay_panel = StylePanel(caption_style(settings, OVERLAY_KEYS), default_caption_style(OVERLAY_KEYS), overlay=True)  # fmt: skip
        self.overlay_panel.changed.connect(lambda s: self._save(OVERLAY_KEYS, s, self.overlay_style))  # fmt: skip
        self.tabs = tabs = QTabWidget()
        tabs.addTab(self.window_panel, "Window captions")
        tabs.addTab(self.overlay_panel, "Overlay captions")
        self.close_choice = QComboBox()
        for value, text in CLOSE_CHOICES.items():
            self.close_choice.addItem(text, value)
        self.close_choice.setCurrentIndex(max(0, self.close_choice.findData(settings.get(Key.CLOSE_WHILE_LISTENING))))  # fmt: skip
        self.close_choice.currentIndexChanged.connect(lambda _: settings.set(Key.CLOSE_WHILE_LISTENING, self.close_choice.currentData()))  # fmt: skip
        self.engine_panel = EnginePanel(settings)
        self.engine_panel.changed.connect(self._engine_chosen)
        general = QFormLayout()
        self._live_rows(general)
        general.addRow("Closing the window while listening", self.close_choice)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.engine_panel)
        layout.addWidget(tabs)
        layout.addLayout(general)
        layout.addWidget(QLabel("Changes apply at once and are remembered."), 0, Qt.AlignmentFlag.AlignLeft)  # fmt: skip
        layout.addWidget(buttons)

    def _live_rows(self, form: QFormLayout) -> None:
        """Drafts (on/off, their delay on the delay control's grid) and keeping the audio."""
        settings = self.settings
        self.drafts = QCheckBox("Show draft words, dimmed, before the accurate text")
        self.drafts.setToolTip("A second, fast transcription of the same audio fills in until the final text (at the window's delay) catches up")  # fmt: skip
        self.drafts.setChecked(settings.get(Key.DRAFTS))
        self.drafts.toggled.connect(self._drafts_toggled)
        self.draft_delay = DelayBox(MIN_DELAY_MS, MAX_DELAY_MS, DELAY_STEP_MS, settings.get(Key.DRAFT_DELAY_MS))  # fmt: skip
        self.draft_delay.setToolTip("Delay of the draft words: shorter shows them sooner; drafts show when it is shorter than the window's delay")  # fmt: skip
        self.draft_delay.chosen.connect(self._draft_delay_chosen)
        self.keep_audio = QCheckBox("Keep the audio of each recording")
        self.keep_audio.setToolTip("A WAV file beside each autosaved transcript, from the next recording")  # fmt: skip
        self.keep_audio.setChecked(settings.get(Key.KEEP_AUDIO))
        self.keep_audio.toggled.connect(self._keep_audio_toggled)
        form.addRow("Drafts", self.drafts)
        form.addRow("Draft delay", self.draft_delay)
        form.addRow("Audio", self.keep_audio)
        self._tips = {w: w.toolTip() for w in (self.drafts, self.draft_delay)}
        self._show_drafts()

    def _engine_chosen(self, engine) -> None:
        self._show_drafts()
        self.engine_changed.emit(engine)

    def _show_drafts(self) -> None:
        """Drafts need the model here: with a server their controls are off, saying why (the
        setting is kept for this computer)."""
        remote = self.engine_panel.engine.remote
        self.drafts.setEnabled(not remote)
        self.draft_delay.setEnabled(not remote and self.drafts.isChecked())
        for widget, tip in self._tips.items():
            widget.setToolTip(DRAFTS_OFF if remote else tip)

    def _drafts_toggled(self, on: bool) -> None:
        self.settings.set(Key.DRAFTS, on)
        self._show_drafts()
        self.drafts_changed.emit(draft_delay_ms(self.settings))

    def _draft_delay_chosen(self, value: int) -> None:
        if value != self.settings.get(Key.DRAFT_DELAY_MS):
            self.settings.set(Key.DRAFT_DELAY_MS, value)
            self.drafts_changed.emit(draft_delay_ms(self.settings))

    def _keep_audio_toggled(self, on: bool) -> None:
        self.settings.set(Key.KEEP_AUDIO, on)
        self.keep_audio_changed.emit(on)

    def _save(self, keys, style: CaptionStyle, signal) -> None:
        save_caption_style(self.settings, keys, style)
        signal.emit(style)
