"""The text tests' tiny tokenizer (tests/text/tekken_table.py), as a fixture."""

from __future__ import annotations

import pytest

from tests.text.tekken_table import make_tekken, write
from voxtral_mlx.text.tokenizer import Tokenizer


@pytest.fixture
def tok(tmp_path) -> Tokenizer:
    return Tokenizer.from_file(write(tmp_path, make_tekken()))
