"""The command line's model and output: one model loaded once, each file's transcript written
or printed in command-line order, and the progress line on stderr. All of a run's normal output
goes through :class:`App`; errors and exit codes are ``exits.py``'s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from voxtral_mlx.cli.exits import EXIT_OK, StdoutError, log
from voxtral_mlx.errors import VoxtralError


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
        if getattr(self.args, "server", None):  # a server in place of the model (--server)
            from voxtral_mlx.serve.client import RemoteEngine

            self.model, self.dtype = RemoteEngine(self.args.server, self.args.api_key), "server"
            return
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
        if getattr(self.args, "server", None):
            self.deliver(path, self._through_server(path, meta, damage), damage)
            return
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

    def _through_server(self, path: Path, meta: dict, damage: list):
        from voxtral_mlx.audio.files import probe_duration
        from voxtral_mlx.serve.remote_files import transcribe_remote

        total = probe_duration(path) or 0.0

        def progress(done: float) -> None:
            self.progress.update(path.name, done, total, 0.0)

        transcript = transcribe_remote(path, self.model, metadata=meta, on_progress=progress,
                                       strict=self.args.strict, on_damage=damage.append)  # fmt: skip
        self.progress.clear()
        return transcript

    def metadata(self) -> dict:
        if getattr(self.args, "server", None):
            return {"model": self.args.server}
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
