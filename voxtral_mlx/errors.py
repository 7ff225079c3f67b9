"""Error types whose ``str()`` is one line a user can act on.

Every error a user can cause (a bad file, a missing model, an unplugged microphone) is a
:class:`VoxtralError`; the CLI and GUI print ``str(err)`` and never a traceback (tracebacks go
to the log with ``--verbose``).
"""

from __future__ import annotations


class VoxtralError(Exception):
    """Base class: the message is a single line naming what failed and, where known, what to do."""

    def __str__(self) -> str:
        # Force one line even if a caller formats a multi-line message.
        return " ".join(super().__str__().split())


class ConfigError(VoxtralError):
    """A params.json / config.json that is missing keys or has the wrong shape."""


class WeightsError(VoxtralError):
    """A model folder that cannot be loaded: missing, truncated, wrong layout, wrong tensors."""


class AudioError(VoxtralError):
    """Audio that cannot be read or is unusable (missing file, not audio, NaN samples...)."""


class TokenizerError(VoxtralError):
    """A tekken.json that is missing or malformed."""


class DeviceError(VoxtralError):
    """An audio input that cannot be used: none found, busy, unplugged, no permission."""
