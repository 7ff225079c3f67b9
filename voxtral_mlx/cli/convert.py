"""Convert a checkpoint (native or transformers layout) into an MLX folder, optionally 4/8-bit.

    python -m voxtral_mlx.convert SRC DST [--bits 4|8|16] [--group-size 64] [--dtype bfloat16]
                                  [--quantize-encoder]

The work is :func:`voxtral_mlx.checkpoint.convert.convert`; this module is its command line:
arguments, progress on a terminal, one-line errors, and SIGTERM/SIGHUP stopping it as Ctrl-C does.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlx.core as mx

from voxtral_mlx.checkpoint.convert import BITS, check_destination, convert
from voxtral_mlx.errors import VoxtralError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m voxtral_mlx.convert", description=__doc__.splitlines()[0]
    )
    p.add_argument("src", type=Path, help="model folder (native Mistral or transformers layout)")
    p.add_argument("dst", type=Path, help="output folder")
    p.add_argument("--bits", type=int, choices=BITS, default=4)
    p.add_argument("--group-size", type=int, choices=(32, 64, 128), default=64)
    p.add_argument("--dtype", choices=["bfloat16", "float16", "float32"], default="bfloat16")
    p.add_argument(
        "--quantize-encoder", action="store_true", help="also quantize encoder and adapter"
    )
    args = p.parse_args(argv)

    def progress(i: int, n: int) -> None:
        if sys.stderr.isatty():
            print(
                f"\rconverting: {100 * i // n:3d}% ({i}/{n} tensors)",
                end="",
                file=sys.stderr,
                flush=True,
            )

    try:  # a DST that could overwrite something is a usage error: refused before any work
        check_destination(args.src.expanduser(), args.dst.expanduser())
    except VoxtralError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    stopped = {"signal": signal.SIGINT}
    try:
        with _stop_on_signals(stopped):
            out = convert(args.src, args.dst, args.bits, args.group_size,
                          getattr(mx, args.dtype), args.quantize_encoder, progress)  # fmt: skip
    except VoxtralError as e:
        print(f"\nerror: {e}" if sys.stderr.isatty() else f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted: nothing was written to {args.dst}", file=sys.stderr)
        return 128 + stopped["signal"]
    print(f"\rwrote {out}" + " " * 20, file=sys.stderr)
    return 0


@contextmanager
def _stop_on_signals(stopped: dict[str, int]) -> Iterator[None]:
    """SIGTERM and SIGHUP stop a conversion as Ctrl-C does (its temporary folder removed);
    ``stopped["signal"]`` says which. The previous handlers come back afterwards."""

    def stop(signum, frame):
        stopped["signal"] = signum
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
