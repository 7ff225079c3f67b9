"""The desktop app (PySide6): live-caption window, caption overlay, tray icon.

Run it with ``python -m gui`` or ``voxtral-mlx-app``. MLX never runs on the GUI thread: the one
:class:`~voxtral_mlx.live.engine.LiveTranscriber` owns its own thread for the app's lifetime and
:mod:`gui.bridge` forwards its events as Qt signals (see there why no extra QThread);
:mod:`gui.controller` keeps the captions and the recording's state for the window.
"""
