"""What other threads ask of the live transcriber, queued for its thread: a switch or stop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KEEP: Any = type("Keep", (), {"__repr__": lambda self: "KEEP"})()  # switch(): leave unchanged
STOP = "stop"


@dataclass(frozen=True)
class Switch:
    """A new ``source`` and/or ``delay_ms`` (either may be KEEP; source None: go idle);
    ``new_transcript``: finish the current recording first."""

    source: Any
    delay_ms: Any
    new_transcript: bool


__all__ = ["KEEP", "STOP", "Switch"]
