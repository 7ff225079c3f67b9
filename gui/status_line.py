"""What the window's status line says about the transcriber, and with a server, which one.

GUI thread only; reads the :class:`~gui.bridge.EngineBridge`'s state. With this computer's
model the texts are the transcriber's states ("Listening to USB Mic"); with a server each says
which ("Listening to USB Mic · Server ws://…"), and "Connecting to the server ws://…" until
it listens (connecting may take a moment; a server that is not there is an error message).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voxtral_mlx.live.events import Status

if TYPE_CHECKING:
    from .bridge import EngineBridge

STATUS_TEXT = {
    Status.LOADING: "Loading the model…",
    Status.LISTENING: "Listening to {detail}",
    Status.IDLE: "Ready",
    Status.STOPPED: "Stopped",
}
# Before the first Start (or after another model or engine was chosen), by engine (remote?)
NOT_STARTED = {False: "Model not loaded: it loads when you press Start",
               True: "{label}: it connects when you press Start"}  # fmt: skip


def status_line(bridge: EngineBridge, status: Status, detail: str = "") -> str:
    """The status line for the transcriber's ``status`` (``detail``: what it listens to)."""
    text, label = STATUS_TEXT[status].format(detail=detail), bridge.engine_label
    if not label:
        return text
    if status is Status.LOADING or (status is Status.IDLE and bridge.busy):
        return f"Connecting to the {label[0].lower()}{label[1:]}…"  # (IDLE: about to listen)
    return f"{text} · {label}"


def idle_line(bridge: EngineBridge) -> str:
    """Not recording: ready with the transcriber there is, or what Start will do."""
    if bridge.running and not bridge.switching:
        return status_line(bridge, Status.IDLE)
    return NOT_STARTED[bridge.engine.remote].format(label=bridge.engine.label)


__all__ = ["STATUS_TEXT", "idle_line", "status_line"]
