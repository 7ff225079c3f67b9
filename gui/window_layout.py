"""The main window's widgets and where they sit; no behaviour (the window connects them).

GUI thread only. :class:`WindowLayout` builds what :class:`~gui.main_window.MainWindow` shows,
each part an attribute of the window (as Qt Designer's ``setupUi`` would): the banner, the
first-run panel, the transcript, the controls (which reflow below one another when the window
is narrow, beside a video call: the listen-to choice and the microphone, the delay, the views
and the text's buttons) and the status row with a level meter per source; and the Overlay menu.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .first_run import ModelSetup
from .settings import Key, Settings
from .source_widgets import SourceBox, SourceMeters
from .transcript_view import TranscriptView
from .widgets import Banner, ControlKeys, DelayBox, DeviceBox, ElidedLabel, ReflowRow

DELAY_MIN, DELAY_MAX, DELAY_STEP = 80, 2400, 80


def tool_button(text: str, tip: str = "", *, checkable: bool = False) -> QToolButton:
    button = QToolButton(text=text, checkable=checkable)
    button.setToolTip(tip)
    return button


class WindowLayout(QMainWindow):
    """The base of the main window: :meth:`_build_layout` makes its parts."""

    def _build_layout(self, settings: Settings, setup: ModelSetup) -> None:
        """Every part, placed; the first run's parts are the model setup's (it drives them)."""
        self.setWindowTitle("Voxtral live captions")
        self.resize(860, 560)
        self.first_run, self.progress = setup.panel, setup.progress
        self.cancel_button, self.model_button = setup.cancel_button, setup.model_button
        central = QWidget()
        root = QVBoxLayout(central)
        root.setContentsMargins(12, 12, 12, 8)
        self.banner = Banner()
        self.view = TranscriptView(settings.get(Key.FONT_SIZE))
        self.view.setPlaceholderText("Press Start (Space) and speak.")
        root.addWidget(self.banner)
        root.addWidget(self.first_run)
        root.addStretch(0)  # takes the room a caption strip (N lines shown) leaves, above it
        root.addWidget(self.view, 1)
        root.addWidget(self._controls(settings))
        root.addLayout(self._status_row())
        self.setCentralWidget(central)
        self._control_keys = ControlKeys(self)  # Space on a focused button is that button's
        self._control_keys.install(self)
        self._overlay_menu()
        self._restore(settings)

    def _overlay_menu(self) -> None:
        """Overlay ▸ Unlock: a locked overlay takes no clicks and a desktop may have no tray
        (stock GNOME), so the window can always bring it back. Qt has no system-wide hotkey;
        the shortcut works while any window of the app is active."""
        unlock = self.menuBar().addMenu("&Overlay").addAction("&Unlock overlay to move it")
        unlock.setShortcut(QKeySequence("Ctrl+Shift+U"))
        unlock.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.unlock_overlay_action = unlock

    def _controls(self, settings: Settings) -> ReflowRow:
        self.start_button = QPushButton("Start", default=True, minimumWidth=96)
        self.source_box = SourceBox()
        listen_label = QLabel("Listen to")
        listen_label.setBuddy(self.source_box)
        self.device_box = DeviceBox()
        self.device_box.setToolTip("Microphone")
        self.device_box.setAccessibleName("Microphone")
        self.refresh_button = tool_button("↻", "Look for microphones again")
        self.delay_box = DelayBox(DELAY_MIN, DELAY_MAX, DELAY_STEP, settings.get(Key.DELAY_MS))
        self.clear_button, self.copy_button = tool_button("Clear"), tool_button("Copy")
        self.save_button = tool_button("Save…")
        self.history_button = tool_button("History…", "Open an earlier recording (all are autosaved)")  # fmt: skip
        self.settings_button = tool_button("Settings…", "Caption font, size, colours and contrast (Ctrl+,)")  # fmt: skip
        self.overlay_button = tool_button("Overlay", "Show captions in a floating window over other apps", checkable=True)  # fmt: skip
        listen, mic, views, text = QHBoxLayout(), QHBoxLayout(), QHBoxLayout(), QHBoxLayout()
        for widget in (self.start_button, listen_label, self.source_box):
            listen.addWidget(widget, 1 if widget is self.source_box else 0)
        for widget in (self.device_box, self.refresh_button, QLabel("Delay"), self.delay_box):
            mic.addWidget(widget, 1 if widget is self.device_box else 0)
        views.addStretch()  # the views and the text's buttons go below when the window is narrow
        for button in (self.overlay_button, self.history_button, self.settings_button):
            views.addWidget(button)
        for button in (self.clear_button, self.copy_button, self.save_button):
            text.addWidget(button)
        return ReflowRow(ReflowRow(listen, mic, grow_second=True), ReflowRow(views, text))

    def _status_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.status_label = ElidedLabel("Model not loaded: it loads when you press Start")
        self.meters = SourceMeters()  # one per source: "You" and "Others" while both are on
        self.meter, self.lag_label = self.meters.main.bar, self.meters.main.lag
        self.saved_label = ElidedLabel("")  # where the last recording was autosaved
        row.addWidget(self.status_label, 1)
        row.addWidget(self.saved_label, 1)
        for widget in (self.progress, self.cancel_button, self.model_button, self.meters):
            row.addWidget(widget)
        return row

    def _restore(self, settings: Settings) -> None:
        geometry = settings.get(Key.WINDOW_GEOMETRY)
        if geometry:
            self.restoreGeometry(QByteArray.fromHex(geometry.encode()))
        elif screen := QGuiApplication.primaryScreen():  # first run: high, the overlay goes low
            area = screen.availableGeometry()
            self.move(area.x() + max(0, area.width() - self.width()) // 2, area.y())
