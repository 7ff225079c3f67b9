"""Tokenizer behaviour on tiny hand-made tekken.json files (no mistral-common needed).

Expected text is computed independently from the test's own byte table with ``bytes.decode``.
"""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import pytest

from voxtral_mlx.errors import TokenizerError
from voxtral_mlx.text.tokenizer import AudioSettings, StreamingDetokenizer, TextPiece, Tokenizer

NUM_SPECIAL = 40
MERGES = [b" Hello", b" world", b"ing", b"\xe4\xbd", b" \xf0\x9f", b" ", b"\n", b"!"]
UNUSED = [b"never used", b"also unused"]  # past default_vocab_size, like the real file's tail
TABLE = [b""] * NUM_SPECIAL + [bytes([i]) for i in range(256)] + MERGES
VOCAB_SIZE = len(TABLE)
BOS, EOS, PAD, WORD = 1, 2, 32, 33


def piece(b: bytes) -> int:
    """Id of a piece in TABLE (single bytes resolve to the byte-fallback ids)."""
    return TABLE.index(b, NUM_SPECIAL)


def make_tekken(**changes) -> dict:
    names = {
        0: "<unk>",
        1: "<s>",
        2: "</s>",
        11: "<pad>",
        32: "[STREAMING_PAD]",
        33: "[STREAMING_WORD]",
    }
    vocab = [bytes([i]) for i in range(256)] + MERGES + UNUSED
    data = {
        "config": {
            "pattern": ".",
            "default_vocab_size": VOCAB_SIZE,
            "default_num_special_tokens": NUM_SPECIAL,
            "version": "v7",
        },
        "special_tokens": [
            {"rank": r, "token_str": n, "is_control": True} for r, n in sorted(names.items())
        ],
        "vocab": [
            {"rank": i, "token_bytes": base64.b64encode(b).decode(), "token_str": None}
            for i, b in enumerate(vocab)
        ],
        "audio": {
            "sampling_rate": 16000,
            "frame_rate": 12.5,
            "audio_encoding_config": {"num_mel_bins": 128, "hop_length": 160, "window_size": 400},
            "transcription_format": "streaming",
            "transcription_delay_ms": 960,
            "streaming_look_ahead_ms": 2.5,
            "streaming_look_back_ms": 52.5,
            "streaming_n_left_pad_tokens": 32,
        },
    }
    data.update(changes)
    return data


def write(tmp_path: Path, data: dict | str | bytes, name: str = "tekken.json") -> Path:
    path = tmp_path / name
    if isinstance(data, dict):
        data = json.dumps(data)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


@pytest.fixture
def tok(tmp_path) -> Tokenizer:
    return Tokenizer.from_file(write(tmp_path, make_tekken()))


# --- loading -------------------------------------------------------------------------------


def test_loads_file_or_folder(tmp_path):
    path = write(tmp_path, make_tekken())
    for where in (path, tmp_path, str(path)):
        tok = Tokenizer.from_file(where)
        assert (tok.vocab_size, tok.num_special) == (VOCAB_SIZE, NUM_SPECIAL)
        assert tok.path == path


def test_special_ids_by_name(tok):
    assert (tok.bos_id, tok.eos_id, tok.streaming_pad_id, tok.streaming_word_id) == (1, 2, 32, 33)
    assert tok.special_id("<pad>") == 11
    assert tok.special_id("<SPECIAL_5>") == 5  # unnamed ranks get mistral-common's filler names
    with pytest.raises(KeyError):
        tok.special_id("[NOT_THERE]")


def test_special_ids_follow_the_file_not_hardcoded(tmp_path):
    moved = [
        {"rank": 3, "token_str": "<s>", "is_control": True},
        {"rank": 4, "token_str": "[STREAMING_WORD]", "is_control": True},
    ]
    tok = Tokenizer.from_file(write(tmp_path, make_tekken(special_tokens=moved)))
    assert (tok.bos_id, tok.streaming_word_id) == (3, 4)
    # Names the file does not have fall back to the ids every port uses.
    assert (tok.eos_id, tok.streaming_pad_id) == (2, 32)


