"""Command line: ``python -m voxtral_mlx FILE [FILE ...]``, or ``--mic`` for live captions.
Printing and exit codes live here.

Exit codes: 0 all files transcribed; 1 a file (or the model) failed, the others were still
processed; 2 usage error; 130 interrupted by Ctrl-C (what was transcribed so far is written).
With ``--mic``, Ctrl-C is how a recording ends: 0 once the transcript is written, 1 if the
device or model failed (what was transcribed is still written), 130 on a second Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import signal
import sys
import threading
import time
from pathlib import Path

from voxtral_mlx.checkpoint.resolve import DEFAULT_REPO
from voxtral_mlx.env import full_float32
from voxtral_mlx.errors import VoxtralError

log = logging.getLogger("voxtral_mlx")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_MODEL = DEFAULT_REPO

EPILOG = """\
examples:
  python -m voxtral_mlx talk.m4a                      print the transcript
  python -m voxtral_mlx talk.m4a --format srt         write talk.srt next to talk.m4a
  python -m voxtral_mlx *.wav --format all -o out/    txt, srt, vtt and json for each file
  python -m voxtral_mlx talk.wav --model ~/models/voxtral --delay-ms 960
  python -m voxtral_mlx --mic                         live captions from the default microphone
  python -m voxtral_mlx --mic --device usb --output meeting.srt   Ctrl-C stops and writes it

exit codes: 0 ok, 1 some file failed (the others are still done), 2 usage, 130 Ctrl-C
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m voxtral_mlx",
        description="On-device speech-to-text with Voxtral Mini 4B Realtime on MLX.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="audio or video files to transcribe")
    p.add_argument(
        "-f",
        "--format",
        choices=["txt", "srt", "vtt", "json", "all"],
        default=None,
        help="write FILE.<format> (default: print the text to stdout)",
    )
    p.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        default=None,
        help="where output files go (default: next to each input)",
    )
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"model folder or Hugging Face repo id (default: {DEFAULT_MODEL})",
    )
    p.add_argument(
        "--bits",
        type=int,
        choices=[4, 8, 16],
        default=4,
        help="for a Hugging Face model: convert it once to 4-bit (default) or 8-bit, or keep 16-bit",
    )
    p.add_argument(
        "--delay-ms",
        type=_delay_ms,
        default=None,
        help="transcription delay, 80-2400 in steps of 80 (default: the model's, 480)",
    )
    p.add_argument(
        "--dtype",
        choices=["float32", "bfloat16", "float16"],
        default=None,
        help="compute dtype (default: float32 on CPU, bfloat16 on GPU); float32 is float32 on "
        "every device (MLX's TF32 matmuls are turned off)",
    )
    p.add_argument(
        "--streams",
        type=_row_count,
        default=None,
        metavar="N",
        help="speed option for files of 16 s or more: cut them at pauses into N pieces decoded "
        "side by side (several times faster on a GPU; the text may differ from the model's "
        "single-stream words near the cuts). Default 1: one stream, the model's exact words",
    )
    p.add_argument(
        "--batch",
        type=_row_count,
        default=None,
        metavar="N",
        help="several files: decode up to N files of up to 60 s side by side, each exactly as "
        "alone (default: 8; 1 = one file at a time)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="a damaged file (corrupt frames, cut-off tail, NaN samples) is an error; by default "
        "what decodes is transcribed and one warning line names the damaged span",
    )
    p.add_argument("--info", action="store_true", help="load the model, describe it, and exit")
    p.add_argument(
        "--self-test",
        action="store_true",
        help="try everything without the download: a tiny random model transcribes the bundled "
        "sample, the live path and every output format (its words are random)",
    )
    p.add_argument("--mic", action="store_true", help="transcribe the microphone live until Ctrl-C")
    p.add_argument(
        "--device",
        default=None,
        metavar="NAME",
        help="--mic input device: index or part of its name (default: the system's)",
    )
    p.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="--mic: write the transcript to FILE (format: --format, else FILE's suffix)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or status on stderr")
    p.add_argument("--verbose", action="store_true", help="log details and tracebacks to stderr")
    return p  # fmt: skip


