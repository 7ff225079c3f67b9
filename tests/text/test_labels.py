"""Transcripts of several sources (a call: "You" on the microphone, "Others" on the computer's
audio): segments and cues never mix sources, the text reads as labelled turns, every writer's
output parsed back carries the labels, JSON round-trips them; one-source output is unchanged."""

from __future__ import annotations

import html
import json
import random
from datetime import timedelta

import pytest
import srt
import webvtt

from voxtral_mlx.text import writers
from voxtral_mlx.text.captions import caption_lines
from voxtral_mlx.text.transcript import Segment, Transcript, Word, join_words, segment_words

YOU = [
    "Hi, can you hear me?",
    "Great. I wanted to talk about the budget & the <draft> numbers for next quarter, "
    "because the figures we sent last week were wrong in two places.",
    "Yes.",
]
OTHERS = [
    "Yes, loud and clear.",
    "Sure, go ahead.",
    "Which places?",
]


def spoken(sentences, label, start, gap=2.5, step=0.3):
    """Words 0.25 s long every ``step`` s, each sentence ``gap`` s after the previous start."""
    words = []
    for n, sentence in enumerate(sentences):
        for k, text in enumerate(sentence.split()):
            t = round(start + n * gap * 4 + k * step, 3)
            words.append(Word(text, t, round(t + 0.25, 3), label))
    return words


def call_words() -> list[Word]:
    """Two people, overlapping in time (both talk at once at times), "You" listed first."""
    return spoken(YOU, "You", 0.0) + spoken(OTHERS, "Others", 1.6)


def call() -> Transcript:
    return Transcript.from_words(call_words(), tokens=[5, 6], duration=40.0, metadata={"m": 1})


def by_source(words) -> dict[str | None, list[Word]]:
    runs: dict[str | None, list[Word]] = {}
    for word in words:
        runs.setdefault(word.source, []).append(word)
    return runs


def test_segments_never_mix_sources_and_each_source_is_cut_as_on_its_own():
    words = call_words()
    transcript = call()
    assert transcript.labelled
    for segment in transcript.segments:
        assert segment.source in ("You", "Others")
        assert {word.source for word in segment.words} == {segment.source}
        assert segment.text == join_words(segment.words)
    starts = [segment.start for segment in transcript.segments]
    assert starts == sorted(starts)
    # Each source's segments are what that source's words alone are cut into.
    for label, own in by_source(words).items():
        alone = [(s.start, s.end, s.text) for s in segment_words(own)]
        mine = [(s.start, s.end, s.text) for s in transcript.segments if s.source == label]
        assert mine == alone
    # Words interleave in time, so a segment of one source lies over the other's.
    you, others = ([s for s in transcript.segments if s.source == k] for k in ("You", "Others"))
    assert any(o.start < y.end and y.start < o.end for y in you for o in others)


def test_words_of_several_sources_in_any_order_give_one_transcript():
    words = call_words()
    expected = call()
    assert [w.start for w in expected.words] == sorted(w.start for w in words)
    rng = random.Random(3)
    for _ in range(20):
        shuffled = rng.sample(words, len(words))
        again = Transcript.from_words(shuffled, tokens=[5, 6], duration=40.0, metadata={"m": 1})
        assert again == expected


def test_equal_starts_of_two_sources_keep_one_order():
    # Both rows step on the same 80 ms grid: words of both sources often start together.
    words = [Word("a", 0.0, 0.08, "You"), Word("b", 0.0, 0.08, "Others"),
             Word("c", 0.08, 0.16, "You"), Word("d", 0.08, 0.16, "Others")]  # fmt: skip
    orders = {tuple(Transcript.from_words(p).words) for p in (words, words[::-1], words[1::2] + words[::2])}  # fmt: skip
    assert len(orders) == 1
    transcript = Transcript.from_words(words)
    assert Transcript.from_dict(json.loads(writers.json_text(transcript))) == transcript


def test_labelled_text_has_a_line_per_turn():
    words = [
        *spoken(["Hi there."], "You", 0.0),
        *spoken(["Hello."], "Others", 1.0),
        # Two segments of one source in a row (a pause cuts them) read as one turn.
        *spoken(["How are you?", "All well?"], "You", 2.0, gap=0.5),
    ]
    transcript = Transcript.from_words(words)
    assert [s.source for s in transcript.segments] == ["You", "Others", "You", "You"]
    assert transcript.text == "You: Hi there.\nOthers: Hello.\nYou: How are you? All well?"
    assert transcript.turns()[-1] == ("You", "How are you? All well?")
    unlabelled = Transcript.from_words([Word(w.text, w.start, w.end) for w in words])
    assert not unlabelled.labelled
    assert unlabelled.text == "Hi there. Hello. How are you? All well?"


