"""Writers: every format parsed back with a real parser, JSON rebuilds the others, atomic writes."""

from __future__ import annotations

import dataclasses
import html
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
import srt
import webvtt

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.fs import atomic_file
from voxtral_mlx.text import writers
from voxtral_mlx.text.captions import caption_lines
from voxtral_mlx.text.transcript import (
    TokenEvent,
    Transcript,
    TranscriptBuilder,
    segment_words,
)

SENTENCES = [
    "Hello and welcome to the show.",
    "Today we talk about subtitles, timing & <markup> in captions.",
    "Caf\u00e9 cr\u00e8me costs 3.50 euros?",
    "This sentence is deliberately long so that one caption cannot hold it and it must be "
    "split into several cues, each with its own time.",
    "Bye!",
]


def sample_transcript(sentences=SENTENCES, extra=()) -> Transcript:
    """Words 0.32 s long, pads between them, a 1.2 s silence after each sentence."""
    events, time, token = [], 0.0, 1000

    def emit(token_id, text="", word_start=False):
        nonlocal time
        events.append(TokenEvent(token_id, text, round(time, 3), round(time + 0.08, 3), word_start))
        time += 0.08

    for sentence in [*sentences, *extra]:
        for word in sentence.split():
            emit(33, word_start=True)
            for k in range(0, len(word), 4):
                emit(token := token + 1, ("" if k else " ") + word[k : k + 4])
            emit(32)
        for _ in range(15):
            emit(32)
    emit(2)
    builder = TranscriptBuilder()
    builder.add(events)
    return builder.build(model="tiny", delay_ms=480, dtype="float32", source="talk.m4a")


EMPTY = TranscriptBuilder().build(duration=3.0)


def ms(seconds: float) -> timedelta:
    return timedelta(milliseconds=round(seconds * 1000))


@pytest.mark.parametrize(
    "seconds, sep, expected",
    [
        (0.0, ",", "00:00:00,000"),
        (3661.5, ",", "01:01:01,500"),
        (59.9996, ".", "00:01:00.000"),
        (0.0804, ".", "00:00:00.080"),
        (-0.2, ",", "00:00:00,000"),
        (100 * 3600 + 0.001, ",", "100:00:00,001"),
    ],
)
def test_format_timestamp(seconds, sep, expected):
    assert writers.format_timestamp(seconds, sep) == expected


def check_cues(parsed, transcript):
    """(start, end, text) triples from a real parser against the transcript's caption cues."""
    captions = caption_lines(transcript.segments)
    assert len(parsed) == len(captions) >= len(transcript.segments)
    for (start, end, text), caption in zip(parsed, captions, strict=True):
        assert (start, end) == (ms(caption.start), ms(caption.end))
        assert text == caption.text
        lines = text.split("\n")
        assert 1 <= len(lines) <= 2 and all(0 < len(line) <= 42 for line in lines)
    assert all(a[1] <= b[0] for a, b in zip(parsed, parsed[1:], strict=False))
    spoken = " ".join(text.replace("\n", " ") for _, _, text in parsed)
    assert spoken == transcript.text


def transcripts():
    """The sample, and the same words in segments too wide for one cue (several cues each)."""
    transcript = sample_transcript()
    wide = segment_words(transcript.words, max_chars=300, max_seconds=60)
    assert any(len(segment.text) > 84 for segment in wide)
    return [transcript, dataclasses.replace(transcript, segments=wide)]


@pytest.mark.parametrize("which", [0, 1], ids=["caption-segments", "wide-segments"])
def test_srt_parses_back(tmp_path, which):
    transcript = transcripts()[which]
    path = writers.write_srt(transcript, tmp_path / "talk.srt")
    subtitles = list(srt.parse(path.read_text(encoding="utf-8")))
    assert [s.index for s in subtitles] == list(range(1, len(subtitles) + 1))
    check_cues([(s.start, s.end, s.content) for s in subtitles], transcript)


@pytest.mark.parametrize("which", [0, 1], ids=["caption-segments", "wide-segments"])
def test_vtt_parses_back(tmp_path, which):
    transcript = transcripts()[which]
    path = writers.write_vtt(transcript, tmp_path / "talk.vtt")
    assert path.read_text(encoding="utf-8").startswith("WEBVTT\n\n00:00:")
    parsed = [
        (ms(_vtt_seconds(c.start)), ms(_vtt_seconds(c.end)), html.unescape(c.text))
        for c in webvtt.read(str(path))
    ]
    assert "&lt;markup&gt;" in path.read_text(encoding="utf-8")  # escaped, read back as <markup>
    check_cues(parsed, transcript)


