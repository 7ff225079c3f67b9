"""What the live transcriber listens to: one source, or several at once, each with a label.

A plain source (or iterable of chunks) is one unlabelled source: events and words carry no
label. A mapping ``{label: source}`` is several at once (``{"You": MicSource(...), "Others":
SystemAudioSource()}``): each is transcribed by its own rows of one batch, and its events and
words carry its label. :data:`YOU` is the microphone's label and :data:`OTHERS` the
computer's audio's: when both are on, the microphone's words that are the computer's audio
heard through loudspeakers are dropped (``voxtral_mlx.audio.echo``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voxtral_mlx.audio.sources import AudioSource, as_source

YOU, OTHERS = "You", "Others"


def as_sources(spec: Any) -> dict[str | None, AudioSource]:
    """``{label: source}``; a single source is ``{None: source}``. None: no source (``{}``)."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return {str(label): as_source(source) for label, source in spec.items()}
    return {None: as_source(spec)}


def describe(sources: Mapping[str | None, AudioSource]) -> str:
    """One line naming the sources: ``MacBook Mic`` or ``You: MacBook Mic, Others: system audio``."""
    return ", ".join(s.name if k is None else f"{k}: {s.name}" for k, s in sources.items())


__all__ = ["OTHERS", "YOU", "as_sources", "describe"]
