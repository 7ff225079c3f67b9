""" "Listen to: Both" with the real transcriber and tiny checkpoint: the chosen microphone (the
fake sound device, "You") and the computer's audio (the bridge's ``system_audio`` seam, a
realtime source, "Others") start as one labelled pair; the window and the overlay show lines
opened by each source's label, a meter each, and what is saved (autosave and Save) has both
labels. The computer's audio plays other speech than the microphone (reversed), so no
microphone word is the computer's audio played back (echo, which the engine drops)."""

# ruff: noqa: F811  (the fixtures imported from test_main_window are the tests' parameters)
from __future__ import annotations

import json

import numpy as np
import srt

from gui.sources import BOTH
from tests.gui.test_main_window import folder, make_app, speech_device, threads_back  # noqa: F401
from tests.gui.test_system_audio_choice import choose, offer_computer_audio
from tests.live.test_engine import SPEECH
from voxtral_mlx.live.source_set import OTHERS, YOU
from voxtral_mlx.text.transcript import Transcript

OTHER = np.ascontiguousarray(SPEECH[::-1] * 0.8)


def test_both_captions_the_microphone_and_the_computer_labelled(make_app, qtbot, tmp_path, threads_back):  # fmt: skip
    app = make_app(speech_device())
    win = app.window
    fake = offer_computer_audio(app, OTHER)
    win.device_box.setCurrentIndex(win.device_box.findData("USB Mic"))
    choose(win, BOTH)
    win.start()
    both = "Listening to You: USB Mic, Others: system audio"
    qtbot.waitUntil(lambda: win.status_label.text() == both, timeout=20000)
    qtbot.waitUntil(lambda: {w.source for w in win.captions.words} == {YOU, OTHERS}, timeout=30000)
    assert win.status_label.text() == both
    assert len(fake.made) == 1 and len(app.bridge.sd.streams) == 1  # each opened once
    # The window: a line per speaker, each opened by its label.
    lines = win.view.toPlainText().split("\n")
    assert all(line.startswith(("You: ", "Others: ")) for line in lines), lines
    assert win.view.toPlainText() == win.captions.text
    # A meter each, named.
    meters = win.meters
    qtbot.waitUntil(lambda: meters.main.bar.value() > -60 and meters.others.bar.value() > -60, timeout=20000)  # fmt: skip
    assert meters.labelled and "lag" in meters.main.lag.text() and "lag" in meters.others.lag.text()
    assert not meters.others.bar.isHidden() and meters.others.name.text() == OTHERS
    # The overlay's lines too.
    app.overlay.refresh()
    assert app.overlay.lines and any(n for n in app.overlay.labels)
    assert "<b>You:</b>" in app.overlay.label.text() or "<b>Others:</b>" in app.overlay.label.text()
    win.stop()
    qtbot.waitUntil(lambda: win.last_saved is not None and win.status_label.text() == "Ready", timeout=30000)  # fmt: skip
    final = app.bridge.live.transcript
    assert {w.source for w in final.words} == {YOU, OTHERS}
    # What the window shows is what was transcribed, word for word and label for label.
    assert Transcript.from_words(win.captions.words).words == final.words
    assert win.view.toPlainText() == win.captions.committed_text
    autosaved = json.loads(win.last_saved.read_text())
    assert {s["source"] for s in autosaved["segments"]} == {YOU, OTHERS}
    assert autosaved["metadata"]["sources"] == {YOU: "USB Mic", OTHERS: "system audio"}
    saved = Transcript.from_dict(json.loads(win.save_to(tmp_path / "t.json").read_text()))
    assert saved.words == final.words and {s.source for s in saved.segments} == {YOU, OTHERS}
    cues = list(srt.parse(win.save_to(tmp_path / "t.srt").read_text()))
    assert {c.content.split(":")[0] for c in cues} == {YOU, OTHERS}
    app.shutdown(10)
