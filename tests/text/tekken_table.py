"""A tiny hand-made tekken.json and its byte table, for the tokenizer and detokenizer tests.

Expected text is computed independently from this byte table with ``bytes.decode``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

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
