"""TranscriptBuilder on synthetic event streams, segmentation rules, Transcript.from_words,
spacing, JSON dicts. (Caption lines: tests/text/test_captions.py.)"""

from __future__ import annotations

import json
import random

import pytest

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.text.transcript import (
    TokenEvent,
    Transcript,
    TranscriptBuilder,
    Word,
    join_words,
    segment_words,
    separator,
)

PAD, WORD, EOS = 32, 33, 2
STEP = 0.08


def stream(*items) -> list[TokenEvent]:
    """One event per item, 80 ms apart from t=0: ``"pad"``, ``"word"`` ([STREAMING_WORD]),
    ``"eos"``, or a text delta (word_start when it starts with a space, like the detokenizer);
    ``("", True)`` / ``("é", False)`` give text and word_start explicitly."""
    events = []
    for index, item in enumerate(items):
        start = round(index * STEP, 6)
        end = round(start + STEP, 6)
        if item in ("pad", "word", "eos"):
            token = {"pad": PAD, "word": WORD, "eos": EOS}[item]
            events.append(TokenEvent(token, "", start, end, item == "word"))
            continue
        text, word_start = item if isinstance(item, tuple) else (item, item[:1].isspace())
        events.append(TokenEvent(1000 + index, text, start, end, word_start))
    return events


def build(events, **kwargs) -> Transcript:
    builder = TranscriptBuilder()
    builder.add(events)
    return builder.build(**kwargs)


def t(index: int) -> float:
    return round(index * STEP, 3)


def test_words_from_leading_space_pieces_with_pads_between():
    events = stream("pad", "pad", " Hello", "pad", "pad", " world", ".", "pad", "eos")
    transcript = build(events)
    assert transcript.words == [Word("Hello", t(2), t(3)), Word("world.", t(5), t(7))]
    assert transcript.text == "Hello world."
    assert transcript.tokens == [event.token_id for event in events]
    assert transcript.duration == t(9)


def test_multi_token_word_spans_its_text_tokens():
    transcript = build(stream(" Un", "believ", "pad", "able", "pad", "pad", " yes"))
    assert transcript.words[0] == Word("Unbelievable", t(0), t(4))
    assert transcript.words[1] == Word("yes", t(6), t(7))


def test_streaming_word_marker_starts_the_word_at_the_marker():
    # Marker then pads then text; marker then a leading-space piece (two boundaries, one word).
    transcript = build(stream("word", "pad", "Hello", "pad", "word", " there", "pad", "word"))
    assert transcript.words == [Word("Hello", t(0), t(3)), Word("there", t(4), t(6))]
    assert transcript.text == "Hello there"


def test_marker_between_pieces_without_space_splits_words():
    transcript = build(stream("word", "Good", "word", "bye"))
    assert [w.text for w in transcript.words] == ["Good", "bye"]
    assert transcript.text == "Good bye"


def test_utf8_character_split_across_events():
    # " caf" then the two bytes of "é": the first completes nothing (text="").
    transcript = build(stream(" caf", ("", False), ("é", False), "pad", ("", True), ("日", False)))
    assert transcript.words == [Word("café", t(0), t(3)), Word("日", t(4), t(6))]
    assert transcript.text == "café 日"


def test_whitespace_inside_one_delta_splits_words():
    transcript = build(stream(" New York", " City"))
    assert [w.text for w in transcript.words] == ["New", "York", "City"]
    assert transcript.words[1] == Word("York", t(0), t(1))


def test_cjk_pieces_become_words_joined_without_spaces():
    transcript = build(stream("你好", "世界", "。", "pad", "今天", "很", "好", "！"))
    assert [w.text for w in transcript.words] == ["你好", "世界。", "今天", "很", "好！"]
    assert transcript.text == "你好世界。今天很好！"
    assert transcript.words[1] == Word("世界。", t(1), t(3))


def test_mixed_latin_and_cjk_keep_their_spacing():
    assert build(stream(" Hello", "世界")).text == "Hello世界"
    assert build(stream(" Hello", " 世界", " again")).text == "Hello 世界 again"
    assert build(stream("東京", "Tower")).text == "東京Tower"


