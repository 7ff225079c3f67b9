"""Messages from the library in the app's words. The library's errors are shared with the
command line and name its options (``--model``); a person using the app has buttons instead."""

from __future__ import annotations

import re

# (what the command line says, what the app says instead)
CLI_WORDS = (
    (re.compile(r"\bpass --model with a local folder\b"), "choose a model folder (Model…)"),
    # A server that is not there (voxtral_mlx/serve/client.py): where the app changes it.
    (
        re.compile(r"^(cannot reach the server at .*)$"),
        r"\1. Check the server's address and API key in Settings (Engine), or choose This computer there",
    ),
    # The server went away while listening: the recording is saved; Start connects again.
    (
        re.compile(r"^(the connection to the server was lost\b.*)$"),
        r"\1. Press Start to connect again, or choose This computer in Settings (Engine)",
    ),
)


def in_gui_words(message: str) -> str:
    """``message`` with each command-line remedy replaced by the app's control for it."""
    for cli, gui in CLI_WORDS:
        message = cli.sub(gui, message)
    return message


__all__ = ["in_gui_words"]
