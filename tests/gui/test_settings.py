"""Settings: every key round-trips with its type through a real QSettings file."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from gui.settings import DEFAULTS, Key, Settings


def ini(path) -> Settings:
    return Settings(QSettings(str(path), QSettings.Format.IniFormat))


def test_defaults_round_trip_and_bad_values(tmp_path):
    path = tmp_path / "s.ini"
    first = ini(path)
    assert all(first.get(key) == default for key, default in DEFAULTS.items())
    values = {Key.MODEL: "/models/v", Key.DELAY_MS: 960, Key.DEVICE: "USB Mic",
              Key.OVERLAY_LOCKED: True, Key.OVERLAY_OPACITY: 0.5, Key.OVERLAY_X: 40}  # fmt: skip
    for key, value in values.items():
        first.set(key, value)
    first.sync()
    again = ini(path)
    for key, value in values.items():
        got = again.get(key)
        assert got == value and type(got) is type(value), key
    again.store.setValue(Key.DELAY_MS.value, "not a number")
    assert again.get(Key.DELAY_MS) == DEFAULTS[Key.DELAY_MS]
    again.store.setValue(Key.OVERLAY_LOCKED.value, "false")
    assert again.get(Key.OVERLAY_LOCKED) is False