def _vtt_seconds(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_txt_has_one_segment_per_line(tmp_path):
    transcript = sample_transcript()
    text = writers.write_txt(transcript, tmp_path / "talk.txt").read_text(encoding="utf-8")
    assert text.splitlines() == [segment.text for segment in transcript.segments]
    assert " ".join(text.split()) == transcript.text
    assert text.startswith("Hello and welcome to the show.\n")


def test_json_parses_and_rebuilds_every_format(tmp_path):
    transcript = sample_transcript(extra=["你好世界。"])
    path = writers.write_json(transcript, tmp_path / "talk.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["text"] == transcript.text and data["tokens"] == transcript.tokens
    assert data["metadata"] == {
        "model": "tiny",
        "delay_ms": 480,
        "dtype": "float32",
        "source": "talk.m4a",
    }
    assert data["segments"][0]["words"][0] == {"text": "Hello", "start": 0.0, "end": 0.24}
    rebuilt = Transcript.from_dict(data)
    assert rebuilt == transcript
    for render in (writers.txt_text, writers.srt_text, writers.vtt_text, writers.json_text):
        assert render(rebuilt) == render(transcript)


def test_silence_writes_valid_empty_files(tmp_path):
    paths = writers.write(EMPTY, tmp_path / "quiet.wav", writers.FORMATS)
    contents = {p.suffix: p.read_text(encoding="utf-8") for p in paths}
    assert contents[".txt"] == "\n"
    assert contents[".srt"] == "" and list(srt.parse(contents[".srt"])) == []
    assert len(webvtt.from_string(contents[".vtt"]).captions) == 0
    data = json.loads(contents[".json"])
    assert data["text"] == "" and data["segments"] == [] and data["duration"] == 3.0
    assert Transcript.from_dict(data) == EMPTY


def test_output_names_follow_the_input(tmp_path):
    audio = tmp_path / "in" / "talk.m4a"
    audio.parent.mkdir()
    paths = writers.write(EMPTY, audio, ["srt", "txt", "srt"])
    assert paths == [tmp_path / "in" / "talk.srt", tmp_path / "in" / "talk.txt"]
    out = tmp_path / "new" / "deeper"
    paths = writers.write(EMPTY, audio, ["all"], output_dir=out)
    assert [p.name for p in paths] == ["talk.txt", "talk.srt", "talk.vtt", "talk.json"]
    assert all(p.parent == out and p.is_file() for p in paths)
    assert writers.output_path("a/b.c.flac", "vtt") == Path("a/b.c.vtt")


def test_unknown_format_and_overwriting_the_input_are_refused(tmp_path):
    with pytest.raises(VoxtralError, match="unknown output format 'docx'"):
        writers.write(EMPTY, tmp_path / "a.wav", ["txt", "docx"])
    notes = tmp_path / "notes.txt"
    notes.write_text("precious")
    with pytest.raises(VoxtralError, match="input file"):
        writers.write(EMPTY, notes, ["txt"])
    assert notes.read_text() == "precious"


def test_another_name_for_the_input_is_refused(tmp_path):
    """As a case-insensitive disk's ``Notes.TXT`` is ``notes.txt``: here a hard link."""
    notes = tmp_path / "notes.txt"
    notes.write_text("precious")
    (tmp_path / "out").mkdir()
    os.link(notes, tmp_path / "out" / "notes.txt")
    with pytest.raises(VoxtralError, match="input file"):
        writers.write(EMPTY, notes, ["txt"], output_dir=tmp_path / "out")
    assert (tmp_path / "out" / "notes.txt").read_text() == "precious"


def test_unwritable_output_dir_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(VoxtralError) as err:
        writers.write(EMPTY, tmp_path / "a.wav", ["srt"], output_dir=blocker / "sub")
    assert str(blocker / "sub") in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(VoxtralError) as err:
        writers.write_srt(EMPTY, blocker / "a.srt")
    message = str(err.value)
    assert message.startswith(f"cannot write {blocker / 'a.srt'}: ") and "\n" not in message


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, failing):
    target = tmp_path / "talk.srt"
    target.write_text("old subtitles")

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_file.os, failing, fail)
    with pytest.raises(VoxtralError, match="No space left on device"):
        writers.write_srt(sample_transcript(), target)
    assert target.read_text() == "old subtitles"
    assert files(tmp_path) == ["talk.srt"]


