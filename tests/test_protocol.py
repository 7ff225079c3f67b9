"""The stream protocol's numbers in one place (voxtral_mlx/protocol.py), without MLX."""

from __future__ import annotations

import subprocess
import sys

import pytest

from voxtral_mlx.config import ModelConfig
from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.protocol import StreamProtocol
from voxtral_mlx.testing import tekken_dict, tiny_params
from voxtral_mlx.text.tokenizer import Tokenizer


@pytest.fixture
def parts(tmp_path):
    import json

    (tmp_path / "tekken.json").write_text(json.dumps(tekken_dict()))
    return ModelConfig.from_dict(tiny_params()), Tokenizer.from_file(tmp_path / "tekken.json")


def test_prompt_padding_and_token_times(parts):
    config, tok = parts
    p = StreamProtocol.of(config, tok)  # the tokenizer's 480 ms: 6 tokens of 80 ms
    assert (p.delay_ms, p.n_delay, p.n_left) == (480, 6, 32)
    assert p.prompt == (tok.bos_id,) + (tok.streaming_pad_id,) * 38
    assert p.right_pad_tokens == 6 + 1 + 10 and p.token_seconds == 0.08
    assert p.token_sample(38) == 0 and p.token_sample(39) == 1280  # the first real audio
    assert p.token_sample(0) < 0  # inside the left padding
    assert StreamProtocol.of(config, tok, delay_ms=2400).n_delay == 30
    for bad in (0, 81, 2480):
        with pytest.raises(VoxtralError, match="multiple of 80"):
            StreamProtocol.of(config, tok, delay_ms=bad)


def test_no_mlx_needed():
    code = "import sys, voxtral_mlx.protocol; print('mlx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
