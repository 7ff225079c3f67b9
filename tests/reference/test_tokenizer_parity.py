"""Our Tekken decode against mistral-common's ``Tekkenizer.decode`` on the stand-in tekken.json.

mistral-common encodes the text (we only decode), so the ids are the ones a real Tekken model
would see for that text. Specials are ignored on both sides (SpecialTokenPolicy.IGNORE).
"""

from __future__ import annotations

import random

import pytest

pytest.importorskip("mistral_common")

from mistral_common.tokens.tokenizers.tekken import Tekkenizer  # noqa: E402

from voxtral_mlx.text.detokenizer import StreamingDetokenizer  # noqa: E402
from voxtral_mlx.text.tokenizer import Tokenizer  # noqa: E402

from .tekken_fixture import write_tekken  # noqa: E402

TEXTS = {
    "accents": "Café crème brûlée, naïve façade; Ærøskøbing, Łódź, São Paulo.",
    "cjk": "你好，世界。我们今天讨论语音识别。こんにちは、カタカナ。한국어 문장입니다.",
    "emoji": "Emoji 🎉🚀👍🏽 and a family 👨‍👩‍👧 🇫🇷!",
    "arabic": "مرحبا بالعالم، كيف حالك اليوم؟",
    "mixed": "Mixed: Ελληνικά, русский, हिन्दी, עברית 🤖 ok… “quotes” — dash ½ €5 \t\n end",
}
STREAMING_PAD, STREAMING_WORD, EOS, BOS = 32, 33, 2, 1


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory) -> tuple[Tokenizer, Tekkenizer]:
    path = write_tekken(tmp_path_factory.mktemp("tekken"))
    return Tokenizer.from_file(path.parent), Tekkenizer.from_file(path)


def _encode(mc: Tekkenizer, text: str) -> list[int]:
    return mc.encode(text, bos=False, eos=False)


def _stream(ours: Tokenizer, ids: list[int]) -> list[str]:
    detok = StreamingDetokenizer(ours)
    return [detok.push(i) for i in ids] + [detok.flush()]


def _splits_a_char(ours: Tokenizer, token_id: int) -> bool:
    try:
        ours.token_bytes(token_id).decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def test_ids_and_settings_match_mistral_common(tokenizers):
    ours, mc = tokenizers
    assert (ours.vocab_size, ours.num_special) == (mc.n_words, mc.num_special_tokens)
    assert (ours.bos_id, ours.eos_id) == (mc.bos_id, mc.eos_id) == (1, 2)
    for name, expected in [("[STREAMING_PAD]", 32), ("[STREAMING_WORD]", 33), ("<pad>", 11)]:
        assert ours.special_id(name) == mc.get_special_token(name) == expected
    assert (ours.streaming_pad_id, ours.streaming_word_id) == (32, 33)
    for token_id in [0, 33, 999, 1000, 1255, 1256, 5000, 70000, ours.vocab_size - 1]:
        assert ours.token_bytes(token_id) == mc.id_to_byte_piece(token_id)
        assert ours.is_special(token_id) == mc.is_special(token_id)
    audio = mc.audio
    assert ours.audio.encoding.sampling_rate == audio.sampling_rate
    assert ours.audio.encoding.frame_rate == audio.frame_rate
    assert ours.audio.transcription_delay_ms == audio.transcription_delay_ms
    assert ours.audio.streaming_n_left_pad_tokens == audio.streaming_n_left_pad_tokens
    assert ours.audio.streaming_look_ahead_ms == audio.streaming_look_ahead_ms
    assert ours.audio.streaming_look_back_ms == audio.streaming_look_back_ms
    assert ours.audio.encoding.hop_length == audio.encoding_config.hop_length
    assert ours.audio.encoding.window_size == audio.encoding_config.window_size
    assert ours.audio.encoding.num_mel_bins == audio.encoding_config.num_mel_bins


@pytest.mark.parametrize("name", TEXTS)
def test_decode_matches_mistral_common(tokenizers, name):
    ours, mc = tokenizers
    ids = _encode(mc, TEXTS[name])
    assert ours.decode(ids) == mc.decode(ids) == TEXTS[name]


@pytest.mark.parametrize("name", TEXTS)
def test_one_token_at_a_time_equals_full_decode(tokenizers, name):
    ours, mc = tokenizers
    ids = _encode(mc, TEXTS[name])
    deltas = _stream(ours, ids)
    assert "".join(deltas) == mc.decode(ids) == TEXTS[name]
    assert not any("\ufffd" in delta for delta in deltas)


