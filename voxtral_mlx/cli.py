"""Command line: ``python -m voxtral_mlx FILE [FILE ...]``. Printing and exit codes live here.

Exit codes: 0 all files transcribed; 1 a file (or the model) failed, the others were still
processed; 2 usage error; 130 interrupted by Ctrl-C (what was transcribed so far is written).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from .errors import VoxtralError

log = logging.getLogger("voxtral_mlx")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_MODEL = "mistralai/Voxtral-Mini-4B-Realtime-2602"

EPILOG = """\
examples:
  python -m voxtral_mlx talk.m4a                      print the transcript
  python -m voxtral_mlx talk.m4a --format srt         write talk.srt next to talk.m4a
  python -m voxtral_mlx *.wav --format all -o out/    txt, srt, vtt and json for each file
  python -m voxtral_mlx talk.wav --model ~/models/voxtral --delay-ms 960

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
        type=int,
        default=None,
        help="transcription delay, 80-2400 in steps of 80 (default: the model's, 480)",
    )
    p.add_argument(
        "--dtype",
        choices=["float32", "bfloat16", "float16"],
        default=None,
        help="compute dtype (default: float32 on CPU, bfloat16 on GPU)",
    )
    p.add_argument("--info", action="store_true", help="load the model, describe it, and exit")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or status on stderr")
    p.add_argument("--verbose", action="store_true", help="log details and tracebacks to stderr")
    return p  # fmt: skip


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

    def say(self, msg: str) -> None:
        if not self.args.quiet:
            print(msg, file=self.err)

    def load(self) -> None:
        import mlx.core as mx

        from . import weights
        from .model_cache import model_folder
        from .tokenizer import Tokenizer

        folder = model_folder(
            self.args.model, bits=self.args.bits, on_progress=self._convert_progress
        )
        self.progress.clear()
        dtype = getattr(mx, self.args.dtype) if self.args.dtype else weights.default_dtype()
        t0 = time.perf_counter()
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
        from mlx.utils import tree_flatten

        from . import weights

        layout, cfg, files = weights.detect_layout(self.folder)
        n = sum(v.size for _, v in tree_flatten(self.model.parameters()))
        enc = cfg.encoder
        print(
            f"model      {self.folder} ({layout} layout, {len(files)} weight file(s))",
            file=self.out,
        )
        print(
            f"params     {n / 1e9:.3f} B, dtype {self.dtype}, device {mx.default_device()}",
            file=self.out,
        )
        print(
            f"encoder    {enc.n_layers} layers, dim {enc.dim}, window {enc.sliding_window} frames",
            file=self.out,
        )
        print(f"decoder    {cfg.n_layers} layers, dim {cfg.dim}, {cfg.n_heads}/{cfg.n_kv_heads} heads, "
              f"vocab {cfg.vocab_size}, window {cfg.sliding_window} tokens", file=self.out)  # fmt: skip
        print(f"audio      {cfg.audio.sampling_rate} Hz, {cfg.samples_per_token} samples/token "
              f"({cfg.audio.token_ms:.0f} ms)", file=self.out)  # fmt: skip
        if self.tokenizer is None:
            print(f"tokenizer  unusable: {self.tokenizer_error}", file=self.out)
        else:
            tok = self.tokenizer
            print(f"tokenizer  {tok.vocab_size} ids ({tok.num_special} special), "
                  f"delay {tok.audio.transcription_delay_ms} ms", file=self.out)  # fmt: skip
        return EXIT_OK

    def transcribe(self, path: Path) -> None:
        """One file; raises VoxtralError (reported by the caller) or Interrupted."""
        from . import writers
        from .audio_io import probe_duration
        from .transcribe import Interrupted, transcribe_file

        name = path.name
        meta = {"model": str(self.args.model), "dtype": str(self.dtype).removeprefix("mlx.core.")}
        try:
            transcript = transcribe_file(
                path, self.model, self.tokenizer, delay_ms=self.args.delay_ms,
                duration=probe_duration(path), metadata=meta,
                on_progress=lambda p: self.progress.update(name, p.audio_done, p.audio_total, p.speed),
            )  # fmt: skip
        except Interrupted as stop:
            self.progress.clear()
            self._emit(path, stop.transcript, writers)
            raise
        self.progress.clear()
        self._emit(path, transcript, writers)

    def _emit(self, path: Path, transcript, writers) -> None:
        fmt = self.args.format or ("txt" if self.args.output_dir else None)
        if fmt is None:
            print(transcript.text, file=self.out, flush=True)
            return
        for written in writers.write(transcript, path, [fmt], output_dir=self.args.output_dir):
            self.say(f"wrote {written}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")  # fmt: skip
    if not args.files and not args.info:
        parser.print_usage(sys.stderr)
        print("error: give at least one FILE (or --info)", file=sys.stderr)
        return EXIT_USAGE
    app = App(args)
    try:
        app.load()
        if args.info:
            return app.info()
        return _run_files(app, [Path(f) for f in args.files])
    except VoxtralError as e:
        return _fail(e, args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run_files(app: App, files: list[Path]) -> int:
    from .transcribe import Interrupted

    failed = 0
    for path in files:
        try:
            app.transcribe(path)
        except Interrupted:
            print(f"interrupted: {path.name}: wrote what was transcribed so far", file=sys.stderr)
            return EXIT_INTERRUPTED
        except VoxtralError as e:
            failed += 1
            _fail(e, app.args)
    return EXIT_FAILED if failed else EXIT_OK


def _fail(err: VoxtralError, args) -> int:
    log.debug("error", exc_info=True)
    print(f"error: {err}", file=sys.stderr)
    return EXIT_FAILED
