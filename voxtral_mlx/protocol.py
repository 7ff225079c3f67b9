"""Facts of the realtime protocol that need no model: the delay range and the padding.

No MLX import here, so the command line can check its arguments before anything loads.
"""

from __future__ import annotations

from .errors import VoxtralError

MIN_DELAY_MS, MAX_DELAY_MS = 80, 2400
DELAY_STEP_MS = 80  # one token
RIGHT_PAD_EXTRA_TOKENS = 10  # mistral-common's OFFLINE_STREAMING_BUFFER_TOKENS


def valid_delay_ms(ms: int) -> bool:
    return MIN_DELAY_MS <= ms <= MAX_DELAY_MS and ms % DELAY_STEP_MS == 0


def check_delay_ms(ms: int) -> int:
    """``ms`` as an int, or a one-line VoxtralError saying what is allowed."""
    if not valid_delay_ms(ms):
        raise VoxtralError(
            f"delay must be a multiple of {DELAY_STEP_MS} ms from {MIN_DELAY_MS} to "
            f"{MAX_DELAY_MS}, got {ms}"
        )
    return int(ms)
