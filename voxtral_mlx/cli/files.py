"""The command line's file path: inputs checked before the model loads, then the files that fit
a wave decoded side by side (file_batch.py), the others one by one.

Each finished file goes to :meth:`App.deliver <voxtral_mlx.cli.app.App.deliver>`, which writes
it or prints it in the order the command line gave; error lines and exit codes are
``exits.py``'s.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from voxtral_mlx.cli.exits import (
    EXIT_FAILED,
    EXIT_OK,
    StdoutError,
    fail,
    interrupted_code,
    silence_stdout,
)
from voxtral_mlx.errors import VoxtralError


def usable_inputs(files: list[Path]) -> tuple[list[Path], int]:
    """The files that exist, are regular and readable and start decoding; one line for each
    other (a FIFO is refused here, before anything could block on it)."""
    from voxtral_mlx.audio.files import iter_audio

    usable, failed = [], 0
    for path in files:
        blocks = iter_audio(path, block_seconds=1.0)
        try:
            next(blocks, None)
        except VoxtralError as e:
            failed += 1
            fail(e)
            continue
        finally:
            blocks.close()
        usable.append(path)
    return usable, failed


def run_files(app, files: list[Path]) -> int:
    """Transcribe ``files`` with ``app``'s model (waves first); the exit code."""
    from voxtral_mlx.decode.transcribe import Interrupted

    app.order = list(files)
    failed = 0
    try:
        files, failed = run_waves(app, files)
        for path in files:
            try:
                app.current = [path]
                app.transcribe(path)
            except VoxtralError as e:
                failed += 1
                app.print_in_order(path, None)
                if isinstance(e, StdoutError):
                    raise
                fail(e)
    except Interrupted as stop:
        app.print_in_order(None, None, flush_all=True)
        names = ", ".join(p.name for p in stop.paths or app.current)
        print(f"interrupted: {names}: wrote what was transcribed so far", file=sys.stderr)
        return interrupted_code()
    except StdoutError as e:
        fail(e)
        silence_stdout()
        return EXIT_FAILED  # the next files could not be printed either
    return EXIT_FAILED if failed else EXIT_OK


def run_waves(app, files: list[Path]) -> tuple[list[Path], int]:
    """Transcribe the files that fit a wave; return (files left for one-by-one, failures).

    Raises transcribe.Interrupted (with ``paths``) after writing every row's words so far.
    """
    from voxtral_mlx.audio.files import probe_duration
    from voxtral_mlx.decode.file_batch import DEFAULT_ROWS, FileBatch, WaveInterrupted, plan_waves
    from voxtral_mlx.decode.transcribe import Interrupted

    rows = app.args.batch or DEFAULT_ROWS
    if len(files) < 2 or rows < 2 or (app.args.streams or 1) > 1 or app.args.server:
        return files, 0
    batch = FileBatch(app.model, app.tokenizer, app.args.delay_ms, strict=app.args.strict)
    rows = batch.exact_rows(rows)  # rows beyond it would change words on this device
    if rows < 2:
        return files, 0
    durations = {p: probe_duration(p) for p in files}
    waves, alone = plan_waves(durations, rows)
    if not waves:
        return files, 0
    app.say(f"{sum(map(len, waves))} files: {rows} side by side, each exactly as alone")
    total = sum(durations[p] for wave in waves for p in wave)
    label = f"{sum(map(len, waves))} files side by side"
    done, failed, t0 = 0.0, 0, time.perf_counter()
    for wave in waves:
        span = sum(durations[p] for p in wave)

        def progress(fraction: float, base=done, span=span) -> None:
            seconds = base + fraction * span
            app.progress.update(label, seconds, total, seconds / (time.perf_counter() - t0))

        try:
            results = batch.transcribe(wave, app.metadata(), on_progress=progress)
        except WaveInterrupted as stop:
            app.progress.clear()
            for res in stop.results:
                _deliver(app, res)
            raise Interrupted(None, paths=wave) from None
        app.progress.clear()
        failed += sum(_deliver(app, res) for res in results)
        done += span
    singles = set(alone)
    return [p for p in files if p in singles], failed


def _deliver(app, res) -> int:
    """Write (or print) one file's transcript; 1 if it failed."""
    if res.transcript is None:
        app.print_in_order(res.path, None)
        if res.error is not None:
            fail(res.error)
        return 1
    try:
        app.deliver(res.path, res.transcript, res.damage)
    except VoxtralError as err:
        if isinstance(err, StdoutError):
            raise
        fail(err)
        return 1
    return 0