def test_json_round_trip_keeps_sources_and_one_source_json_has_none():
    transcript = call()
    data = json.loads(writers.json_text(transcript))
    assert data["text"] == transcript.text and data["text"].startswith("You: Hi, can you")
    for item in data["segments"]:
        assert list(item)[0] == "source" and item["source"] in ("You", "Others")
        assert {word["source"] for word in item["words"]} == {item["source"]}
    assert Transcript.from_dict(data) == transcript
    plain = Transcript.from_words([Word(w.text, w.start, w.end) for w in call_words()])
    assert '"source"' not in writers.json_text(plain)
    assert Transcript.from_dict(json.loads(writers.json_text(plain))) == plain


def test_caption_cues_hold_one_source_and_fit_with_their_label():
    transcript = call()
    captions = caption_lines(transcript.segments)
    assert len(captions) > len(transcript.segments)  # the long sentence takes several cues
    for caption in captions:
        assert caption.source in ("You", "Others")
        first, *rest = caption.lines
        assert len(f"{caption.source}: {first}") <= 42 and all(len(line) <= 42 for line in rest)
    for label, own in by_source(call_words()).items():
        texts = [c.text.replace("\n", " ") for c in captions if c.source == label]
        assert " ".join(texts) == join_words(own)
    plain = [Segment(s.start, s.end, s.text, [Word(w.text, w.start, w.end) for w in s.words])
             for s in transcript.segments]  # fmt: skip
    assert all(c.source is None for c in caption_lines(plain))


def ms(seconds: float) -> timedelta:
    return timedelta(milliseconds=round(seconds * 1000))


def check_labelled_cues(cues, transcript):
    """(start, end, label, text) from a real parser against the transcript's cues and words."""
    captions = caption_lines(transcript.segments)
    assert [(c[0], c[1]) for c in cues] == [(ms(c.start), ms(c.end)) for c in captions]
    assert [(c[2], c[3]) for c in cues] == [(c.source, c.text) for c in captions]
    for label, own in by_source(transcript.words).items():
        said = " ".join(text.replace("\n", " ") for _, _, who, text in cues if who == label)
        assert said == join_words(own)  # every word, under its own label only


def test_srt_cues_start_with_the_label(tmp_path):
    transcript = call()
    path = writers.write_srt(transcript, tmp_path / "call.srt")
    cues = []
    for cue in srt.parse(path.read_text(encoding="utf-8")):
        label, sep, text = cue.content.partition(": ")
        assert sep and label in ("You", "Others")
        assert all(len(line) <= 42 for line in cue.content.split("\n"))
        cues.append((cue.start, cue.end, label, text))
    check_labelled_cues(cues, transcript)


def test_vtt_cues_carry_voice_tags(tmp_path):
    transcript = call()
    path = writers.write_vtt(transcript, tmp_path / "call.vtt")
    content = path.read_text(encoding="utf-8")
    assert "<v You>Hi, can you hear me?" in content and "<v Others>Yes, loud" in content
    assert "&amp; the &lt;draft&gt;" in content  # the words are still escaped
    cues = []
    for cue in webvtt.read(str(path)):
        assert cue.raw_text.startswith(f"<v {cue.voice}>")
        start, end = (ms(_seconds(stamp)) for stamp in (cue.start, cue.end))
        cues.append((start, end, html.unescape(cue.voice), html.unescape(cue.text)))
    check_labelled_cues(cues, transcript)


@pytest.mark.parametrize(
    "label, tag",
    [("A&B <x>", "<v A&amp;B &lt;x&gt;>"), ("Two\nlines  here", "<v Two lines here>")],
)
def test_vtt_voice_label_is_escaped_as_the_spec_asks(tmp_path, label, tag):
    transcript = Transcript.from_words([Word("hi", 0.0, 0.5, label), Word("yo", 1.0, 1.5, "You")])
    content = writers.vtt_text(transcript)
    assert f"{tag}hi\n" in content and "<v You>yo\n" in content
    voices = [html.unescape(c.voice) for c in webvtt.from_string(content)]
    assert voices == [" ".join(label.split()), "You"]


def test_txt_has_a_labelled_line_per_segment(tmp_path):
    transcript = call()
    text = writers.write_txt(transcript, tmp_path / "call.txt").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines == [f"{s.source}: {s.text}" for s in transcript.segments]
    assert lines[:2] == ["You: Hi, can you hear me?", "Others: Yes, loud and clear."]


def test_one_source_output_has_no_labels(tmp_path):
    plain = Transcript.from_words([Word(w.text, w.start, w.end) for w in call_words()])
    paths = writers.write(plain, tmp_path / "call.wav", ["all"])
    content = {p.suffix: p.read_text(encoding="utf-8") for p in paths}
    assert content[".txt"].splitlines() == [s.text for s in plain.segments]
    assert "<v " not in content[".vtt"]
    assert not any(c.content.startswith(("You:", "Others:")) for c in srt.parse(content[".srt"]))
    # A source of its own is cut as the same words without a label (only the label added).
    labelled = Transcript.from_words(call_words()[: len(spoken(YOU, "You", 0.0))])
    bare = Transcript.from_words([Word(w.text, w.start, w.end) for w in labelled.words])
    assert [(s.start, s.end, s.text) for s in labelled.segments] == [
        (s.start, s.end, s.text) for s in bare.segments
    ]


def _seconds(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