def test_serializer_failure_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "talk.json"
    target.write_text("{}")

    def broken(transcript):
        raise RuntimeError("bug")

    monkeypatch.setattr(writers, "json_text", broken)
    with pytest.raises(RuntimeError):
        writers.write(sample_transcript(), tmp_path / "talk.wav", ["json"])
    assert target.read_text() == "{}" and files(tmp_path) == ["talk.json"]


def test_interrupted_write_removes_the_temp_file(tmp_path, monkeypatch):
    monkeypatch.setattr(
        atomic_file.os, "fsync", lambda fd: (_ for _ in ()).throw(KeyboardInterrupt)
    )
    with pytest.raises(KeyboardInterrupt):
        writers.atomic_write(tmp_path / "a.txt", "text")
    assert files(tmp_path) == []


def test_written_file_has_normal_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        path = writers.atomic_write(tmp_path / "a.txt", "é\n")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644
    assert path.read_bytes() == "é\n".encode()


def test_overwriting_keeps_the_file_mode(tmp_path):
    """A transcript the user made private stays private; a new file still gets the umask's mode."""
    private, shared = tmp_path / "private.txt", tmp_path / "shared.txt"
    for path, mode in ((private, 0o600), (shared, 0o640)):
        path.write_text("old")
        path.chmod(mode)
        writers.atomic_write(path, "new")
        assert path.stat().st_mode & 0o777 == mode and path.read_text() == "new"


def test_longest_names_the_filesystem_accepts_are_written(tmp_path):
    stem = "a" * 250  # stem + ".json" is 255 bytes, the usual limit of one name
    paths = writers.write(sample_transcript(), tmp_path / f"{stem}.wav", ["all"])
    assert [p.name for p in paths] == [f"{stem}.{fmt}" for fmt in writers.FORMATS]
    assert json.loads(paths[-1].read_text())["text"] == sample_transcript().text
    assert files(tmp_path) == sorted(p.name for p in paths)  # no temp file left


def test_non_utf8_source_name_is_kept_in_the_json(tmp_path):
    """A name that is not UTF-8 (Linux allows any bytes) reaches us with surrogateescape."""
    raw = b"caf\xe9-\xff.wav"
    name = os.fsdecode(raw)
    transcript = dataclasses.replace(sample_transcript(), metadata={"source": name})
    path = writers.write_json(transcript, tmp_path / "talk.json")
    data = json.loads(path.read_bytes().decode("utf-8"))  # strict UTF-8: a valid JSON file
    assert os.fsencode(data["metadata"]["source"]) == raw
    assert data["text"] == transcript.text


def test_non_utf8_input_file_gets_every_output(tmp_path):
    audio = tmp_path / os.fsdecode(b"caf\xe9.wav")
    try:
        audio.write_bytes(b"")
    except (OSError, UnicodeEncodeError) as err:  # macOS (APFS) refuses non-UTF-8 names
        pytest.skip(f"this filesystem refuses non-UTF-8 names: {err}")
    transcript = dataclasses.replace(sample_transcript(), metadata={"source": str(audio)})
    paths = writers.write(transcript, audio, ["all"])
    assert [os.fsencode(p.name) for p in paths] == [
        b"caf\xe9." + f.encode() for f in writers.FORMATS
    ]
    assert os.fsencode(json.loads(paths[-1].read_text())["metadata"]["source"]) == os.fsencode(
        audio
    )


def test_a_link_planted_at_the_temp_name_is_never_written_through(tmp_path, monkeypatch):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    planted = ".vx-planted.tmp"
    (tmp_path / planted).symlink_to(victim)
    names = iter([planted, ".vx-fresh.tmp"])
    monkeypatch.setattr(atomic_file, "temp_name", lambda: next(names))
    writers.atomic_write(tmp_path / "talk.txt", "words")
    assert victim.read_text() == "precious" and (tmp_path / planted).is_symlink()
    assert (tmp_path / "talk.txt").read_text() == "words"