@pytest.mark.parametrize(
    "items", [(), ("pad", "pad", "eos"), ("word", "pad"), (" ", "pad", ("", True))]
)
def test_silence_gives_an_empty_transcript(items):
    transcript = build(stream(*items))
    assert transcript.words == [] and transcript.segments == []
    assert transcript.text == ""
    assert len(transcript.tokens) == len(items)


def test_duration_and_metadata():
    builder = TranscriptBuilder()
    assert builder.build().duration == 0.0
    builder.add(stream(" a", "pad"))
    transcript = builder.build(duration=12.3456, model="tiny", delay_ms=480)
    assert transcript.duration == 12.346
    assert transcript.metadata == {"model": "tiny", "delay_ms": 480}


def latin_stream(n_words: int, seed: int) -> list[TokenEvent]:
    rng = random.Random(seed)
    items = []
    for _ in range(n_words):
        items += ["pad"] * rng.randint(0, 12)
        if rng.random() < 0.5:
            items.append("word")
        pieces = rng.choice([["Hi"], ["ex", "am", "ple"], ["wor", "ld,"], ["end", "."], ["ok?"]])
        items += [" " + pieces[0], *pieces[1:]]
    return stream(*items)


def test_chunking_does_not_change_the_result_and_partial_text_tracks_it():
    events = latin_stream(60, seed=1)
    whole = build(events)
    rng = random.Random(2)
    builder, index = TranscriptBuilder(), 0
    while index < len(events):
        size = rng.randint(1, 7)
        builder.add(events[index : index + size])
        index += size
        assert builder.partial_text == join_words(builder.words)
        assert whole.text.startswith(builder.partial_text)
    assert builder.build() == whole
    assert builder.partial_text == whole.text


def test_text_equals_the_concatenated_deltas():
    # An independent spelling of the text: what a plain detokenizer would print.
    events = latin_stream(80, seed=3)
    assert build(events).text == " ".join("".join(e.text for e in events).split())


def test_times_are_monotonic_and_inside_the_events():
    events = latin_stream(120, seed=4)
    transcript = build(events)
    previous_end = 0.0
    for word in transcript.words:
        assert previous_end <= word.start < word.end <= events[-1].end
        previous_end = word.end
    for a, b in zip(transcript.segments, transcript.segments[1:], strict=False):
        assert a.start < a.end <= b.start < b.end


def test_build_is_a_snapshot():
    builder = TranscriptBuilder()
    builder.add(stream(" Hel"))
    first = builder.build()
    builder.add(stream("pad", "lo")[1:])
    assert first.text == "Hel" and builder.build().text == "Hello"


# --- segmentation ---------------------------------------------------------------------------


def words_at(texts, step=0.3, gap=0.0, start=0.0) -> list[Word]:
    words = []
    for text in texts:
        words.append(Word(text, round(start, 3), round(start + step, 3)))
        start += step + gap
    return words


def texts(segments):
    return [s.text for s in segments]


def test_sentence_end_splits_only_long_enough_segments():
    words = words_at("Yes. I think this sentence is long enough. So it splits here!".split())
    assert texts(segment_words(words)) == [
        "Yes. I think this sentence is long enough.",
        "So it splits here!",
    ]


def test_sentence_end_inside_closing_quote_and_cjk_full_stop():
    words = words_at(["He", "said", "something", "rather", '"long."', "Then", "left"])
    assert texts(segment_words(words)) == ['He said something rather "long."', "Then left"]
    cjk = words_at(list("今天天气很好我们一起去公园散步吧") + ["。", "好"])
    cjk = [Word("吧。", w.start, w.end) if w.text == "吧" else w for w in cjk if w.text != "。"]
    assert texts(segment_words(cjk, max_chars=40)) == ["今天天气很好我们一起去公园散步吧。", "好"]


