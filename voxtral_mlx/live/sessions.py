"""The session a live source is transcribed with: its delay, and the draft row beside it.

Drafts run only where they are ahead of the final text (a draft at the final delay or later
would show nothing new); a draft delay off the grid is reported once and turns drafts off; a
bad final delay is reported and the model's own is used. MLX thread only (it builds the model's
session state).
"""

from __future__ import annotations

from collections.abc import Callable

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.protocol import check_delay_ms


def open_session(model, tokenizer, delay_ms: int | None, draft_ms: int | None,
                 on_error: Callable[[str], None], group=None) -> tuple:  # fmt: skip
    """The session (a ``StreamingSession``, in ``group``: a ``SessionGroup`` shared with the
    other sources' sessions, or None), and the draft setting to keep (None once a bad one was
    reported)."""
    if hasattr(model, "open_session"):  # a server in place of the model (serve/client.py)
        if draft_ms:
            on_error("drafts need the model here: with a server there are none")
        return model.open_session(delay_ms), None
    # Imported here: the GUI imports the live engine, and must not import MLX (style rule 5).
    from voxtral_mlx.decode.audio_pipeline import LIVE_BLOCK
    from voxtral_mlx.decode.session import StreamingSession

    try:
        if draft_ms:
            check_delay_ms(draft_ms)
    except VoxtralError as err:
        on_error(f"draft {err}; drafts are off")
        draft_ms = None
    try:
        session = StreamingSession(model, tokenizer, delay_ms, LIVE_BLOCK, group=group,
                                   draft_delay_ms=_ahead(tokenizer, delay_ms, draft_ms))  # fmt: skip
    except VoxtralError as err:  # a bad delay: say so, keep the model's default
        on_error(str(err))
        session = StreamingSession(model, tokenizer, None, LIVE_BLOCK, group=group,
                                   draft_delay_ms=_ahead(tokenizer, None, draft_ms))  # fmt: skip
    return session, draft_ms


def _ahead(tokenizer, delay_ms: int | None, draft_ms: int | None) -> int | None:
    final = tokenizer.audio.transcription_delay_ms if delay_ms is None else delay_ms
    return draft_ms if draft_ms and draft_ms < final else None


__all__ = ["open_session"]
