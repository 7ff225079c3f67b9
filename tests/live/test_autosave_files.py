"""Live autosave files hold private speech: created 0600 in a 0700 folder, never clobbering;
a journal torn by a crash is recovered; where they go by default."""

from __future__ import annotations

import os
import stat

import pytest

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.live import autosave as live_autosave
from voxtral_mlx.live.autosave import Autosave, default_dir, recover
from voxtral_mlx.live.recording import Recording
from voxtral_mlx.text.transcript import TokenEvent, Word, join_words


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_journal_final_json_and_new_folder_are_private(tmp_path, umask_022):
    folder = tmp_path / "new" / "transcripts"
    save = Autosave(folder, {"source": "Mic"})
    save.words([Word("Hello", 0.0, 0.4)])
    final = save.close(recover(save.path))
    assert mode(folder) == 0o700
    assert mode(save.path) == 0o600 and mode(final) == 0o600


def test_an_existing_folder_keeps_its_mode(tmp_path, umask_022):
    tmp_path.chmod(0o755)
    save = Autosave(tmp_path)
    assert mode(tmp_path) == 0o755 and mode(save.path) == 0o600


def test_recording_autosave_is_private(tmp_path, umask_022):
    errors = []
    rec = Recording(tmp_path / "auto", {"model": "tiny"}, errors.append)
    rec.begin(0.0, "Mic", 480)
    rec.add(
        [TokenEvent(1000, " Hi", 0.0, 0.08, True), TokenEvent(1001, " there", 0.08, 0.16, True)]
    )
    event = rec.finish(0.2, final=True)
    assert errors == [] and event.path is not None
    assert mode(event.journal) == 0o600 and mode(event.path) == 0o600
    assert mode(tmp_path / "auto") == 0o700


def test_non_utf8_names_are_journaled(tmp_path):
    """A device or file name that is not UTF-8 does not turn autosave off."""
    name = os.fsdecode(b"mic-\xff")
    save = Autosave(tmp_path, {"source": name})
    save.source(name, 480, 0.0)
    save.words([Word("Hello", 0.0, 0.4)])
    back = recover(save.path)
    assert os.fsencode(back.metadata["source"]) == b"mic-\xff"
    assert [w.text for w in back.words] == ["Hello"]
    save.close(back)


def test_a_kept_transcript_is_never_overwritten(tmp_path):
    """A final JSON whose journal was deleted keeps its name: the next journal takes another."""
    kept = tmp_path / "live-20260101-100000.json"
    kept.write_text("kept")
    path, fd = live_autosave._create_unique(tmp_path, "live-20260101-100000")
    os.close(fd)
    assert path.name == "live-20260101-100000-1.jsonl" and kept.read_text() == "kept"


def test_autosave_recovers_a_journal_torn_by_a_crash(tmp_path):
    save = Autosave(tmp_path, {"source": "Mic"})
    save.source("Mic", 480, 0.0)
    save.words([Word("Hello,", 0.32, 0.72), Word("world.", 0.8, 1.2)])
    with open(save.path, "a") as f:  # the process died mid-line
        f.write('{"type": "word", "text": "ag')
    t = recover(save.path)
    assert join_words(t.words) == "Hello, world." and t.metadata == {"source": "Mic", "recovered": True}  # fmt: skip
    assert t.duration == 1.2 and t.segments[0].text == "Hello, world."
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "start"}\nnot json\n{"type": "end", "duration": 1}\n')
    with pytest.raises(VoxtralError, match="line 2"):
        recover(bad)
    with pytest.raises(VoxtralError, match="cannot autosave"):
        Autosave(save.path / "sub")  # a file where a folder should be


def test_default_autosave_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("VOXTRAL_MLX_DATA_DIR", str(tmp_path))
    assert default_dir() == tmp_path
    monkeypatch.delenv("VOXTRAL_MLX_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_dir() == tmp_path / "xdg" / "voxtral-mlx" / "transcripts"
