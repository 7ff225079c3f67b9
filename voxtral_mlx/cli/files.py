"""The command line's batched file path: several files decoded side by side (file_batch.py).

Printing and exit codes stay in cli.py; this module decides which files share waves and hands
each finished file back to the CLI's writer, in the order the command line gave them.
"""

from __future__ import annotations

import time
from pathlib import Path

from voxtral_mlx.errors import VoxtralError


def run_waves(app, files: list[Path]) -> tuple[list[Path], int]:
    """Transcribe the files that fit a wave; return (files left for one-by-one, failures).

    Raises transcribe.Interrupted (with ``paths``) after writing every row's words so far.
    """
    from voxtral_mlx.audio.files import probe_duration
    from voxtral_mlx.decode.file_batch import DEFAULT_ROWS, FileBatch, WaveInterrupted, plan_waves
    from voxtral_mlx.decode.transcribe import Interrupted

    rows = app.args.batch or DEFAULT_ROWS
    if len(files) < 2 or rows < 2 or (app.args.streams or 1) > 1:
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
    from voxtral_mlx.cli.main import StdoutError, _fail

    if res.transcript is None:
        app.print_in_order(res.path, None)
        if res.error is not None:
            _fail(res.error, app.args)
        return 1
    try:
        app.deliver(res.path, res.transcript, res.damage)
    except VoxtralError as err:
        if isinstance(err, StdoutError):
            raise
        _fail(err, app.args)
        return 1
    return 0