def test_pause_splits_at_the_threshold():
    first, second = words_at(["one", "two"]), words_at(["three"], start=0.6 + 0.8)
    assert len(segment_words(first + second, pause=0.8)) == 2
    close = words_at(["three"], start=0.6 + 0.79)
    assert len(segment_words(first + close, pause=0.8)) == 1


def test_max_chars_is_respected_and_segments_are_full():
    words = words_at([f"word{i}" for i in range(60)], step=0.1)
    segments = segment_words(words, max_chars=40, max_seconds=100)
    for segment, following in zip(segments, segments[1:], strict=False):
        assert len(segment.text) <= 40
        assert len(segment.text + " " + following.words[0].text) > 40
    assert [w for s in segments for w in s.words] == words  # never inside a word


def test_max_seconds_is_respected():
    words = words_at(["a"] * 40, step=0.3, gap=0.5)
    segments = segment_words(words, max_seconds=7.0)
    assert len(segments) > 1
    assert all(s.end - s.start <= 7.0 for s in segments)


def test_long_single_word_gets_its_own_segment():
    long_word = "x" * 100
    segments = segment_words(words_at(["short", long_word, "tail"]), max_chars=84)
    assert texts(segments) == ["short", long_word, "tail"]


def test_cjk_without_spaces_segments_by_max_chars():
    events = stream(*["漢字"[i % 2] for i in range(200)])
    transcript = build(events)
    assert len(transcript.words) == 200
    lengths = [len(s.text) for s in transcript.segments]
    assert lengths == [84, 84, 32]
    assert "".join(texts(transcript.segments)) == transcript.text


def test_empty_words_give_no_segments():
    assert segment_words([]) == []


# --- one constructor from words -------------------------------------------------------------


def test_from_words_segments_the_words_itself_and_copies_the_rest():
    words = words_at("Yes. I think this sentence is long enough. So it splits here!".split())
    tokens, metadata = [1, 2, 3], {"source": "talk.m4a"}
    transcript = Transcript.from_words(
        iter(words), tokens=tokens, duration=4.56789, metadata=metadata
    )
    assert transcript.words == words and transcript.segments == segment_words(words)
    assert (transcript.tokens, transcript.duration, transcript.metadata) == (
        [1, 2, 3],
        4.568,
        {"source": "talk.m4a"},
    )
    tokens.append(4)
    metadata["x"] = 1  # copies: the caller's lists and dicts stay its own
    assert transcript.tokens == [1, 2, 3] and transcript.metadata == {"source": "talk.m4a"}
    assert Transcript.from_words([]) == Transcript()
    built = build(latin_stream(30, seed=3), model="m")
    assert Transcript.from_words(built.words, tokens=built.tokens, duration=built.duration,
                                 metadata={"model": "m"}) == built  # fmt: skip


def test_separator_is_join_texts_spacing():
    assert separator("Hello", "world") == " " and separator("今日", "は") == ""
    assert (
        separator("東京", "Tower") == " "
        and separator("", "x") == ""
        and separator("。", "次") == ""
    )
    assert separator("Hello ", " world") == " " and separator("  ", "x") == ""


# --- dict round trip ------------------------------------------------------------------------


def test_to_dict_from_dict_round_trips_exactly_through_json():
    transcript = build(latin_stream(50, seed=5) + stream(" 你好", "世界"), model="m", dtype="bf16")
    data = json.loads(json.dumps(transcript.to_dict()))
    assert data["text"] == transcript.text
    assert set(data) == {"text", "duration", "segments", "tokens", "metadata"}
    assert set(data["segments"][0]) == {"start", "end", "text", "words"}
    assert Transcript.from_dict(data) == transcript


def test_from_dict_accepts_top_level_words_and_rejects_bad_dicts():
    data = build(stream(" a", " b")).to_dict()
    data["words"] = [{"text": "x", "start": 0.0, "end": 0.1}]
    assert Transcript.from_dict(data).words == [Word("x", 0.0, 0.1)]
    with pytest.raises(VoxtralError) as err:
        Transcript.from_dict({"segments": [{"start": 0.0}]})
    assert "\n" not in str(err.value) and "end" in str(err.value)