@pytest.mark.parametrize("name", TEXTS)
def test_specials_interleaved_are_skipped(tokenizers, name):
    ours, mc = tokenizers
    ids = _encode(mc, TEXTS[name])
    pattern = [STREAMING_PAD, STREAMING_WORD, EOS, BOS]
    # After every token (even inside a split character): we skip specials and keep the bytes.
    mixed = [BOS, STREAMING_PAD]
    for k, token_id in enumerate(ids):
        mixed += [token_id, pattern[k % len(pattern)]]
    assert ours.decode(mixed) == "".join(_stream(ours, mixed)) == mc.decode(ids)
    # Only where the text so far is whole characters: mistral-common agrees on the mixed ids.
    at_boundaries = []
    for k, token_id in enumerate(ids):
        at_boundaries.append(token_id)
        if "\ufffd" not in mc.decode(ids[: k + 1]):
            at_boundaries += [STREAMING_WORD, STREAMING_PAD]
    assert at_boundaries != ids
    assert ours.decode(at_boundaries) == mc.decode(at_boundaries) == TEXTS[name]


def test_split_characters_are_held_not_mangled(tokenizers):
    ours, mc = tokenizers
    seen_split = 0
    for text in (TEXTS["cjk"], TEXTS["emoji"], TEXTS["mixed"]):
        ids = _encode(mc, text)
        detok = StreamingDetokenizer(ours)
        emitted = ""
        for k, token_id in enumerate(ids):
            emitted += detok.push(token_id)
            seen_split += _splits_a_char(ours, token_id)
            # What has come out is exactly the longest whole-character prefix of the bytes so far.
            raw = b"".join(ours.token_bytes(i) for i in ids[: k + 1])
            assert emitted == _whole_chars(raw)
            assert text.startswith(emitted)
        assert emitted + detok.flush() == text
    # The texts were chosen so that byte-fallback pieces (ids 1000..1255) and partial pieces occur.
    assert seen_split >= 5


def _whole_chars(raw: bytes) -> str:
    for cut in range(len(raw), max(len(raw) - 4, -1), -1):
        try:
            return raw[:cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
    raise AssertionError(f"no valid prefix in {raw!r}")


def test_special_inside_a_character_differs_from_mistral_common(tokenizers):
    """Deliberate: mistral-common decodes each run between specials alone; we join the bytes."""
    ours, mc = tokenizers
    emoji = "🎉".encode()
    ids = [1000 + b for b in emoji]
    split = ids[:2] + [STREAMING_PAD] + ids[2:]
    assert mc.decode(split) == "\ufffd" * 3  # f0 9f | 8e | 89: each run decoded alone
    assert ours.decode(split) == "".join(_stream(ours, split)) == "🎉"


def test_random_ids_match_mistral_common(tokenizers):
    """Arbitrary non-special ids, invalid UTF-8 included: same U+FFFD placement as tiktoken."""
    ours, mc = tokenizers
    rng = random.Random(5)
    for _ in range(200):
        ids = [
            rng.randrange(1000, 1256)
            if rng.random() < 0.5
            else rng.randrange(1256, ours.vocab_size)
            for _ in range(rng.randrange(1, 12))
        ]
        expected = mc.decode(ids)
        assert ours.decode(ids) == expected, ids
        assert "".join(_stream(ours, ids)) == expected, ids


def test_word_starts_on_real_pieces(tokenizers):
    ours, mc = tokenizers
    text = "Hello world, this is streaming transcription."
    ids = _encode(mc, text)
    words = _words(ours, ids)
    assert words == ["Hello", " world,", " this", " is", " streaming", " transcription."]
    # A [STREAMING_WORD] before each space-led piece does not double the boundaries.
    with_markers = []
    for token_id in ids:
        if ours.token_bytes(token_id).startswith(b" "):
            with_markers.append(STREAMING_WORD)
        with_markers += [token_id, STREAMING_PAD]
    assert _words(ours, with_markers) == words


def _words(ours: Tokenizer, ids: list[int]) -> list[str]:
    detok = StreamingDetokenizer(ours)
    words: list[str] = []
    for token_id in ids:
        text, word_start = detok.push_event(token_id)
        if word_start:
            words.append("")
        words[-1] += text
    words[-1] += detok.flush()
    return words
