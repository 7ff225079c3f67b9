"""Damaged spans of an audio file: what was lost, where, and the one warning line that says so.

Readers report each damaged span to a :class:`DamageLog`, which either raises AudioError
(``strict``) or merges nearby spans and hands them to the caller's ``on_damage`` callback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from voxtral_mlx.errors import AudioError

# Spans closer than this are one span to a reader of the warning (a burst of bad frames).
MERGE_GAP_S = 1.0

NONFINITE = "NaN/Inf samples"
CORRUPT = "corrupt frames"
TRUNCATED = "file truncated"


@dataclass(frozen=True)
class Damage:
    """A damaged span in seconds of the file's own timeline; ``end_s`` None: to the end.

    ``spans`` > 1 when several spans were merged into this one (see :func:`summarize_damage`).
    """

    path: str
    start_s: float
    end_s: float | None
    reason: str
    spans: int = 1

    def message(self) -> str:
        """One warning line, e.g. ``talk.flac: damaged audio from 0:31.2 to 0:31.5 (corrupt
        frames); transcribed the rest``."""
        kept = "what came before" if self.reason == TRUNCATED else "the rest"
        return f"{self.path}: {self.describe()}; transcribed {kept}"

    def describe(self) -> str:
        """The span without the file name, e.g. ``damaged audio at 0:02.0 (corrupt frames)``."""
        where = f"in {self.spans} places " if self.spans > 1 else ""
        start = format_time(self.start_s)
        end = "the end" if self.end_s is None else format_time(self.end_s)
        span = f"at {start}" if end == start else f"from {start} to {end}"
        return f"damaged audio {where}{span} ({self.reason})"


def format_time(seconds: float) -> str:
    """``m:ss.s``, or ``h:mm:ss.s`` from an hour on."""
    tenths = round(seconds * 10)
    minutes, rest = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    sec = f"{rest // 10:02d}.{rest % 10}"
    return f"{hours}:{minutes:02d}:{sec}" if hours else f"{minutes}:{sec}"


def summarize_damage(damages: Iterable[Damage]) -> Damage | None:
    """All of a file's spans as one: first start to last end, reasons joined, spans counted.

    For callers that print at most one line per file; None when there was no damage.
    """
    items = sorted(damages, key=lambda d: d.start_s)
    if not items:
        return None
    out = items[0]
    for item in items[1:]:
        out = _merge(out, item)
    return out


def _merge(a: Damage, b: Damage) -> Damage:
    reasons = list(dict.fromkeys(a.reason.split("; ") + b.reason.split("; ")))
    ends = [a.end_s, b.end_s]
    end = None if None in ends else max(ends)
    return Damage(a.path, min(a.start_s, b.start_s), end, "; ".join(reasons), a.spans + b.spans)


class DamageLog:
    """One file's damage: raises when strict, else merges nearby spans into ``on_damage`` calls.

    Call :meth:`close` when the file is done to deliver the last span.
    """

    def __init__(self, path, strict: bool, on_damage: Callable[[Damage], None] | None):
        self.path = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
        self.strict = strict
        self.on_damage = on_damage
        self._pending: Damage | None = None

    def report(self, start_s: float, end_s: float | None, reason: str, error: str = "") -> None:
        """Record a span; ``error`` is the strict-mode message (after the file name)."""
        damage = Damage(self.path, start_s, end_s, reason)
        if self.strict:
            raise AudioError(f"{self.path}: {error or damage.describe()}")
        pending = self._pending
        if pending is not None and pending.end_s is not None:
            if start_s - pending.end_s <= MERGE_GAP_S:
                merged = _merge(pending, damage)
                # Adjacent pieces of one burst are one span, not several.
                self._pending = Damage(**{**merged.__dict__, "spans": pending.spans})
                return
        self._flush()
        self._pending = damage

    def close(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if self._pending is not None and self.on_damage is not None:
            self.on_damage(self._pending)
        self._pending = None


def repair_nonfinite(block: np.ndarray, start: int, rate: int, log: DamageLog) -> np.ndarray:
    """NaN/Inf samples -> 0.0 (silence), each run reported; ``start`` is the block's first sample."""
    bad = ~np.isfinite(block)
    if not bad.any():
        return block
    edges = np.flatnonzero(np.diff(np.concatenate([[0], bad.view(np.int8), [0]])))
    for first, stop in zip(edges[::2], edges[1::2], strict=True):
        a, b = (start + int(first)) / rate, (start + int(stop)) / rate
        log.report(a, b, NONFINITE, f"contains NaN or infinite samples (first at {a:.3f} s)")
    block = block.copy()
    block[bad] = 0.0
    return block
