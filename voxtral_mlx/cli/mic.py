"""``--mic`` and ``--system-audio``: live captions from a microphone or from what the computer
plays until Ctrl-C, then the transcript written (exit codes: ``main.py``'s docstring); and
``--list-devices``. What is printed while listening is ``live.py``'s (:class:`LiveDisplay`).
"""

from __future__ import annotations

import os
import queue
import sys
from pathlib import Path

from voxtral_mlx.cli.exits import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    fail,
    forget_signal,
    interrupted_code,
    polite_signals,
    stopped_by_polite_signal,
)
from voxtral_mlx.errors import VoxtralError


def bad_output(args) -> bool:
    """--mic --output and --save-audio must name a file in a folder that exists and can be
    written: said in one line before the model loads, not after an hour of captions."""
    for option, out in (("--output", args.output), ("--save-audio", getattr(args, "save_audio", None))):  # fmt: skip
        problem = _unwritable(option, out)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return True
    return False


def _unwritable(option: str, out: Path | None) -> str | None:
    if out is None:
        return None
    if out.is_dir():
        return f"{option} {out} is a folder: give a file name in it"
    if not out.parent.is_dir():
        return f"{option} {out}: the folder {out.parent} does not exist"
    if not os.access(out.parent, os.W_OK | os.X_OK):
        return f"{option} {out}: cannot write in {out.parent}"
    return None


def print_devices() -> int:
    from voxtral_mlx.audio.mic import list_devices

    try:
        devices = list_devices()
    except VoxtralError as e:
        return fail(e)
    if not devices:
        print("error: no input devices found", file=sys.stderr)
        return EXIT_FAILED
    for d in devices:
        mark = "*" if d.is_default else " "
        print(f"{mark} {d.index:3d}  {d.name}  ({d.hostapi}, {d.channels} ch, {d.default_samplerate:g} Hz)")  # fmt: skip
    return EXIT_OK


def system_audio_missing(platform: str | None = None) -> str | None:
    """Why ``--system-audio`` cannot run on ``platform`` (default: this one), in one line; None
    when it can (Linux: :class:`~voxtral_mlx.audio.system.SystemAudioSource`; macOS 13+:
    ScreenCaptureKit, :mod:`voxtral_mlx.audio.system_mac`)."""
    platform = sys.platform if platform is None else platform
    if platform.startswith("linux") or platform == "darwin":
        return None
    return (f"--system-audio is not available on {platform}: use --mic (a loopback device "
            "can route the computer's audio to it)")  # fmt: skip


def live_source(args):
    """The live recording's audio source: the computer's output with ``--system-audio``, the
    microphone ``--device`` names (None: the system's) with ``--mic``; both, labelled "You"
    and "Others" (:mod:`voxtral_mlx.live.source_set`), with both options."""
    from voxtral_mlx.audio.mic import MicSource

    if not args.system_audio:
        return MicSource(args.device)
    from voxtral_mlx.audio.system import system_audio_source
    from voxtral_mlx.live.source_set import OTHERS, YOU

    if args.mic:
        return {YOU: MicSource(args.device), OTHERS: system_audio_source()}
    return system_audio_source()


def run_mic(app) -> int:
    """Live captions until Ctrl-C (or a lost device); then the transcript is written."""
    from voxtral_mlx.audio.mic import exit_if_streams_left

    code = mic_session(app)
    exit_if_streams_left(code)  # a device that never let go would hang the interpreter's exit
    return code


def mic_session(app) -> int:
    """:func:`run_mic` without the exit-time device check: ``app`` loads the model on the
    transcriber's thread (the source: :func:`live_source`), events are shown until the recording stops; the exit code."""
    from voxtral_mlx.cli.live import LiveDisplay
    from voxtral_mlx.live.events import ErrorEvent, Status, StatusEvent, TranscriptEvent

    display = LiveDisplay(app.out, app.err, app.args.quiet)
    live = _start(app)
    # A polite kill (SIGTERM) or a closed terminal (SIGHUP) ends the recording like Ctrl-C:
    # the last words are kept; the exit code then names the signal.
    forget_signal()
    with polite_signals():
        failed = stopping = False
        finished = None
        while True:
            try:
                try:
                    event = live.events.get(timeout=0.2)
                except queue.Empty:
                    continue
                display.show(event)
                failed |= isinstance(event, ErrorEvent) and event.fatal
                finished = event if isinstance(event, TranscriptEvent) else finished
                if isinstance(event, StatusEvent) and event.status is Status.STOPPED:
                    break
            except KeyboardInterrupt:
                if stopping:
                    return _interrupted_again(live)
                stopping = True
                display.note("stopping: transcribing the last words...")
                live.stop()
        try:
            live.join()
        except KeyboardInterrupt:  # a Ctrl-C while it writes the transcript: as a second one above
            return _interrupted_again(live)
    if finished is not None:
        try:
            _write_live(app, finished, display)
        except VoxtralError as e:
            return fail(e)
    if stopped_by_polite_signal():
        return interrupted_code()
    return EXIT_FAILED if failed else EXIT_OK


def _start(app):
    """The live transcriber on the chosen source, started; it loads ``app``'s model. The
    transcript's metadata ``source`` is the source's name (the device, or "system audio")."""
    from voxtral_mlx.live.engine import LiveTranscriber
    from voxtral_mlx.protocol import live_delays

    def load():
        app.load()  # on the transcriber's thread, which then owns the model
        return app.model, app.tokenizer

    load.description = str(app.args.model)
    delay, draft = live_delays(app.args.delay_ms, app.args.draft_delay_ms)
    if app.args.server:
        from voxtral_mlx.serve.client import remote_loader

        load, delay, draft = remote_loader(app.args.server, app.args.api_key), None, None
    live = LiveTranscriber(load, live_source(app.args), delay_ms=delay, draft_delay_ms=draft,
                           metadata={"model": app.args.server or str(app.args.model)},
                           save_audio=getattr(app.args, "save_audio", None))  # fmt: skip
    live.start()
    return live


def _interrupted_again(live) -> int:
    where = live.journal or "the autosave folder"
    print(f"interrupted again: {where} has what was transcribed", file=sys.stderr)
    return EXIT_INTERRUPTED


def _write_live(app, finished, display) -> None:
    """The outputs asked for, then the kept audio's and the autosaved transcript's paths
    (always)."""
    try:
        _write_outputs(app, finished, display)
    finally:  # where the words are, whatever else happened (--quiet too)
        if finished.transcript.metadata.get("audio"):
            display.note(f"audio kept in {finished.transcript.metadata['audio']}", always=True)
        if finished.path is not None:
            display.note(f"autosaved {finished.path}", always=True)


def _write_outputs(app, finished, display) -> None:
    """--output FILE, or --format into --output-dir (default: here) named like the autosave."""
    from voxtral_mlx.text import writers

    args, transcript = app.args, finished.transcript
    if args.output is not None:
        suffix = args.output.suffix.lstrip(".").lower()
        fmt = args.format or (suffix if suffix in writers.FORMATS else "txt")
        formats = writers.FORMATS if fmt == "all" else (fmt,)
        for f in formats:
            target = args.output if len(formats) == 1 else args.output.with_suffix(f".{f}")
            display.note(f"wrote {writers.WRITERS[f](transcript, target)}")
    elif args.format is not None:
        stem = finished.journal.stem if finished.journal else "live"
        for written in writers.write(
            transcript, stem, [args.format], args.output_dir or Path.cwd()
        ):
            display.note(f"wrote {written}")