def test_no_special_tokens_list_uses_fallback_ids(tmp_path):
    data = make_tekken()
    del data["special_tokens"]
    tok = Tokenizer.from_file(write(tmp_path, data))
    assert (tok.bos_id, tok.eos_id, tok.streaming_pad_id, tok.streaming_word_id) == (1, 2, 32, 33)


def test_token_bytes_and_specials(tok):
    assert tok.token_bytes(BOS) == b"" and tok.is_special(BOS)
    assert tok.token_bytes(NUM_SPECIAL + 0x41) == b"A" and not tok.is_special(NUM_SPECIAL + 0x41)
    assert tok.token_bytes(piece(b" Hello")) == b" Hello"
    assert tok.token_bytes(VOCAB_SIZE - 1) == MERGES[-1]


def test_vocab_past_the_configured_size_is_unused(tok):
    with pytest.raises(TokenizerError, match="outside"):
        tok.token_bytes(VOCAB_SIZE)  # would be UNUSED[0] if the tail were read
    with pytest.raises(TokenizerError):
        tok.token_bytes(-1)


def test_audio_settings(tok):
    assert tok.audio == AudioSettings(transcription_delay_ms=960)
    assert tok.audio.sampling_rate == 16000 and tok.audio.hop_length == 160


@pytest.mark.parametrize("key", ["audio_encoding_config", "encoding_config", None])
def test_audio_spectrogram_key_variants(tmp_path, key):
    data = make_tekken()
    spectrogram = data["audio"].pop("audio_encoding_config")
    if key:
        data["audio"][key] = {**spectrogram, "hop_length": 320}
    tok = Tokenizer.from_file(write(tmp_path, data))
    assert tok.audio.hop_length == (320 if key else 160)
    assert tok.audio.transcription_delay_ms == 960


def test_audio_defaults_when_absent_or_null(tmp_path):
    data = make_tekken()
    data["audio"]["transcription_delay_ms"] = None
    del data["audio"]["streaming_n_left_pad_tokens"]
    tok = Tokenizer.from_file(write(tmp_path, data))
    assert (tok.audio.transcription_delay_ms, tok.audio.streaming_n_left_pad_tokens) == (480, 32)
    del data["audio"]
    assert Tokenizer.from_file(write(tmp_path, data)).audio == AudioSettings()


# --- errors --------------------------------------------------------------------------------


def _drop(*keys):
    def change(d):
        target = d
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return change


def _set(value, *keys):
    def change(d):
        target = d
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


BAD_FILES = {
    "no config": _drop("config"),
    "no vocab size": _drop("config", "default_vocab_size"),
    "no special count": _drop("config", "default_num_special_tokens"),
    "vocab size not int": _set("131072", "config", "default_vocab_size"),
    "specials exceed vocab": _set(VOCAB_SIZE + 1, "config", "default_num_special_tokens"),
    "no vocab": _drop("vocab"),
    "vocab too short": lambda d: d.update(vocab=d["vocab"][:100]),
    "bad base64": _set("not base64!!", "vocab", 260, "token_bytes"),
    "vocab entry without bytes": _drop("vocab", 260, "token_bytes"),
    "vocab entry not an object": _set(7, "vocab", 260),
    "rank out of order": _set(5, "vocab", 260, "rank"),
    "byte fallback broken": _set(base64.b64encode(b"xy").decode(), "vocab", 65, "token_bytes"),
    "special rank too big": _set([{"rank": NUM_SPECIAL, "token_str": "<s>"}], "special_tokens"),
    "special without name": _set([{"rank": 1}], "special_tokens"),
    "special tokens not a list": _set({"<s>": 1}, "special_tokens"),
    "audio not an object": _set([16000], "audio"),
    "audio value not a number": _set("480ms", "audio", "transcription_delay_ms"),
}
# audio-block values that each broke or hung something downstream: (key, bad value).
BAD_AUDIO = [
    ("transcription_delay_ms", 500), ("transcription_delay_ms", 0), ("transcription_delay_ms", -80),
    ("transcription_delay_ms", 99999), ("transcription_delay_ms", float("nan")),
    ("transcription_delay_ms", 10**400), ("frame_rate", 10**400),
    ("sampling_rate", 0), ("sampling_rate", 16000.5), ("frame_rate", 0), ("frame_rate", -12.5),
    ("streaming_n_left_pad_tokens", -1), ("streaming_n_left_pad_tokens", 1.5),
    ("streaming_n_left_pad_tokens", 10**9), ("streaming_look_back_ms", float("inf")),
    ("hop_length", 0), ("num_mel_bins", True), ("window_size", [400]),
]  # fmt: skip
BAD_FILES["vocab size 10**9"] = _set(10**9, "config", "default_vocab_size")
BAD_FILES["10**9 specials"] = lambda d: d["config"].update(
    default_vocab_size=10**9, default_num_special_tokens=10**9 - 300
)
BAD_FILES.update({f"audio {k}={v!r}"[:60]: _set(v, "audio", k) for k, v in BAD_AUDIO})
BAD_FILES["spectrogram hop_length=0"] = _set({"hop_length": 0}, "audio", "audio_encoding_config")


