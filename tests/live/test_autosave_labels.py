"""The autosave journal keeps each word's source label (a recording of the microphone and the
computer's audio at once) and recover() brings them back; one-source journals are as before."""

from __future__ import annotations

import json

from voxtral_mlx.live.autosave import FORMAT_VERSION, Autosave, recover
from voxtral_mlx.text.transcript import Transcript, Word

# As a two-source recording journals them: each source's words as it finalises them, so the
# journal is out of time order across sources.
YOU = [Word("Hi,", 0.0, 0.3, "You"), Word("can", 0.4, 0.6, "You"), Word("you?", 0.7, 1.0, "You")]
OTHERS = [Word("Yes,", 0.5, 0.8, "Others"), Word("clear.", 0.9, 1.3, "Others")]


def journal_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_word_lines_carry_the_source_and_recover_restores_it(tmp_path):
    save = Autosave(tmp_path, {"source": "Mic + computer audio"})
    save.source("Mic", 480, 0.0)
    save.words(YOU[:2])
    save.words(OTHERS)
    save.words(YOU[2:])
    words = [line for line in journal_lines(save.path) if line["type"] == "word"]
    assert [(w["text"], w["source"]) for w in words] == [
        (w.text, w.source) for w in [*YOU[:2], *OTHERS, *YOU[2:]]
    ]
    crashed = recover(save.path)  # no end line yet: as after a crash
    expected = Transcript.from_words([*YOU, *OTHERS])
    assert crashed.words == expected.words and crashed.segments == expected.segments
    assert crashed.duration == 1.3  # the last word to end, not the last one journaled
    assert crashed.text == "You: Hi, can you?\nOthers: Yes, clear."
    final = save.close(Transcript.from_words([*YOU, *OTHERS], duration=1.5))
    ended = recover(save.path)
    assert ended.words == expected.words and ended.duration == 1.5
    assert Transcript.from_dict(json.loads(final.read_text())).words == expected.words


def test_a_torn_labelled_journal_keeps_the_labels_it_has(tmp_path):
    save = Autosave(tmp_path)
    save.words([*YOU, *OTHERS])
    save._file.write('{"type": "word", "text": "cut", "start": 2.0, "source": "Oth')  # a crash
    save._file.flush()
    recovered = recover(save.path)
    assert [(w.text, w.source) for w in recovered.words] == [
        (w.text, w.source) for w in Transcript.from_words([*YOU, *OTHERS]).words
    ]
    assert recovered.metadata == {"recovered": True}


def test_one_source_word_lines_are_unchanged(tmp_path):
    save = Autosave(tmp_path)
    save.words([Word("Hello,", 0.32, 0.72), Word("world.", 0.8, 1.2)])
    lines = journal_lines(save.path)
    assert lines[0]["version"] == FORMAT_VERSION == 1
    assert lines[1:] == [
        {"type": "word", "text": "Hello,", "start": 0.32, "end": 0.72},
        {"type": "word", "text": "world.", "start": 0.8, "end": 1.2},
    ]
    assert all(w.source is None for w in recover(save.path).words)
