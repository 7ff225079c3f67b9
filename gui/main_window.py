"""The main window: the live transcript and the controls around it.

GUI thread only. Events arrive from :class:`~gui.worker.EngineBridge` (queued from the
transcriber's thread); the parts it is built from are in :mod:`gui.widgets`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QGuiApplication,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.live.events import (
    AudioState,
    DroppedEvent,
    ErrorEvent,
    HintEvent,
    LiveEvent,
    MeterEvent,
    Status,
    StatusEvent,
    TextEvent,
    TranscriptEvent,
)
from voxtral_mlx.text.transcript import Transcript
from voxtral_mlx.text.writers import WRITERS

from .captions import CaptionModel
from .download import ModelDownload
from .history import HistoryDialog
from .messages import in_gui_words
from .settings import Key, Settings
from .widgets import (
    DOWNLOAD_GB,
    Banner,
    ControlKeys,
    DeviceBox,
    ElidedLabel,
    FirstRunPanel,
    ReflowRow,
    TranscriptView,
    ask_close_choice,
    ask_open_choice,
)
from .worker import EngineBridge, downloaded_bytes

log = logging.getLogger(__name__)

DELAY_MIN, DELAY_MAX, DELAY_STEP = 80, 2400, 80
FONT_MIN, FONT_MAX = 12, 64  # transcript point sizes
METER_FLOOR_DB = -60
LAG_WARN_S = 2.0
CLOSE_TIMEOUT_MS = 5000  # give up waiting for the transcriber to flush after this
SAVE_FILTERS = "Text (*.txt);;SubRip subtitles (*.srt);;WebVTT subtitles (*.vtt);;JSON with word times (*.json)"  # fmt: skip
STATUS_TEXT = {
    Status.LOADING: "Loading the model…",
    Status.LISTENING: "Listening to {detail}",
    Status.IDLE: "Ready",
    Status.STOPPED: "Stopped",
}
STALLED_TEXT = "No audio from {detail}: waiting for it (or choose another microphone)"
DEVICE_LOST = "Device lost"
LOST_TEXT = f"{DEVICE_LOST}: waiting for it (or choose another microphone)"


def state_line(event: MeterEvent) -> str:
    """The overlay's state line for a meter reading: why captions may be missing or late."""
    if event.audio in (AudioState.STALLED, AudioState.LOST):
        return f"{DEVICE_LOST}: waiting for it"
    if event.audio is AudioState.SILENT:
        return "No audio"
    return f"Behind by {event.lag:.0f} s" if event.lag > LAG_WARN_S else ""


