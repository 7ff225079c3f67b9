"""Reading a model folder's JSON files: every way one can be broken is one line naming it.

``json`` raises several types for bad input (ValueError for syntax and for integers over
4300 digits, RecursionError for deep nesting, UnicodeDecodeError for non-UTF-8 bytes); a
model folder may come from anywhere, so all of them become the caller's VoxtralError.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from voxtral_mlx.errors import VoxtralError


def parse_json(raw: str | bytes, where: str, error: type[VoxtralError]) -> Any:
    """``raw`` parsed, or ``error("{where}: not JSON (...)")``."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise error(f"{where}: not JSON (nested too deeply)") from None
    except UnicodeError:
        raise error(f"{where}: not JSON (not UTF-8 text)") from None
    except json.JSONDecodeError as e:
        raise error(f"{where}: not JSON ({e.msg}, line {e.lineno})") from None
    except ValueError as e:  # e.g. an integer too long to convert
        raise error(f"{where}: not JSON ({e})") from None


def read_json_object(path: Path, error: type[VoxtralError]) -> dict[str, Any]:
    """The JSON object in ``path``; a missing/unreadable file, bad JSON or a non-object is ``error``."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror or e})") from None
    data = parse_json(raw, str(path), error)
    if not isinstance(data, dict):
        raise error(f"{path}: expected a JSON object at the top level, got {type(data).__name__}")
    return data
