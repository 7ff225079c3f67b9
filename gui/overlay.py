"""The caption overlay: the last 1-3 caption lines in a frameless, always-on-top, translucent
window over any app.

Captions fade out after ``FADE_AFTER_MS`` without new words (while locked: unlocked it stays, so
it can be placed) and come back with the next word. Locked, it is click-through
(``WindowTransparentForInput``, set again once mapped so a window manager's frame lets clicks
through too); unlocked, it can be dragged anywhere and resized by its corner grip, and its
right-click menu (:mod:`gui.overlay_menu`) sets font size, background opacity, number of lines
and lock. Everything is remembered in :class:`~gui.settings.Settings`; until it is moved, it
first shows where :mod:`gui.overlay_place` says. Older lines are drawn fainter than the newest;
the word in progress is dimmed, the draft after it more so (:mod:`gui.overlay_text`); with two
sources each line opens with its source's label in bold ("You:", "Others:"). A state
line above the captions says when they cannot be trusted ("No audio", "Device lost", "Behind by
N s": :meth:`CaptionOverlay.set_state`); while it shows, the overlay does not fade. Lines are
laid out in pixels (Qt measures) at its width by the one caption layout
(:func:`voxtral_mlx.text.captions.wrap`, through
:meth:`~gui.captions.CaptionModel.shown_lines`): a long word never widens it, it is never wider
than its screen, and the newest final words are always in sight, in any script; the draft gets
the room after them and is what is cut when there is none. GUI thread only; it only reads the
:class:`~gui.captions.CaptionModel`.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, QPropertyAnimation, QRect, Qt, QTimer, Signal
from PySide6.QtGui import (  # fmt: skip
    QColor,
    QContextMenuEvent,
    QFontMetrics,
    QGuiApplication,
    QMouseEvent,
    QPainter,
    QPaintEvent,
)
from PySide6.QtWidgets import (  # fmt: skip
    QLabel,
    QMenu,
    QSizeGrip,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from .captions import CaptionModel
from .overlay_menu import overlay_menu
from .overlay_place import default_position, other_windows, screen_area
from .overlay_text import caption_html, rgba
from .settings import OVERLAY_KEYS, CaptionStyle, Key, Settings, caption_style

BASE_FLAGS = (
    Qt.WindowType.FramelessWindowHint
    | Qt.WindowType.WindowStaysOnTopHint
    | Qt.WindowType.Tool  # no taskbar / Dock entry of its own
)
STATE_STYLE = "color: #ffb347;"  # amber: readable on the dark background, not a caption colour
MIN_WIDTH = 320
FADE_AFTER_MS = 6000
FADE_MS = 600
MARGIN = 18
RADIUS = 14


class CaptionOverlay(QWidget):
    locked_changed = Signal(bool)
    visibility_changed = Signal(bool)

    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent, BASE_FLAGS)
        self.settings = settings
        self.setWindowTitle("Voxtral captions")
        self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(False)  # lines are wrapped to fit (CaptionModel.shown_lines)
        # A long line must never widen the window: the label takes the width it is given.
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom)
        self.label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.state_label = QLabel()
        self.state_label.setStyleSheet(STATE_STYLE)
        self.state_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.state_label.hide()
        self.grip = QSizeGrip(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(MARGIN, MARGIN // 2, MARGIN, MARGIN // 2)
        layout.addWidget(self.state_label)
        layout.addWidget(self.label, 1)  # the grip floats in the corner (resizeEvent)
        self.lines: list[str] = []  # final text (CaptionModel.shown_lines)
        self.partial = ""
        self.draft: list[str] = []
        self.labels: tuple[int, ...] = ()  # per row, its label's length (ShownLines.labels)
        self._drag_from: QPoint | None = None
        self._model: CaptionModel | None = None
        self.locked = False
        self._reshape_on_expose = False  # set on show: the WM has not framed the window yet
        self._placed_at: QPoint | None = None  # the default position, until the first show
        self._idle = QTimer(self, singleShot=True, interval=FADE_AFTER_MS)
        self._idle.timeout.connect(self._fade_out)
        self._fade = QPropertyAnimation(self, b"windowOpacity", self)
        self._fade.setDuration(FADE_MS)
        self.caption_style = caption_style(settings, OVERLAY_KEYS)
        self._apply_font()
        self._fit_screen(QGuiApplication.primaryScreen())
        self.resize(max(MIN_WIDTH, settings.get(Key.OVERLAY_WIDTH)), self._height())
        self._place()
        self.set_locked(settings.get(Key.OVERLAY_LOCKED))

    # ---- settings -----------------------------------------------------------------------------
    def set_locked(self, locked: bool) -> None:
        """Locked: click-through and no grip. Changing the flag re-creates the native window."""
        was_visible = self.isVisible()
        self.locked = bool(locked)
        if not self.locked:
            self._fade.stop()
            self.setWindowOpacity(1.0)
        self.setWindowFlag(Qt.WindowType.WindowTransparentForInput, self.locked)
        self.grip.setVisible(not self.locked)
        self.settings.set(Key.OVERLAY_LOCKED, self.locked)
        if was_visible:
            self.show()  # setWindowFlag hides a visible window
        self.locked_changed.emit(self.locked)

    def set_font_size(self, points: int) -> None:
        self.settings.set(Key.OVERLAY_FONT_SIZE, points)
        self._apply_font()

    def set_opacity(self, opacity: float) -> None:
        self.settings.set(Key.OVERLAY_OPACITY, min(1.0, max(0.2, opacity)))
        self.update()

    def set_line_count(self, n: int) -> None:
        self.settings.set(Key.OVERLAY_LINES, min(3, max(1, n)))
        self._apply_font()

    def apply_style(self, style: CaptionStyle) -> None:
        """Font, size, colours, background opacity and lines from the settings window."""
        self.caption_style = style
        self.settings.set(Key.OVERLAY_FONT_SIZE, style.size)
        self.set_opacity(style.opacity)
        self.set_line_count(style.lines)  # applies the font too

    def _colour(self) -> str:
        return self.caption_style.text or "#ffffff"

    def _rgba(self, alpha: float) -> str:
        return rgba(self._colour(), alpha)

    def _apply_font(self) -> None:
        font = self.label.font()
        font.setPointSize(self.settings.get(Key.OVERLAY_FONT_SIZE))
        if self.caption_style.family:
            font.setFamily(self.caption_style.family)
        font.setWeight(font.Weight.DemiBold)
        self.label.setFont(font)
        self.resize(self.width(), self._height())
        self.refresh()

    def _height(self) -> int:
        lines = self.settings.get(Key.OVERLAY_LINES)
        state = self.state_label.sizeHint().height() if self.state_label.isVisibleTo(self) else 0
        # A fallback font (CJK) can make a line taller than the caption font's own spacing.
        text = max(
            QFontMetrics(self.label.font()).lineSpacing() * lines, self.label.sizeHint().height()
        )
        return text + 2 * MARGIN + state

    def _fit_screen(self, screen) -> None:
        """Never wider than the screen it is on (a remembered width may be from a larger one)."""
        if screen is not None:
            self.setMaximumWidth(max(MIN_WIDTH, screen.availableGeometry().width()))

    def _place(self) -> None:
        """Where it was left, if that is on the screen; else the default (see overlay_place)."""
        x, y = self.settings.get(Key.OVERLAY_X), self.settings.get(Key.OVERLAY_Y)
        area, (w, h) = screen_area(), (self.width(), self.height())
        if x < 0 or y < 0 or not area.intersects(QRect(x, y, w, h)):
            x, y = default_position(area, w, h, other_windows(self))
            self._placed_at = QPoint(x, y)
        self.move(x, y)

    # ---- captions -----------------------------------------------------------------------------
    def show_captions(self, model: CaptionModel) -> None:
        self._model = model
        self.refresh()

    def refresh(self) -> None:
        if self._model is None:
            return
        n = self.settings.get(Key.OVERLAY_LINES)
        metrics = QFontMetrics(self.label.font())
        shown = self._model.shown_lines(n, self.line_width(), metrics.horizontalAdvance)
        before = (self.lines, self.partial, self.draft)
        self.lines, self.partial, self.draft = shown.lines, shown.partial, shown.draft
        self.labels = shown.labels
        changed = before != (self.lines, self.partial, self.draft)
        self.label.setText(self._html())  # QLabel repaints only when the text differs
        if self.height() < self._height():
            self.resize(self.width(), self._height())
        if changed and (self.lines or self.partial or self.draft):
            self._fade.stop()
            self.setWindowOpacity(1.0)
            self._idle.start()

    def set_state(self, text: str) -> None:
        """Show ``text`` as the state line ("" hides it); shown, it stays in sight (no fade)."""
        if text == self.state:
            return
        self.state_label.setText(text)
        self.state_label.setVisible(bool(text))
        self.resize(self.width(), self._height())
        if text:
            self._fade.stop()
            self.setWindowOpacity(1.0)
            self._idle.stop()
        elif self.lines or self.partial or self.draft:
            self._idle.start()

    @property
    def state(self) -> str:
        return self.state_label.text() if self.state_label.isVisibleTo(self) else ""

    @property
    def faded(self) -> bool:
        return self.windowOpacity() < 0.01

    def _fade_out(self) -> None:
        if not self.locked or self.state:  # being placed, or saying why captions stopped
            return
        self._fade.setStartValue(self.windowOpacity())
        self._fade.setEndValue(0.0)
        self._fade.start()

    def line_width(self) -> int:
        """Pixels a caption line may take: the label's width (the window less its margins)."""
        return max(1, self.width() - 2 * MARGIN)

    def _html(self) -> str:
        return caption_html(self.lines, self.partial, self.draft, self._colour(), self.labels)

    # ---- painting and mouse -------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        background = QColor(self.caption_style.background or "#101014")
        background.setAlphaF(self.settings.get(Key.OVERLAY_OPACITY))
        painter.setBrush(background)
        painter.drawRoundedRect(self.rect(), RADIUS, RADIUS)
        if not self.locked:  # a thin outline says "you can move me"
            painter.setPen(QColor(255, 255, 255, 90))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(self.rect().adjusted(1, 1, -1, -1), RADIUS, RADIUS)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and not self.locked:
            self._drag_from = event.globalPosition().toPoint() - self.pos()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag_from is not None:
            self.move(event.globalPosition().toPoint() - self._drag_from)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag_from = None
        self._remember_geometry()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        hint = self.grip.sizeHint()
        self.grip.move(self.width() - hint.width() - 4, self.height() - hint.height() - 4)
        self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self._fit_screen(self.screen())
        if self.pos() == self._placed_at:  # first show, not moved: clear of the app's windows
            self._place()
        self._placed_at = None
        handle = self.windowHandle()
        if handle is not None:
            handle.removeEventFilter(self)  # once per native window (it is re-created at times)
            handle.installEventFilter(self)
        self._reshape_on_expose = True
        self.visibility_changed.emit(True)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Expose and self._reshape_on_expose and watched.isExposed():
            self._reshape_on_expose = False
            if self.locked and QGuiApplication.platformName() == "xcb":  # X11 window managers
                self._reapply_click_through()
        return False

    def _reapply_click_through(self) -> None:
        """Set the empty input shape again now that the window is mapped. A reparenting window
        manager (openbox) copies a client's input shape to its frame only on a ShapeNotify it
        sees; Qt sets the shape before the window is mapped, so the frame kept taking clicks."""
        handle = self.windowHandle()
        flags = handle.flags()
        handle.setFlags(flags & ~Qt.WindowType.WindowTransparentForInput)
        handle.setFlags(flags)

    def hideEvent(self, event) -> None:  # noqa: N802
        super().hideEvent(event)
        self._remember_geometry()
        self.visibility_changed.emit(False)

    def _remember_geometry(self) -> None:
        self.settings.set(Key.OVERLAY_X, self.x())
        self.settings.set(Key.OVERLAY_Y, self.y())
        self.settings.set(Key.OVERLAY_WIDTH, self.width())

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802
        self.context_menu().exec(event.globalPos())

    def context_menu(self) -> QMenu:
        return overlay_menu(self)