class MainWindow(QMainWindow):
    """Transcript, Start/Stop (Space, Ctrl/⌘+R), microphone, delay, meter, lag, status,
    Clear / Copy / Save. Closing while recording flushes the last words first (without blocking
    the event loop) and then closes for real."""

    captions_changed = Signal()
    state_line_changed = Signal(str)  # for the overlay: "" or why captions are missing or late
    closed = Signal()
    overlay_toggled = Signal(bool)  # the user asked to show / hide the caption overlay
    left_for_tray = Signal(bool)  # closed to the tray while listening: True = listening goes on
    settings_requested = Signal()  # the settings window (caption looks): the app opens it
    overlay_unlock_requested = Signal()  # show the overlay unlocked (no tray needed to reach it)

    def __init__(self, bridge: EngineBridge, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.bridge, self.settings = bridge, settings
        self.captions = CaptionModel()
        self.last_saved: Path | None = None  # the autosaved transcript of the last recording
        self._closing = self._may_close = self._quitting = False
        self._was_active = False  # the first activation is the start-up, nothing to rescan
        self.hide_on_close = False  # with a tray icon, closing the window only hides it
        self._new_paragraph = False
        self._listening_to = ""  # the source named by the last LISTENING status
        self._stalled: str | None = None  # the status shown while the device delivers nothing
        self._hint: HintEvent | None = None  # the hint shown while it is true (silence)
        self.state_line = ""
        self._error_while_listening = self._user_stopped = False
        self._download_timer = QTimer(self, interval=1000)
        self._download_timer.timeout.connect(self._show_download)
        self.download = ModelDownload(self)
        self.download.finished.connect(self._download_finished)
        self.setWindowTitle("Voxtral live captions")
        self.resize(860, 560)
        self._build()
        self._restore()
        bridge.event.connect(self.on_event)
        bridge.listening_changed.connect(self._sync_button)
        bridge.progress.connect(self._on_progress)
        self.refresh_devices(rescan=False)  # PortAudio has just listed them at import

    # ---- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        central = QWidget()
        root = QVBoxLayout(central)
        root.setContentsMargins(12, 12, 12, 8)
        self.banner = Banner()
        self.first_run = FirstRunPanel()
        self.first_run.download.connect(self.download_model)
        self.first_run.choose.connect(self.choose_model_folder)
        self.first_run.setVisible(self.bridge.needs_download)
        self.view = TranscriptView(self.settings.get(Key.FONT_SIZE))
        self.view.setPlaceholderText("Press Start (Space) and speak.")
        root.addWidget(self.banner)
        root.addWidget(self.first_run)
        root.addStretch(0)  # takes the room a caption strip (N lines shown) leaves, above it
        root.addWidget(self.view, 1)
        root.addWidget(self._controls())
        root.addLayout(self._status_row())
        self.setCentralWidget(central)
        QShortcut(QKeySequence("Ctrl+,"), self).activated.connect(self.settings_requested)
        for keys in ("Space", "Ctrl+R"):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.activated.connect(self.toggle)
        for keys, step in ((QKeySequence.StandardKey.ZoomIn, 2), (QKeySequence.StandardKey.ZoomOut, -2), ("Ctrl+=", 2)):  # fmt: skip
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.activated.connect(lambda step=step: self.zoom(step))
        self._control_keys = ControlKeys(self)  # Space on a focused button is that button's
        self._control_keys.install(self)
        self._overlay_menu()

    def _overlay_menu(self) -> None:
        """Overlay ▸ Unlock: a locked overlay takes no clicks and a desktop may have no tray
        (stock GNOME), so the window can always bring it back. Qt has no system-wide hotkey;
        the shortcut works while any window of the app is active."""
        unlock = self.menuBar().addMenu("&Overlay").addAction("&Unlock overlay to move it")
        unlock.setShortcut(QKeySequence("Ctrl+Shift+U"))
        unlock.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        unlock.triggered.connect(lambda: self.overlay_unlock_requested.emit())
        self.unlock_overlay_action = unlock

    def _controls(self) -> ReflowRow:
        row = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.setMinimumWidth(96)
        self.start_button.clicked.connect(self.toggle)
        self.device_box = DeviceBox()
        self.device_box.about_to_open.connect(lambda: self.refresh_devices())
        self.device_box.setToolTip("Microphone")
        self.device_box.currentIndexChanged.connect(self._device_chosen)
        refresh = QToolButton()
        refresh.setText("↻")
        refresh.setToolTip("Look for microphones again")
        refresh.clicked.connect(lambda: self.refresh_devices())  # not with `checked`
        self.delay_box = QSpinBox()
        self.delay_box.setRange(DELAY_MIN, DELAY_MAX)
        self.delay_box.setSingleStep(DELAY_STEP)
        self.delay_box.setSuffix(" ms")
        self.delay_box.setToolTip("Delay: shorter captions sooner, longer is more accurate")
        self.delay_box.setValue(self.settings.get(Key.DELAY_MS))
        self.delay_box.editingFinished.connect(self._delay_chosen)
        self.delay_box.valueChanged.connect(lambda _: self._delay_timer.start())
        self._delay_timer = QTimer(self, singleShot=True, interval=600)
        self._delay_timer.timeout.connect(self._delay_chosen)
        self.clear_button = QToolButton(text="Clear")
        self.clear_button.clicked.connect(self.clear)
        self.copy_button = QToolButton(text="Copy")
        self.copy_button.clicked.connect(self.copy)
        self.save_button = QToolButton(text="Save…")
        self.save_button.clicked.connect(self.save_dialog)
        self.history_button = QToolButton(text="History…")
        self.history_button.setToolTip("Open an earlier recording (all are autosaved)")
        self.history_button.clicked.connect(self.history_dialog)
        self.settings_button = QToolButton(text="Settings…")
        self.settings_button.setToolTip("Caption font, size, colours and contrast (Ctrl+,)")
        self.settings_button.clicked.connect(lambda: self.settings_requested.emit())
        self.overlay_button = QToolButton(text="Overlay")
        self.overlay_button.setCheckable(True)
        self.overlay_button.setToolTip("Show captions in a floating window over other apps")
        self.overlay_button.toggled.connect(self.overlay_toggled)
        row.addWidget(self.start_button)
        row.addWidget(self.device_box, 1)
        row.addWidget(refresh)
        row.addWidget(QLabel("Delay"))
        row.addWidget(self.delay_box)
        views, text = QHBoxLayout(), QHBoxLayout()  # below the rest when the window is narrow
        views.addStretch()
        for button in (self.overlay_button, self.history_button, self.settings_button):
            views.addWidget(button)
        for button in (self.clear_button, self.copy_button, self.save_button):
            text.addWidget(button)
        return ReflowRow(row, ReflowRow(views, text))

    def _status_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.status_label = ElidedLabel("Model not loaded: it loads when you press Start")
        self.meter = QProgressBar()
        self.meter.setRange(METER_FLOOR_DB, 0)
        self.meter.setValue(METER_FLOOR_DB)
        self.meter.setTextVisible(False)
        self.meter.setFixedSize(120, 8)
        self.meter.setToolTip("Input level")
        self.lag_label = QLabel("")
        self.lag_label.setToolTip("Audio heard but not yet transcribed, beyond the delay")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel download")
        self.cancel_button.setToolTip("Stop the download; what is downloaded is kept and resumed next time")  # fmt: skip
        self.cancel_button.clicked.connect(self.cancel_download)
        self.cancel_button.hide()
        self.model_button = QToolButton()
        self.model_button.setText("Model…")
        self.model_button.setToolTip("Choose a model folder")
        self.model_button.clicked.connect(self.choose_model_folder)
        self.saved_label = ElidedLabel("")  # where the last recording was autosaved
        row.addWidget(self.status_label, 1)
        row.addWidget(self.saved_label, 1)
        row.addWidget(self.progress)
        row.addWidget(self.cancel_button)
        row.addWidget(self.model_button)
        row.addWidget(self.lag_label)
        row.addWidget(self.meter)
        return row

    def _restore(self) -> None:
        geometry = self.settings.get(Key.WINDOW_GEOMETRY)
        if geometry:
            self.restoreGeometry(QByteArray.fromHex(geometry.encode()))
        elif screen := QGuiApplication.primaryScreen():  # first run: high, the overlay goes low
            area = screen.availableGeometry()
            self.move(area.x() + max(0, area.width() - self.width()) // 2, area.y())

    # ---- actions ----------------------------------------------------------------------------
    def zoom(self, step: int) -> int:
        """Make the transcript's text bigger or smaller (Ctrl/⌘ + and -); remembered."""
        size = min(FONT_MAX, max(FONT_MIN, self.settings.get(Key.FONT_SIZE) + step))
        self.settings.set(Key.FONT_SIZE, size)
        self.view.set_font_size(size)
        return size

    def toggle(self) -> None:
        if self.download.running:
            return  # Start follows by itself when the download ends; Cancel stops it
        if self.bridge.busy:
            self.stop()
        else:
            self.start()

    def start(self) -> None:
        first_load = not self.bridge.running
        if first_load and self.bridge.needs_download:
            self.download_model()
            return
        self.banner.hide()
        self.first_run.hide()
        self.bridge.record(self.current_device(), self.delay_box.value())
        self.start_button.setText("Stop")
        self.model_button.setEnabled(False)
        if first_load:
            self.status_label.setText(STATUS_TEXT[Status.LOADING])

    def download_model(self) -> None:
        """First start: fetch the model in a child process (cancellable, resumable); Start
        follows when it has finished."""
        self.banner.hide()
        self.first_run.hide()
        self.start_button.setEnabled(False)
        self.model_button.setEnabled(False)
        self.cancel_button.show()
        self.download.start(self.bridge.model)
        self._show_download()
        self._download_timer.start()

    def cancel_download(self) -> None:
        self.download.cancel()
        self._download_ended()
        done = downloaded_bytes(self.bridge.model) / 1e9
        self.status_label.setText(f"Download paused: {done:.1f} of {DOWNLOAD_GB} GB kept, it resumes from there")  # fmt: skip
        self.first_run.show()

    def _download_finished(self, ok: bool, message: str) -> None:
        self._download_ended()
        if ok:
            self.start()
            return
        self.banner.show_message(f"The model could not be downloaded: {in_gui_words(message)}")
        self.status_label.setText("Model not downloaded")
        self.first_run.show()

    def _download_ended(self) -> None:
        self._download_timer.stop()
        self.progress.hide()
        self.cancel_button.hide()
        self.start_button.setEnabled(True)
        self.model_button.setEnabled(True)

    def choose_model_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a Voxtral model folder")
        if folder:
            self.use_model_folder(Path(folder))

    def use_model_folder(self, folder: Path) -> bool:
        """Use ``folder`` from the next Start if it looks like a model (params/config.json)."""
        if not any((folder / name).is_file() for name in ("params.json", "config.json")):
            self.banner.show_message(
                f"{folder} is not a Voxtral model folder (no params.json or config.json): "
                "choose the folder that holds the model's files"
            )
            return False
        self.settings.set(Key.MODEL, str(folder))
        self.bridge.set_model(str(folder))
        self.banner.hide()
        self.first_run.hide()
        self.status_label.setText(f"Model: {folder}")
        return True

    def _show_download(self) -> None:
        """While the first start downloads: how much of the model is here (resumable)."""
        done = downloaded_bytes(self.bridge.model) / 1e9
        self.progress.setRange(0, int(DOWNLOAD_GB * 10))
        self.progress.setValue(min(int(done * 10), int(DOWNLOAD_GB * 10)))
        self.progress.show()
        self.status_label.setText(f"Downloading the model (first start only)… {done:.1f} of {DOWNLOAD_GB} GB")  # fmt: skip

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        percent = int(100 * done / total) if total else 0
        self.progress.setRange(0, 100)
        self.progress.setValue(percent)
        self.progress.setVisible(done < total)
        self.status_label.setText(f"{stage.capitalize()} the model (first start only)… {percent} %")

    def stop(self) -> None:
        self._user_stopped = True
        self.bridge.stop_recording()
        self.start_button.setText("Start")

    def clear(self) -> None:
        self.captions.clear()
        self.view.reset()
        self.captions_changed.emit()

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.captions.text)

    def history_dialog(self) -> HistoryDialog:
        dialog = HistoryDialog(self.bridge.autosave_folder, self)
        dialog.chosen.connect(self.show_transcript)
        dialog.open()
        return dialog

    def show_transcript(self, transcript: Transcript) -> bool:
        """Show an earlier recording (not while recording); text already shown is replaced
        or kept above it as the user says, never silently."""
        if self.bridge.busy:
            self.banner.show_message("Stop listening first, then open the recording", "hint")
            return False
        how = "replace" if self.captions.is_empty else ask_open_choice(self)
        if how is None:
            return False
        if how == "replace":
            self.clear()
        below = not self.captions.is_empty
        self.captions.load(transcript.words)
        self.view.update_text([w.text for w in transcript.words], "", new_paragraph=below)
        self.captions_changed.emit()
        return True

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save transcript", "transcript.txt", SAVE_FILTERS)  # fmt: skip
        if path:
            self.save_to(Path(path))

    def save_to(self, path: Path) -> Path | None:
        """Write what is shown in the format the suffix names (txt, srt, vtt, json)."""
        fmt = path.suffix.lower().lstrip(".") or "txt"
        if fmt not in WRITERS:
            path, fmt = path.with_suffix(".txt"), "txt"
        try:
            written = WRITERS[fmt](self.captions.transcript(delay_ms=self.delay_box.value()), path)
        except VoxtralError as err:
            self.banner.show_message(str(err))
            return None
        self.status_label.setText(f"Saved {written}")
        return written

    def refresh_devices(self, rescan: bool = True) -> None:
        """List the microphones again; ``rescan`` also finds ones plugged in since (not while
        recording: see mic.rescan_devices)."""
        wanted = self.current_device() or self.settings.get(Key.DEVICE)
        self.device_box.blockSignals(True)
        self.device_box.clear()
        self.device_box.addItem("System default microphone", "")
        try:
            devices = self.bridge.devices(rescan=rescan and not self.bridge.busy)
        except VoxtralError as err:
            devices = []
            self.banner.show_message(str(err))
        for device in devices:
            label = f"{device.name}  ({device.hostapi})" + ("  — default" if device.is_default else "")  # fmt: skip
            self.device_box.addItem(label, device.name)
        index = self.device_box.findData(wanted)
        self.device_box.setCurrentIndex(max(index, 0))
        self.device_box.blockSignals(False)

    def current_device(self) -> str:
        return self.device_box.currentData() or ""

    def _device_chosen(self) -> None:
        self.settings.set(Key.DEVICE, self.current_device())
        if self.bridge.listening:  # switch now: the recording goes on with the new microphone
            self.bridge.record(self.current_device(), self.delay_box.value())

    def _delay_chosen(self) -> None:
        value = round(self.delay_box.value() / DELAY_STEP) * DELAY_STEP
        value = min(max(value, DELAY_MIN), DELAY_MAX)
        if value != self.delay_box.value():
            self.delay_box.setValue(value)
        if value != self.settings.get(Key.DELAY_MS):
            self.settings.set(Key.DELAY_MS, value)
            self.bridge.set_delay(value)

    # ---- events from the transcriber -----------------------------------------------------
    def on_event(self, event: LiveEvent) -> None:
        handler = {
            TextEvent: self._on_text,
            StatusEvent: self._on_status,
            MeterEvent: self._on_meter,
            ErrorEvent: self._on_error,
            HintEvent: self._on_hint,
            DroppedEvent: self._on_dropped,
            TranscriptEvent: self._on_transcript,
        }.get(type(event))
        if handler is not None:
            handler(event)

    def _on_text(self, event: TextEvent) -> None:
        if not event.words and self.captions.partial == event.partial:
            return  # only pads: nothing changes on screen
        new_paragraph = self._new_paragraph
        self._new_paragraph = False
        words = self.captions.add(event)
        self.view.update_text([w.text for w in words], self.captions.partial_text, new_paragraph)
        self.captions_changed.emit()

    def _on_status(self, event: StatusEvent) -> None:
        self.progress.hide()
        self.model_button.setEnabled(event.status is not Status.LISTENING)
        self._listening_to, self._stalled = event.detail or "the microphone", None
        self.status_label.setText(STATUS_TEXT[event.status].format(detail=self._listening_to))
        lost = self._error_while_listening and not self._user_stopped
        self._set_state_line(DEVICE_LOST if lost and event.status is not Status.LISTENING else "")
        if event.status is Status.LISTENING:
            self._error_while_listening = self._user_stopped = False
            if not self.captions.recording:  # a new recording, not a new delay on the same one
                self._new_paragraph = bool(self.captions.words)
                self.captions.begin_recording()
        else:
            self._drop_hint()
            self._end_recording()
            self.meter.setValue(METER_FLOOR_DB)
            self.lag_label.setText("")
        if event.status is Status.STOPPED and self._closing:
            self._finish_close()
        self._sync_button()

    def _on_error(self, event: ErrorEvent) -> None:
        self._error_while_listening |= self.bridge.listening
        self.banner.show_message(in_gui_words(event.message), "error")
        self._sync_button()  # e.g. the microphone would not open: back to Start

    def _on_hint(self, event: HintEvent) -> None:
        self.banner.show_message(event.message, "hint")
        self._hint = event if event.clears_on is not None else None

    def _drop_hint(self, audio: AudioState | None = None) -> None:
        """A hint that is no longer true (sound came; ``audio`` None: the recording ended)
        goes, unless another message has replaced it."""
        hint = self._hint
        if hint is None or audio not in (None, hint.clears_on):
            return
        self._hint = None
        if not self.banner.isHidden() and self.banner.label.text() == hint.message:
            self.banner.hide()

    def _on_meter(self, event: MeterEvent) -> None:
        self._drop_hint(event.audio)
        stalled = event.audio in (AudioState.STALLED, AudioState.LOST)
        waiting = {AudioState.STALLED: STALLED_TEXT, AudioState.LOST: LOST_TEXT}.get(event.audio)
        if waiting != self._stalled and self.bridge.listening:  # stopped delivering, or again
            self._stalled = waiting  # the text shown while waiting (None: listening)
            text = waiting or STATUS_TEXT[Status.LISTENING]
            self.status_label.setText(text.format(detail=self._listening_to))
        self.meter.setValue(METER_FLOOR_DB if stalled else int(max(METER_FLOOR_DB, min(0.0, event.level_db))))  # fmt: skip
        if self.bridge.listening:
            self._set_state_line(state_line(event))
        self.lag_label.setText(f"lag {event.lag:.1f} s")
        colour = "#d9534f" if event.lag > LAG_WARN_S else ""
        self.lag_label.setStyleSheet(f"color: {colour};" if colour else "")

    def _on_dropped(self, event: DroppedEvent) -> None:
        self.banner.show_message(
            f"{event.total_seconds:.1f} s of audio were dropped: the computer could not keep up; "
            "a longer delay or a smaller model helps", "hint",
        )  # fmt: skip

    def _on_transcript(self, event: TranscriptEvent) -> None:
        self.last_saved = event.path
        if event.path is not None:
            self.saved_label.setText(f"Saved to {event.path}")
        self._end_recording()

    def _end_recording(self) -> None:
        if self.captions.recording or self.captions.partial is not None:
            self.captions.end_recording()
            self.view.update_text([], "")
            self.captions_changed.emit()

    def _set_state_line(self, text: str) -> None:
        if text != self.state_line:
            self.state_line = text
            self.state_line_changed.emit(text)

    def _sync_button(self, *_) -> None:
        self.start_button.setText("Stop" if self.bridge.busy else "Start")

    # ---- closing ----------------------------------------------------------------------------
    def set_overlay_checked(self, shown: bool) -> None:
        self.overlay_button.blockSignals(True)
        self.overlay_button.setChecked(shown)
        self.overlay_button.blockSignals(False)

    def quit(self) -> None:
        """Close for good, even when closing would only hide the window."""
        self._quitting = True
        self.close()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        # Back to the window (after plugging in a microphone, say): look for devices again.
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            if self._was_active and not self.bridge.busy:
                self.refresh_devices()
            self._was_active = True
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        if self.hide_on_close and not self._quitting:
            if not self._leave_for_tray():
                event.ignore()
                return
            self._save_state()
            self.hide()
            event.ignore()
            return
        self.download.cancel()  # at once; the partial download resumes on the next start
        if self._may_close or not self.bridge.running:
            self._save_state()
            event.accept()
            self.closed.emit()
            return
        # Flush and write the transcript on the transcriber's thread; close when it says STOPPED.
        event.ignore()
        if not self._closing:
            self._closing = True
            self.hide()
            self.bridge.shutdown()
            QTimer.singleShot(CLOSE_TIMEOUT_MS, self._finish_close)

    def _leave_for_tray(self) -> bool:
        """Closing to the tray while listening: go on or stop, as the user chose once (asked
        the first time); False if they cancelled."""
        if not self.bridge.busy:
            return True
        choice = self.settings.get(Key.CLOSE_WHILE_LISTENING)
        if choice not in ("tray", "stop"):
            choice = ask_close_choice(self)
            if choice is None:
                return False
            self.settings.set(Key.CLOSE_WHILE_LISTENING, choice)
        if choice == "stop":
            self.stop()
        self.left_for_tray.emit(choice == "tray")
        return True

    def _finish_close(self) -> None:
        if self._may_close:
            return
        self.bridge.join(0.5)
        self._may_close = True
        self.close()

    def _save_state(self) -> None:
        self.settings.set(Key.WINDOW_GEOMETRY, bytes(self.saveGeometry().toHex()).decode())
        self.settings.set(Key.DELAY_MS, self.delay_box.value())
        self.settings.set(Key.DEVICE, self.current_device())
        self.settings.sync()
