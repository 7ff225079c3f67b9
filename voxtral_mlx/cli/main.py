"""Command line: ``python -m voxtral_mlx FILE [FILE ...]``, or ``--mic`` (``--system-audio``:
what the computer plays) for live captions.

Exit codes: 0 all files transcribed; 1 a file (or the model) failed, the others were still
processed; 2 usage error; 130 interrupted by Ctrl-C (what was transcribed so far is written).
With ``--mic`` or ``--system-audio``, Ctrl-C is how a recording ends: 0 once the transcript is
written, 1 if the device or model failed (what was transcribed is still written), 130 on a
second Ctrl-C.

This module only dispatches; the pieces are beside it: ``args.py`` (the parser), ``app.py``
(the model and every file's output), ``files.py`` (the file path), ``mic.py`` (``--mic``,
``--system-audio``, ``--list-devices``), ``exits.py`` (exit codes, error lines, signals).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from voxtral_mlx.cli.app import App
from voxtral_mlx.cli.args import build_parser
from voxtral_mlx.cli.exits import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    fail,
    interrupted_code,
    polite_signals,
)
from voxtral_mlx.cli.files import run_files, usable_inputs
from voxtral_mlx.cli.mic import bad_output, print_devices, system_audio_missing
from voxtral_mlx.cli.mic import mic_session as _mic_session
from voxtral_mlx.cli.mic import run_mic as _run_mic
from voxtral_mlx.env import full_float32
from voxtral_mlx.errors import VoxtralError

# What callers read here: the entry point, its parser and App, the exit codes, and the seams
# tests plug into (main() calls _run_mic; _mic_session is it without the exit-time check for
# devices that never let go).
__all__ = ["main", "build_parser", "App", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE",
           "EXIT_INTERRUPTED", "_run_mic", "_mic_session"]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:  # a command of its own, with its own options
        from voxtral_mlx.cli import serve

        return serve.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")  # fmt: skip
    if args.dtype == "float32":
        full_float32()  # before MLX is imported or initialised
    if args.self_test:
        from voxtral_mlx.cli import self_test

        return self_test.run(out=sys.stdout, err=sys.stderr)  # the streams of now, not of import
    if args.list_devices:
        return print_devices()
    if args.mic or args.system_audio:
        return _live(parser, args)
    if not args.files and not args.info:
        parser.print_usage(sys.stderr)
        print("error: give at least one FILE (or --info)", file=sys.stderr)
        return EXIT_USAGE
    return _files_or_info(App(args))


def _live(parser, args) -> int:
    """--mic or --system-audio: its arguments checked (before the model loads), then recorded."""
    if args.files:
        parser.print_usage(sys.stderr)
        option = "--system-audio" if args.system_audio and not args.mic else "--mic"
        print(f"error: {option} takes no FILE", file=sys.stderr)
        return EXIT_USAGE
    missing = system_audio_missing() if args.system_audio else None
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return EXIT_USAGE
    if bad_output(args):  # now, not when the recording ends
        return EXIT_USAGE
    return _run_mic(App(args))


def _files_or_info(app: App) -> int:
    """Transcribe the command line's files (or describe the model with --info)."""
    args = app.args
    try:
        with polite_signals():
            # Inputs are checked before the model loads (or downloads: 8.9 GB on a first run).
            files, unusable = usable_inputs([Path(f) for f in args.files])
            if args.files and not files:
                return EXIT_FAILED
            app.load()
            if args.info:
                return app.info()
            code = run_files(app, files)
            return EXIT_FAILED if unusable and code == EXIT_OK else code
    except VoxtralError as e:
        return fail(e)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return interrupted_code()
