"""The main window: the live transcript and the controls around it.

GUI thread only. Its parts and their places are :class:`~gui.window_layout.WindowLayout`'s;
this class connects them. The recording, the caption model and the transcriber's events are
the :class:`~gui.controller.Controller`'s: the window shows what its signals say and calls its
verbs with what the controls hold. Getting the model is :class:`~gui.first_run.ModelSetup`'s.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import QFileDialog, QWidget

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.live.events import Status
from voxtral_mlx.text.transcript import Transcript

from .captions import CaptionModel
from .controller import Controller
from .first_run import ModelSetup
from .history import HistoryDialog
from .settings import Key, Settings, listen_choice
from .sources import COMPUTER
from .widgets import ask_close_choice, ask_open_choice
from .window_layout import WindowLayout

FONT_MIN, FONT_MAX = 12, 64  # transcript point sizes
CLOSE_TIMEOUT_MS = 5000  # give up waiting for the transcriber to flush after this
SAVE_FILTERS = "Text (*.txt);;SubRip subtitles (*.srt);;WebVTT subtitles (*.vtt);;JSON with word times (*.json)"  # fmt: skip


class MainWindow(WindowLayout):
    """Transcript, Start/Stop (Space, Ctrl/⌘+R), listen to (microphone, computer audio, both),
    microphone, delay, meters, lag, status, Clear / Copy / Save. Closing while recording
    flushes the last words first (without blocking the event loop) and then closes for real."""

    closed = Signal()
    overlay_toggled = Signal(bool)  # the user asked to show / hide the caption overlay
    left_for_tray = Signal(bool)  # closed to the tray while listening: True = listening goes on
    settings_requested = Signal()  # the settings window (caption looks): the app opens it
    overlay_unlock_requested = Signal()  # show the overlay unlocked (no tray needed to reach it)
    listen_changed = Signal(str, str)  # what is listened to (gui.sources), why the computer's audio cannot be ("")  # fmt: skip

    def __init__(self, controller: Controller, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller, self.bridge, self.settings = controller, controller.bridge, settings
        self.on_event = controller.on_event  # the transcriber's events, as the bridge sends them
        self._closing = self._may_close = self._quitting = False
        self._was_active = False  # the first activation is the start-up, nothing to rescan
        self.hide_on_close = False  # with a tray icon, closing the window only hides it
        setup = self.model_setup = ModelSetup(self.bridge, settings, self)
        # The first run's download as the window's (closing stops it; tests drive it here).
        self.download, self._download_timer = setup.download, setup.timer
        self._download_finished = setup.download_finished
        self._build_layout(settings, setup)
        self._connect_controls()
        self._connect(controller, setup)
        self._wanted_device = listen_choice(settings)[1]  # (an older version's choice read)
        self.refresh_devices(rescan=False)  # PortAudio has just listed them at import

    @property
    def captions(self) -> CaptionModel:
        """The controller's caption model: what the window and the overlay show."""
        return self.controller.captions

    @property
    def last_saved(self) -> Path | None:
        """The autosaved transcript of the last recording."""
        return self.controller.last_saved

    def _connect_controls(self) -> None:
        QShortcut(QKeySequence("Ctrl+,"), self).activated.connect(self.settings_requested)
        for keys in ("Space", "Ctrl+R"):
            QShortcut(QKeySequence(keys), self).activated.connect(self.toggle)
        for keys, step in ((QKeySequence.StandardKey.ZoomIn, 2), (QKeySequence.StandardKey.ZoomOut, -2), ("Ctrl+=", 2)):  # fmt: skip
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.activated.connect(lambda step=step: self.zoom(step))
        self.unlock_overlay_action.triggered.connect(lambda: self.overlay_unlock_requested.emit())
        self.start_button.clicked.connect(self.toggle)
        self.device_box.about_to_open.connect(lambda: self.refresh_devices())
        self.device_box.currentIndexChanged.connect(self._device_chosen)
        self.source_box.chosen.connect(self._listen_chosen)
        self.refresh_button.clicked.connect(lambda: self.refresh_devices())  # not with `checked`
        self.delay_box.chosen.connect(self._delay_chosen)
        self.clear_button.clicked.connect(self.clear)
        self.copy_button.clicked.connect(self.copy)
        self.save_button.clicked.connect(self.save_dialog)
        self.history_button.clicked.connect(self.history_dialog)
        self.settings_button.clicked.connect(lambda: self.settings_requested.emit())
        self.overlay_button.toggled.connect(self.overlay_toggled)

    def _connect(self, controller: Controller, setup: ModelSetup) -> None:
        """Show what the controller and the model setup say, where the window shows it."""
        controller.text_changed.connect(self.view.update_text)
        controller.draft_changed.connect(self.view.set_draft)
        controller.status_text.connect(self.status_label.setText)
        controller.message.connect(self.banner.show_message)
        controller.message_outdated.connect(self._message_outdated)
        controller.meter_changed.connect(self.meters.show_reading)
        controller.recording_changed.connect(lambda on: self.start_button.setText("Stop" if on else "Start"))  # fmt: skip
        controller.status_changed.connect(self._status_changed)
        controller.saved.connect(lambda path: self.saved_label.setText(f"Saved to {path}"))
        setup.status_text.connect(self.status_label.setText)
        setup.message.connect(lambda text: self.banner.show_message(text) if text else self.banner.hide())  # fmt: skip
        setup.downloading.connect(lambda on: self.start_button.setEnabled(not on))
        setup.downloaded.connect(self.start)

    # ---- what the controller says -----------------------------------------------------------
    def _message_outdated(self, text: str) -> None:
        if not self.banner.isHidden() and self.banner.label.text() == text:
            self.banner.hide()

    def _status_changed(self, status: Status) -> None:
        self.progress.hide()
        self.model_button.setEnabled(status is not Status.LISTENING)
        if status is Status.STOPPED and self._closing:
            self._finish_close()

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
        if self.controller.busy:
            self.stop()
        else:
            self.start()

    def start(self) -> None:
        """Record what is chosen (the microphone, the computer's audio or both); with no model
        yet, download it first."""
        if self.controller.needs_download:
            self.model_setup.download_model()
            return
        self.banner.hide()
        self.first_run.hide()
        self.model_button.setEnabled(False)
        self.controller.start(self.current_device(), self.delay_box.value(), self.listen_to())

    def stop(self) -> None:
        self.controller.stop()

    def use_model_folder(self, folder: Path) -> bool:
        """Use ``folder`` from the next Start if it looks like a model (params/config.json)."""
        return self.model_setup.use_folder(folder)

    def clear(self) -> None:
        self.view.reset()
        self.controller.clear()

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.captions.text)

    def history_dialog(self) -> HistoryDialog:
        dialog = HistoryDialog(self.controller.autosave_folder, self)
        dialog.chosen.connect(self.show_transcript)
        dialog.open()
        return dialog

    def show_transcript(self, transcript: Transcript) -> bool:
        """Show an earlier recording (not while recording); text already shown is replaced
        or kept above it as the user says, never silently."""
        if self.controller.busy:
            self.banner.show_message("Stop listening first, then open the recording", "hint")
            return False
        how = "replace" if self.captions.is_empty else ask_open_choice(self)
        if how is None:
            return False
        if how == "replace":
            self.clear()
        self.controller.load(transcript)
        return True

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save transcript", "transcript.txt", SAVE_FILTERS)  # fmt: skip
        if path:
            self.save_to(Path(path))

    def save_to(self, path: Path) -> Path | None:
        """Write what is shown in the format the suffix names (txt, srt, vtt, json)."""
        try:
            written = self.controller.save(path, self.delay_box.value())
        except VoxtralError as err:
            self.banner.show_message(str(err))
            return None
        self.status_label.setText(f"Saved {written}")
        return written

    def refresh_devices(self, rescan: bool = True) -> None:
        """List the microphones again; ``rescan`` also finds ones plugged in since (not while
        recording: see mic.rescan_devices). The computer's audio is offered where it can be."""
        wanted = self.current_device() or self._wanted_device
        try:
            devices = self.controller.devices(rescan)
        except VoxtralError as err:
            devices = []
            self.banner.show_message(str(err))
        self.device_box.fill(devices, wanted)
        self.source_box.set_missing(self.bridge.computer_audio_missing)
        if not self.controller.busy:  # the remembered choice, where it can be had now
            self.source_box.choose(self.settings.get(Key.LISTEN_TO))
        self._show_listen_choice()

    def current_device(self) -> str:
        """The microphone chosen ("": the system default)."""
        return self.device_box.current()

    def listen_to(self) -> str:
        """What is captioned (gui.sources): "microphone", "computer" (its audio) or "both"."""
        return self.source_box.current()

    def set_listen_to(self, listen: str) -> None:
        """Choose what is captioned, as if picked in the window (the tray's menu does)."""
        before = self.listen_to()
        self.source_box.choose(listen)
        if self.listen_to() != before:
            self._listen_chosen(self.listen_to())
        else:  # unchanged, or not to be had: the tray shows what it is
            self._show_listen_choice()

    def _device_chosen(self) -> None:
        self._wanted_device = self.current_device()
        self.settings.set(Key.DEVICE, self.current_device())
        self.controller.switch_device(self.current_device(), self.delay_box.value(), self.listen_to())  # fmt: skip

    def _listen_chosen(self, listen: str) -> None:
        self.settings.set(Key.LISTEN_TO, listen)
        self._show_listen_choice()
        self.controller.switch_device(self.current_device(), self.delay_box.value(), listen)

    def _show_listen_choice(self) -> None:
        """The microphone picker is not used for the computer's audio alone: disabled, it says
        so; the tray follows."""
        mic = self.listen_to() != COMPUTER
        for widget in (self.device_box, self.refresh_button):
            widget.setEnabled(mic)
        self.device_box.setToolTip("Microphone" if mic else "Not used: listening to the computer's audio only")  # fmt: skip
        self.listen_changed.emit(self.listen_to(), self.bridge.computer_audio_missing)

    def _delay_chosen(self, value: int) -> None:
        if value != self.settings.get(Key.DELAY_MS):
            self.settings.set(Key.DELAY_MS, value)
            self.controller.set_delay(value)

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
            if self._was_active and not self.controller.busy:
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
        if self._may_close or not self.controller.running:
            self._save_state()
            event.accept()
            self.closed.emit()
            return
        # Flush and write the transcript on the transcriber's thread; close when it says STOPPED.
        event.ignore()
        if not self._closing:
            self._closing = True
            self.hide()
            self.controller.shutdown()
            QTimer.singleShot(CLOSE_TIMEOUT_MS, self._finish_close)

    def _leave_for_tray(self) -> bool:
        """Closing to the tray while listening: go on or stop, as the user chose once (asked
        the first time); False if they cancelled."""
        if not self.controller.busy:
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
        self.controller.join(0.5)
        self._may_close = True
        self.close()

    def _save_state(self) -> None:
        self.settings.set(Key.WINDOW_GEOMETRY, bytes(self.saveGeometry().toHex()).decode())
        self.settings.set(Key.DELAY_MS, self.delay_box.value())
        self.settings.set(Key.DEVICE, self.current_device())
        self.settings.sync()
