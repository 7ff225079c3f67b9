"""What other threads ask of the live transcriber, queued for its thread: a switch or stop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KEEP: Any = type("Keep", (), {"__repr__": lambda self: "KEEP"})()  # switch(): leave unchanged
STOP = "stop"


@dataclass(frozen=True)
class Switch:
    """A new ``source``, ``delay_ms`` and/or ``draft_delay_ms`` (each may be KEEP; source None:
    go idle; draft 0 or None: drafts off); ``new_transcript``: finish the current recording
    first."""

    source: Any
    delay_ms: Any
    new_transcript: bool
    draft_delay_ms: Any = KEEP


__all__ = ["KEEP", "STOP", "Switch"]
