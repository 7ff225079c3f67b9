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


def test_the_delay_default_follows_drafts_and_a_saved_delay_is_kept(tmp_path):
    from gui.settings import draft_delay_ms

    fresh = ini(tmp_path / "s.ini")
    # Issue 19's live defaults: final text at 2400 ms, drafts at 240 ms; the audio not kept.
    assert (fresh.get(Key.DELAY_MS), fresh.get(Key.DRAFTS), fresh.get(Key.DRAFT_DELAY_MS)) == (2400, True, 240)  # fmt: skip
    assert draft_delay_ms(fresh) == 240 and fresh.get(Key.KEEP_AUDIO) is False
    fresh.set(Key.DRAFTS, False)  # no drafts: the model's own delay
    assert fresh.get(Key.DELAY_MS) == 480 and draft_delay_ms(fresh) == 0
    fresh.set(Key.DELAY_MS, 960)  # a delay the user saved stays, drafts on or off
    fresh.set(Key.DRAFTS, True)
    fresh.set(Key.DRAFT_DELAY_MS, 160)
    fresh.set(Key.KEEP_AUDIO, True)
    fresh.sync()
    again = ini(tmp_path / "s.ini")
    assert again.get(Key.DELAY_MS) == 960 and draft_delay_ms(again) == 160
    assert again.get(Key.KEEP_AUDIO) is True
    again.set(Key.DRAFTS, False)
    assert again.get(Key.DELAY_MS) == 960 and draft_delay_ms(again) == 0