@pytest.mark.parametrize("case", BAD_FILES)
def test_malformed_file_is_one_line_error_naming_it(tmp_path, case):
    data = make_tekken()
    BAD_FILES[case](data)
    path = write(tmp_path, data)
    with pytest.raises(TokenizerError) as info:
        Tokenizer.from_file(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", json.dumps(make_tekken())[:5000].encode(), b"\xff\xfe\x00", b"[1, 2]"],
    ids=["empty", "garbage", "truncated", "not utf8", "not an object"],
)
def test_not_a_json_tokenizer(tmp_path, content):
    path = write(tmp_path, content)
    with pytest.raises(TokenizerError) as info:
        Tokenizer.from_file(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_bad_delay_in_tekken_names_the_file_and_key_not_the_option(tmp_path):
    path = write(tmp_path, make_tekken(audio={"transcription_delay_ms": 500}))
    with pytest.raises(TokenizerError) as info:
        Tokenizer.from_file(path)
    assert str(info.value) == (
        f"{path}: 'audio.transcription_delay_ms' must be a multiple of 80 ms from 80 to 2400, "
        "got 500"
    )


@pytest.mark.parametrize("delay", [80, 480, 2400, 960.0])
def test_good_delays_in_tekken_load(tmp_path, delay):
    path = write(tmp_path, make_tekken(audio={"transcription_delay_ms": delay}))
    assert Tokenizer.from_file(path).audio.transcription_delay_ms == delay


def test_deeply_nested_tekken_is_one_line(tmp_path):
    path = write(tmp_path, "[" * 100_000 + "]" * 100_000)
    with pytest.raises(TokenizerError, match="nested too deeply") as info:
        Tokenizer.from_file(path)
    assert str(path) in str(info.value)


def test_missing_file_or_folder_without_tekken(tmp_path):
    for where in (tmp_path / "nope.json", tmp_path):  # tmp_path has no tekken.json yet
        with pytest.raises(TokenizerError, match="not found") as info:
            Tokenizer.from_file(where)
        assert str(tmp_path) in str(info.value)


# --- decode and streaming ------------------------------------------------------------------


def test_decode_skips_specials_and_joins_bytes(tok):
    ids = [BOS, PAD, piece(b" Hello"), WORD, piece(b" world"), piece(b"!"), EOS]
    assert tok.decode(ids) == " Hello world!"
    nihao = "你".encode()  # e4 bd a0: a merged partial piece + a byte-fallback id
    ids = [piece(nihao[:2]), PAD, WORD, piece(nihao[2:])]
    assert tok.decode(ids) == "你"  # a special between the pieces does not break the character


def test_split_character_is_held_until_complete(tok):
    detok = StreamingDetokenizer(tok)
    party = "🎉".encode()  # f0 9f 8e 89
    pushed = [detok.push(piece(party[:1])), detok.push(PAD), detok.push(piece(party[1:2]))]
    pushed += [detok.push(piece(party[2:3])), detok.push(piece(party[3:]))]
    assert pushed == ["", "", "", "", "🎉"]
    ids = [piece(b" \xf0\x9f"), piece(party[2:3]), piece(party[3:]), piece(b"ing")]
    assert [detok.push(i) for i in ids] == [" ", "", "🎉", "ing"]
    assert detok.flush() == ""


@pytest.mark.parametrize(
    "raw, expected",
    [
        ([b"\xff"], ["\ufffd"]),  # never valid: replaced at once
        ([b"\xe4", b"A"], ["", "\ufffdA"]),  # lead byte cut short by ASCII
        ([b"\xf0", b"\x9f", b"\x8e", b"\xf0"], ["", "", "", "\ufffd"]),  # at most 3 bytes held
        ([b"\x89", b"!"], ["\ufffd", "!"]),  # stray continuation byte
    ],
)
def test_invalid_bytes_become_replacement_once_certain(tok, raw, expected):
    detok = StreamingDetokenizer(tok)
    assert [detok.push(piece(b)) for b in raw] == expected


def test_unfinished_character_at_end_is_replaced_by_flush(tok):
    detok = StreamingDetokenizer(tok)
    assert detok.push(piece(b"!")) + detok.push(piece(b"\xe4\xbd")) == "!"
    assert detok.flush() == "\ufffd"
    assert detok.flush() == ""


def test_streaming_equals_decode_for_random_ids(tok):
    """Any ids (specials, stray bytes, merges): joined pushes + flush == decode == bytes.decode."""
    rng = random.Random(0)
    text_ids = list(range(NUM_SPECIAL, VOCAB_SIZE))
    utf8_heavy = [piece(bytes([b])) for b in range(0x80, 0x100)] + [piece(m) for m in MERGES]
    for _ in range(500):
        pool = rng.choice([text_ids, utf8_heavy])
        ids = [
            rng.choice([BOS, EOS, PAD, WORD]) if rng.random() < 0.2 else rng.choice(pool)
            for _ in range(rng.randrange(0, 16))
        ]
        expected = b"".join(TABLE[i] for i in ids).decode("utf-8", errors="replace")
        detok = StreamingDetokenizer(tok)
        assert "".join(detok.push(i) for i in ids) + detok.flush() == expected, ids
        assert tok.decode(ids) == expected, ids


def test_valid_text_never_shows_replacement(tok):
    text = "aé你🎉\n!"
    ids = [piece(bytes([b])) for b in text.encode()]
    detok = StreamingDetokenizer(tok)
    deltas = [detok.push(i) for i in ids]
    assert "".join(deltas) == text and "\ufffd" not in "".join(deltas)


# --- word boundaries -----------------------------------------------------------------------


def events(tok: Tokenizer, ids: list[int]) -> list[TextPiece]:
    detok = StreamingDetokenizer(tok)
    return [detok.push_event(i) for i in ids]


def test_leading_space_and_first_text_start_words(tok):
    ids = [BOS, PAD, piece(b"H"), piece(b"ing"), piece(b" world"), piece(b"!"), piece(b"\n")]
    starts = [e.word_start for e in events(tok, ids)]
    assert starts == [False, False, True, False, True, False, True]


def test_streaming_word_marks_a_boundary_once(tok):
    ids = [
        WORD,
        piece(b" Hello"),
        PAD,
        WORD,
        WORD,
        piece(b"ing"),
        WORD,
        piece(b" "),
        piece(b" world"),
    ]
    got = events(tok, ids)
    assert [e.word_start for e in got] == [
        True,
        False,
        False,
        True,
        False,
        False,
        True,
        False,
        False,
    ]
    assert "".join(e.text for e in got) == " Helloing  world"


def test_word_start_on_a_held_piece(tok):
    # " \xf0\x9f" starts a word; the emoji's text arrives two pushes later, in the same word.
    ids = [piece(b" Hello"), piece(b" \xf0\x9f"), piece(b"\x8e"), piece(b"\x89")]
    assert events(tok, ids) == [(" Hello", True), (" ", True), ("", False), ("🎉", False)]


def test_flush_starts_a_new_stream(tok):
    detok = StreamingDetokenizer(tok)
    assert detok.push_event(piece(b"H")) == ("H", True)
    assert detok.push_event(piece(b"ing")) == ("ing", False)
    detok.flush()
    assert detok.push_event(piece(b"ing")) == ("ing", True)
