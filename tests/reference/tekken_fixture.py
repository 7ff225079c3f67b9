"""A stand-in Voxtral Realtime tekken.json built from the vocab that mistral-common ships.

The real tekken.json is not available offline. This reuses the 150k byte-level BPE vocab of
``mistral_common/data/tekken_240911.json`` and adds what the realtime model needs: 1000 special
tokens with the ids every port agrees on (``<s>``=1, ``</s>``=2, ``<pad>``=11, ``[AUDIO]``=24,
``[BEGIN_AUDIO]``=25, ``[STREAMING_PAD]``=32, ``[STREAMING_WORD]``=33) and the ``audio`` block
(adapted from ``shared/reference/oracle-make-tekken.py``). Whether the real file's BPE vocab and
other special ranks are the same is unverified.

Use ``write_tekken(tmp_path)`` from tests (the CLI end-to-end tests reuse it).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import mistral_common

SOURCE = Path(mistral_common.__file__).parent / "data" / "tekken_240911.json"

SPECIAL_NAMES = {
    0: "<unk>",
    1: "<s>",
    2: "</s>",
    3: "[INST]",
    4: "[/INST]",
    5: "[AVAILABLE_TOOLS]",
    6: "[/AVAILABLE_TOOLS]",
    7: "[TOOL_RESULTS]",
    8: "[/TOOL_RESULTS]",
    9: "[TOOL_CALLS]",
    10: "[IMG]",
    11: "<pad>",
    12: "[IMG_BREAK]",
    13: "[IMG_END]",
    14: "[PREFIX]",
    15: "[MIDDLE]",
    16: "[SUFFIX]",
    17: "[SYSTEM_PROMPT]",
    18: "[/SYSTEM_PROMPT]",
    19: "[TOOL_CONTENT]",
    20: "[ARGS]",
    21: "[CALL_ID]",
    24: "[AUDIO]",
    25: "[BEGIN_AUDIO]",
    32: "[STREAMING_PAD]",
    33: "[STREAMING_WORD]",
    34: "[TRANSCRIBE]",
}

AUDIO = {
    "sampling_rate": 16000,
    "frame_rate": 12.5,
    "audio_encoding_config": {"num_mel_bins": 128, "hop_length": 160, "window_size": 400},
    "chunk_length_s": None,
    "transcription_format": "streaming",
    "transcription_delay_ms": 480,
    "streaming_look_ahead_ms": 2.5,
    "streaming_look_back_ms": 52.5,
    "streaming_n_left_pad_tokens": 32,
}


@functools.lru_cache(maxsize=1)
def _tekken_text(version: str) -> str:
    data = json.loads(SOURCE.read_text(encoding="utf-8"))
    data["special_tokens"] = [
        {"rank": i, "token_str": SPECIAL_NAMES.get(i, f"<SPECIAL_{i}>"), "is_control": True}
        for i in range(1000)
    ]
    data["config"]["version"] = version
    data.pop("image", None)
    data["audio"] = AUDIO
    return json.dumps(data)


def write_tekken(path: str | Path, version: str = "v7") -> Path:
    """Write the stand-in to ``path`` (a folder gets ``path/tekken.json``); return the file."""
    path = Path(path)
    if path.is_dir():
        path = path / "tekken.json"
    path.write_text(_tekken_text(version), encoding="utf-8")
    return path
