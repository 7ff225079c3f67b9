"""Tokenizer behaviour on tiny hand-made tekken.json files (no mistral-common needed).

Expected text is computed independently from the byte table (tekken_table.py) with
``bytes.decode``; streaming text is tested in test_detokenizer.py.
"""

from __future__ import annotations

import base64
import json

import pytest

from voxtral_mlx.errors import TokenizerError
from voxtral_mlx.text.tokenizer import AudioSettings, Tokenizer

from .tekken_table import (
    BOS,
    EOS,
    MERGES,
    NUM_SPECIAL,
    PAD,
    VOCAB_SIZE,
    WORD,
    make_tekken,
    piece,
    write,
)

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
    assert tok.audio.encoding.sampling_rate == 16000 and tok.audio.encoding.hop_length == 160


@pytest.mark.parametrize("key", ["audio_encoding_config", "encoding_config", None])
def test_audio_spectrogram_key_variants(tmp_path, key):
    data = make_tekken()
    spectrogram = data["audio"].pop("audio_encoding_config")
    if key:
        data["audio"][key] = {**spectrogram, "hop_length": 320}
    tok = Tokenizer.from_file(write(tmp_path, data))
    assert tok.audio.encoding.hop_length == (320 if key else 160)
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


# --- decode ------------------------------------------------------------------------


def test_decode_skips_specials_and_joins_bytes(tok):
    ids = [BOS, PAD, piece(b" Hello"), WORD, piece(b" world"), piece(b"!"), EOS]
    assert tok.decode(ids) == " Hello world!"
    nihao = "你".encode()  # e4 bd a0: a merged partial piece + a byte-fallback id
    ids = [piece(nihao[:2]), PAD, WORD, piece(nihao[2:])]
    assert tok.decode(ids) == "你"  # a special between the pieces does not break the character