def _delay_ms(text: str) -> int:
    from voxtral_mlx.protocol import MAX_DELAY_MS, MIN_DELAY_MS, valid_delay_ms

    try:
        ms = int(text)
    except ValueError:
        ms = 0
    if not valid_delay_ms(ms):
        raise argparse.ArgumentTypeError(
            f"expected a multiple of 80 from {MIN_DELAY_MS} to {MAX_DELAY_MS}, got {text!r}"
        )
    return ms


def _row_count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 64, got {text!r}")
    return n


class ProgressLine:
    """One self-rewriting status line on stderr; silent unless stderr is a terminal."""

    def __init__(self, stream, enabled: bool):
        self.stream = stream
        self.enabled = enabled and stream.isatty()
        self._last = 0.0

    def update(
        self, name: str, done: float, total: float | None, speed: float, unit: str = ""
    ) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.2:
            return
        self._last = now
        pct = f" {100 * done / total:3.0f}%" if total else ""
        if unit:  # a count, e.g. tensors converted
            line = f"{name}: {done}/{total} {unit}{pct}"
        else:
            of = f" / {_clock(total)}" if total else ""
            line = f"{name}: {_clock(done)}{of}{pct}  {speed:.1f}x real time"
        self.stream.write(f"\r{line}\x1b[K")
        self.stream.flush()

    def clear(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _clock(seconds: float) -> str:
    s = int(seconds)
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


class App:
    """Loads the model once and transcribes files one by one. All output goes through here."""

    def __init__(self, args: argparse.Namespace, out=None, err=None):
        self.args = args
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.progress = ProgressLine(self.err, not args.quiet)
        self.model = self.tokenizer = None
        self.order: list[Path] = []  # files whose printed transcript is still to come, in order
        self.held: dict[Path, str | None] = {}  # finished before an earlier file: waiting
        self.current: list[Path] = []  # the files being transcribed now

    def say(self, msg: str) -> None:
        if not self.args.quiet:
            print(msg, file=self.err)

    def load(self) -> None:
        import mlx.core as mx

        from voxtral_mlx.checkpoint import weights
        from voxtral_mlx.checkpoint.cache import model_folder
        from voxtral_mlx.text.tokenizer import Tokenizer

        folder = model_folder(
            self.args.model, bits=self.args.bits, on_progress=self._convert_progress
        )
        self.progress.clear()
        dtype = getattr(mx, self.args.dtype) if self.args.dtype else weights.default_dtype()
        t0 = time.perf_counter()
        if not self.args.info:  # --info describes from the config and headers: no tensor read
            self.model, self.config = weights.load(folder, dtype=dtype)
        self.folder, self.dtype = folder, dtype
        try:
            self.tokenizer = Tokenizer.from_file(folder)
        except VoxtralError as e:
            if not self.args.info:  # describing a model folder works without its tokenizer
                raise
            self.tokenizer_error = str(e)
        log.info("model %s loaded in %.2f s (%s)", folder, time.perf_counter() - t0, dtype)

    def _convert_progress(self, stage: str, done: int, total: int) -> None:
        if done == 1:
            self.say(f"{stage} the model for this machine (once; later starts load it directly)")
        self.progress.update(stage, done, total, 0.0, unit="tensors")

    def info(self) -> int:
        import mlx.core as mx

        from voxtral_mlx.checkpoint.info import describe

        for line in describe(self.folder):  # from the config and headers: any size, quantized
            print(line, file=self.out)
        print(f"runtime    dtype {self.dtype}, device {mx.default_device()}", file=self.out)
        if self.tokenizer is None:
            print(f"tokenizer  unusable: {self.tokenizer_error}", file=self.out)
        else:
            tok = self.tokenizer
            print(f"tokenizer  {tok.vocab_size} ids ({tok.num_special} special), "
                  f"delay {tok.audio.transcription_delay_ms} ms", file=self.out)  # fmt: skip
        return EXIT_OK

    def transcribe(self, path: Path) -> None:
        """One file; raises VoxtralError (reported by the caller) or Interrupted."""
        from voxtral_mlx.audio.files import probe_duration
        from voxtral_mlx.decode.transcribe import Interrupted, transcribe_file

        name = path.name
        meta = self.metadata()
        damage: list = []
        try:
            transcript = transcribe_file(
                path, self.model, self.tokenizer, delay_ms=self.args.delay_ms,
                duration=probe_duration(path), metadata=meta, streams=self.args.streams,
                on_progress=lambda p: self.progress.update(name, p.audio_done, p.audio_total, p.speed),
                strict=self.args.strict, on_damage=damage.append,
            )  # fmt: skip
        except Interrupted as stop:
            self.progress.clear()
            self.deliver(path, stop.transcript, damage)
            raise
        self.progress.clear()
        self.deliver(path, transcript, damage)

    def metadata(self) -> dict:
        return {"model": str(self.args.model), "dtype": str(self.dtype).removeprefix("mlx.core.")}

    def deliver(self, path: Path, transcript, damage: list) -> None:
        """One file's transcript written (or printed in order), after one warning line if its
        audio was damaged (the json keeps every span)."""
        from dataclasses import replace

        from voxtral_mlx.audio.damage import summarize_damage
        from voxtral_mlx.text import writers

        if damage:
            print(f"warning: {summarize_damage(damage).message()}", file=self.err)
            spans = [{"start": d.start_s, "end": d.end_s, "reason": d.reason} for d in damage]
            transcript = replace(transcript, metadata={**transcript.metadata, "damaged": spans})
        fmt = self.args.format or ("txt" if self.args.output_dir else None)
        if fmt is None:
            self.print_in_order(path, transcript.text)
            return
        for written in writers.write(transcript, path, [fmt], output_dir=self.args.output_dir):
            self.say(f"wrote {written}")

    def print_in_order(self, path: Path | None, text: str | None, flush_all: bool = False) -> None:
        """Printed transcripts keep the order of the command line (``self.order``), whatever
        order files finish in (batched waves go shortest first). ``text`` None: that file has
        nothing to print; ``flush_all``: print what is held, skipping files not done."""
        if path is not None:
            if path not in self.order:  # not from the command line: after what is listed
                self.order.append(path)
            self.held[path] = text
        while self.order and (self.order[0] in self.held or flush_all):
            name = self.order.pop(0)
            text = self.held.pop(name, None)
            if text is None:
                continue
            try:
                print(text, file=self.out, flush=True)
            except OSError as err:  # a closed pipe (`| head`), a full disk behind `>`
                raise StdoutError(name, err) from None


class StdoutError(VoxtralError):
    """Standard output refused the transcript; nothing more can be printed there."""

    def __init__(self, path: Path, err: OSError):
        reason = "the reading end was closed" if isinstance(err, BrokenPipeError) else (
            err.strerror or type(err).__name__)  # fmt: skip
        super().__init__(f"{path.name}: could not print the transcript ({reason}); "
                         "use --format or -o to write files")  # fmt: skip


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush cannot raise again."""
    try:
        sys.stdout.flush()
    except OSError:
        pass
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: list[str] | None = None) -> int:
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
        return _list_devices(args)
    if args.mic:
        if args.files:
            parser.print_usage(sys.stderr)
            print("error: --mic takes no FILE", file=sys.stderr)
            return EXIT_USAGE
        if _bad_output(args):  # now, not when the recording ends
            return EXIT_USAGE
        return _run_mic(App(args))
    if not args.files and not args.info:
        parser.print_usage(sys.stderr)
        print("error: give at least one FILE (or --info)", file=sys.stderr)
        return EXIT_USAGE
    app = App(args)
    try:
        with _polite_signals():
            # Inputs are checked before the model loads (or downloads: 8.9 GB on a first run).
            files, unusable = _usable_inputs([Path(f) for f in args.files], args)
            if args.files and not files:
                return EXIT_FAILED
            app.load()
            if args.info:
                return app.info()
            code = _run_files(app, files)
            return EXIT_FAILED if unusable and code == EXIT_OK else code
    except VoxtralError as e:
        return _fail(e, args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return _interrupted_code()


def _usable_inputs(files: list[Path], args) -> tuple[list[Path], int]:
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
            _fail(e, args)
            continue
        finally:
            blocks.close()
        usable.append(path)
    return usable, failed


# SIGTERM (a polite kill, logout) and SIGHUP (the terminal closed) end a run like Ctrl-C:
# what was transcribed is written, and the exit code says which signal (128 + its number).
_POLITE = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))
_caught = [signal.SIGINT]


class _polite_signals:
    """Within: SIGTERM/SIGHUP raise KeyboardInterrupt as Ctrl-C does (main thread only)."""

    def __enter__(self):
        self._old = {}
        if _on_main_thread():
            for sig in _POLITE:
                self._old[sig] = signal.signal(sig, _raise_interrupt)
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False


def _raise_interrupt(signum, frame) -> None:
    _caught[0] = signum
    raise KeyboardInterrupt


def _interrupted_code() -> int:
    return 128 + int(_caught[0])


def _run_files(app: App, files: list[Path]) -> int:
    from voxtral_mlx.cli.files import run_waves
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
                _fail(e, app.args)
    except Interrupted as stop:
        app.print_in_order(None, None, flush_all=True)
        names = ", ".join(p.name for p in stop.paths or app.current)
        print(f"interrupted: {names}: wrote what was transcribed so far", file=sys.stderr)
        return _interrupted_code()
    except StdoutError as e:
        _fail(e, app.args)
        _silence_stdout()
        return EXIT_FAILED  # the next files could not be printed either
    return EXIT_FAILED if failed else EXIT_OK


def _fail(err: VoxtralError, args) -> int:
    log.debug("error", exc_info=True)
    print(f"error: {err}", file=sys.stderr)
    return EXIT_FAILED


# ---- live captions (--mic) ------------------------------------------------------------------
def _bad_output(args) -> bool:
    """--mic --output must name a file in a folder that exists and can be written: said in one
    line before the model loads, not after an hour of captions."""
    out = args.output
    if out is None:
        return False
    if out.is_dir():
        problem = f"--output {out} is a folder: give a file name in it"
    elif not out.parent.is_dir():
        problem = f"--output {out}: the folder {out.parent} does not exist"
    elif not os.access(out.parent, os.W_OK | os.X_OK):
        problem = f"--output {out}: cannot write in {out.parent}"
    else:
        return False
    print(f"error: {problem}", file=sys.stderr)
    return True


def _list_devices(args) -> int:
    from voxtral_mlx.audio.mic import list_devices

    try:
        devices = list_devices()
    except VoxtralError as e:
        return _fail(e, args)
    if not devices:
        print("error: no input devices found", file=sys.stderr)
        return EXIT_FAILED
    for d in devices:
        mark = "*" if d.is_default else " "
        print(f"{mark} {d.index:3d}  {d.name}  ({d.hostapi}, {d.channels} ch, {d.default_samplerate:g} Hz)")  # fmt: skip
    return EXIT_OK


def _run_mic(app: App) -> int:
    """Live captions until Ctrl-C (or a lost device); then the transcript is written."""
    from voxtral_mlx.audio.mic import exit_if_streams_left

    code = _mic_session(app)
    exit_if_streams_left(code)  # a device that never let go would hang the interpreter's exit
    return code


def _mic_session(app: App) -> int:
    from voxtral_mlx.audio.mic import MicSource
    from voxtral_mlx.cli.live import LiveDisplay
    from voxtral_mlx.live.engine import LiveTranscriber
    from voxtral_mlx.live.events import ErrorEvent, Status, StatusEvent, TranscriptEvent

    def load():
        app.load()  # on the transcriber's thread, which then owns the model
        return app.model, app.tokenizer

    load.description = str(app.args.model)
    display = LiveDisplay(app.out, app.err, app.args.quiet)
    live = LiveTranscriber(load, MicSource(app.args.device), delay_ms=app.args.delay_ms,
                           metadata={"model": str(app.args.model)})  # fmt: skip
    live.start()
    # A polite kill (SIGTERM) or a closed terminal (SIGHUP) ends the recording like Ctrl-C:
    # the last words are kept; the exit code then names the signal.
    _caught[0] = signal.SIGINT
    with _polite_signals():
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
            return _fail(e, app.args)
    if _caught[0] != signal.SIGINT:
        return _interrupted_code()
    return EXIT_FAILED if failed else EXIT_OK


def _interrupted_again(live) -> int:
    where = live.journal or "the autosave folder"
    print(f"interrupted again: {where} has what was transcribed", file=sys.stderr)
    return EXIT_INTERRUPTED


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _write_live(app: App, finished, display) -> None:
    """The outputs asked for, then the autosaved transcript's path (always)."""
    try:
        _write_outputs(app, finished, display)
    finally:  # where the words are, whatever else happened (--quiet too)
        if finished.path is not None:
            display.note(f"autosaved {finished.path}", always=True)


def _write_outputs(app: App, finished, display) -> None:
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
