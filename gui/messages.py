"""Messages from the library in the app's words. The library's errors are shared with the
command line and name its options (``--model``); a person using the app has buttons instead."""

from __future__ import annotations

import re

# (what the command line says, what the app says instead)
CLI_WORDS = (
    (re.compile(r"\bpass --model with a local folder\b"), "choose a model folder (Model…)"),
)


def in_gui_words(message: str) -> str:
    """``message`` with each command-line remedy replaced by the app's control for it."""
    for cli, gui in CLI_WORDS:
        message = cli.sub(gui, message)
    return message


__all__ = ["in_gui_words"]
