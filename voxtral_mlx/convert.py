"""Convert a checkpoint (native or transformers layout) into an MLX folder, optionally 4/8-bit.

    python -m voxtral_mlx.convert SRC DST [--bits 4|8|16] [--group-size 64] [--dtype bfloat16]
                                          [--quantize-encoder]

Conversion streams one tensor at a time from the memory-mapped source to the output shards,
so peak memory is about one layer, not two copies of a 9 GB model. The output folder holds
``params.json`` (with mlx-lm's ``quantization`` record), ``model*.safetensors`` and a copy of
``tekken.json``. The folder is built under a temporary name beside DST and renamed into place
when complete (:mod:`voxtral_mlx.staged_folder`): an interrupted or killed conversion leaves
no DST. DST must be new or an empty folder, outside SRC: nothing of the user's is overwritten.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from .config import QuantizationArgs
from .errors import VoxtralError, WeightsError
from .staged_folder import staged_folder
from .weights import Checkpoint, build_model, quantize_predicate, save_tensors

BITS = (4, 8, 16)


def convert(
    src: str | Path,
    dst: str | Path,
    bits: int = 4,
    group_size: int = 64,
    dtype: mx.Dtype = mx.bfloat16,
    quantize_encoder: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``dst`` (new, or an empty folder; see :func:`check_destination`) from ``src``;
    ``bits=16`` keeps every weight in ``dtype``. Returns ``dst``."""
    if bits not in BITS:
        raise VoxtralError(f"--bits must be one of {', '.join(map(str, BITS))}, got {bits}")
    src, dst = Path(src).expanduser(), Path(dst).expanduser()
    final = check_destination(src, dst)
    ck = Checkpoint(src)
    if ck.quantized_paths:
        raise WeightsError(f"{src}: already quantized; convert from the original weights")
    quant = QuantizationArgs(group_size=group_size, bits=bits) if bits < 16 else None
    cfg = replace(ck.config, quantization=quant)
    target = build_model(cfg, lambda p, m: quantize_predicate(p, m, group_size, quantize_encoder))
    specs = _specs(ck, target, dtype, quant, on_progress)
    try:
        with staged_folder(final) as work:
            save_tensors(work, specs, cfg)
            if (src / "tekken.json").is_file():
                shutil.copyfile(src / "tekken.json", work / "tekken.json")
    except OSError as e:
        raise WeightsError(f"{dst}: cannot write the converted model ({e.strerror or e})") from e
    return dst


def check_destination(src: Path, dst: Path) -> Path:
    """The real path to create for ``dst``; refuses (one line) a DST that is SRC or inside it
    (however spelled: links, ``..``, another case on a case-insensitive disk), an existing
    file or link to one, or a folder that is not empty."""
    if os.path.lexists(dst) and not dst.is_dir():
        raise WeightsError(f"{dst}: exists and is not a folder; give a new folder for the output")
    final = dst.resolve()
    if src.exists() and (inside := _source_ancestor(final, src.resolve())) is not None:
        where = "is the source folder" if inside == final else "is inside the source folder"
        raise WeightsError(f"{dst}: {where} {src}; give a folder outside the source")
    try:
        full = final.is_dir() and any(final.iterdir())
    except OSError as e:
        raise WeightsError(f"{dst}: cannot read the folder ({e.strerror or e})") from e
    if full:
        raise WeightsError(f"{dst}: folder is not empty; give a new or empty folder")
    return final


def _source_ancestor(final: Path, source: Path) -> Path | None:
    """``final`` or the ancestor of it that is ``source``, None if it is outside ``source``."""
    # samefile on every existing ancestor also sees bind mounts and case-insensitive names.
    return next((f for f in (final, *final.parents) if f == source or _same(f, source)), None)


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # a missing (not yet created) or unreadable folder is not the source
        return False


def _specs(ck: Checkpoint, target, dtype, quant, on_progress) -> list[tuple]:
    """One ``(name, shape, dtype, make)`` per output tensor; a layer is quantized once."""
    params = tree_flatten(target.parameters())
    q_paths = {
        p
        for p, m in target.named_modules()
        if isinstance(m, nn.QuantizedLinear | nn.QuantizedEmbedding)
    }
    packed: dict[str, dict[str, mx.array]] = {}  # layer -> its parts not yet written
    total = len(params)
    specs = []
    for i, (name, w) in enumerate(params):
        base, leaf = name.rsplit(".", 1)
        quantized = base in q_paths

        def make(name=name, base=base, leaf=leaf, quantized=quantized, i=i):
            if on_progress is not None:
                on_progress(i + 1, total)
            if not quantized or leaf == "bias":
                src = ck.tensor(name)
                return src.astype(dtype) if mx.issubdtype(src.dtype, mx.floating) else src
            if base not in packed:
                wq, scales, biases = mx.quantize(
                    ck.tensor(f"{base}.weight").astype(dtype), quant.group_size, quant.bits
                )
                packed[base] = {"weight": wq, "scales": scales, "biases": biases}
            part = packed[base].pop(leaf)
            if not packed[base]:
                del packed[base]
            return part

        out_dtype = w.dtype if quantized and leaf == "weight" else dtype
        if not mx.issubdtype(w.dtype, mx.floating) and not quantized:
            out_dtype = w.dtype
        specs.append((name, tuple(w.shape), out_dtype, make))
    return specs


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


if __name__ == "__main__":
    sys.exit(main())
