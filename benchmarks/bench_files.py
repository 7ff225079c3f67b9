"""Many files, exact words: one at a time against waves of files side by side (file_batch.py).

python benchmarks/bench_files.py [--size tiny|small|full] [--bits 4] [--files 16] [--seconds 20]
                                 [--rows 1,8,16] [--dir DIR]

Rows are capped as the CLI caps them (exact_rows.py) unless ``--inexact``. Writes ``--files`` clips of ``--seconds`` +-25 % (a different length each, as a folder of
recordings has) and transcribes them with ``transcribe_file`` one by one (rows 1), then as
waves of R rows. Prints files per hour, the aggregate real-time factor (audio seconds per wall
second over the whole set) and whether every file's tokens equal the one-at-a-time run. Each
row count first decodes a short wave of its own size, untimed (MLX CUDA compiles its
multi-row quantized matmul per row tile on first use). Random weights: speed only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# isort: off
import voxtral_mlx  # noqa: E402,F401  (first: on Linux it loads OpenBLAS before mlx.core)
import mlx.core as mx  # noqa: E402

# isort: on
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from fullsize import speech_like, synthetic_tokenizer, write_checkpoint  # noqa: E402

from voxtral_mlx.checkpoint import weights  # noqa: E402
from voxtral_mlx.decode import file_batch
from voxtral_mlx.decode.file_batch import FileBatch, plan_waves  # noqa: E402
from voxtral_mlx.decode.transcribe import transcribe_file  # noqa: E402
from voxtral_mlx.testing import write_tiny_checkpoint  # noqa: E402
from voxtral_mlx.text.tokenizer import Tokenizer  # noqa: E402


def model_folder(args, root: Path) -> tuple[Path, Tokenizer]:
    if args.size == "tiny":
        folder = write_tiny_checkpoint(root / "tiny")
        return folder, Tokenizer.from_file(folder)
    from bench_stream import TINY  # the 40.8 M-parameter model of the other CPU tables

    from voxtral_mlx.checkpoint.convert import convert

    native = root / f"native-{args.size}"
    if not (native / "params.json").is_file():
        write_checkpoint(native, TINY if args.size == "small" else None)
    folder = native
    if args.bits in (4, 8) and args.size == "full":
        folder = root / f"q{args.bits}"
        if not (folder / "params.json").is_file():
            convert(native, folder, bits=args.bits)
    return folder, synthetic_tokenizer()


def model_loader(args, prefix: str):
    """``(load, tokenizer, name)`` for a server's or hub's model: ``load()`` gives ``(model,
    tokenizer)``. ``args.memory``: random bfloat16 weights built now, in memory (``--bits``
    ignored); else :func:`model_folder` in ``args.dir`` (a new temporary folder if none)."""
    if args.memory:
        from fullsize import random_model

        model, tok = random_model(args.size), synthetic_tokenizer()
        return (lambda: (model, tok)), tok, "random bfloat16 in memory"
    root = Path(args.dir or tempfile.mkdtemp(prefix=prefix))
    root.mkdir(parents=True, exist_ok=True)
    folder, tok = model_folder(args, root)
    return (lambda: (weights.load(folder, dtype=weights.default_dtype())[0], tok)), tok, folder.name


def write_files(root: Path, n: int, seconds: float) -> dict[Path, float]:
    rng = np.random.default_rng(0)
    out = {}
    for i in range(n):
        length = min(file_batch.MAX_ROW_S, seconds * rng.uniform(0.75, 1.25))
        path = root / f"clip{i:03d}.wav"
        sf.write(path, speech_like(length, seed=100 + i), 16000, subtype="FLOAT")
        out[path] = len(sf.read(path)[0]) / 16000
    return out


def one_by_one(model, tok, files) -> tuple[dict, float]:
    t0 = time.perf_counter()
    tokens = {p: transcribe_file(p, model, tok).tokens for p in files}
    return tokens, time.perf_counter() - t0


def in_waves(model, tok, files, rows, inexact=False) -> tuple[dict, float, int, int]:
    batch = FileBatch(model, tok)
    rows = rows if inexact else batch.exact_rows(rows)
    waves, alone = plan_waves(files, rows)
    t0 = time.perf_counter()
    tokens = {}
    for wave in waves:
        for res in batch.transcribe(wave):
            tokens[res.path] = res.transcript.tokens
    for p in alone:
        tokens[p] = transcribe_file(p, model, tok).tokens
    return tokens, time.perf_counter() - t0, batch.decoder.steps, rows


def agreement(tokens: dict, reference: dict) -> str:
    """Files whose tokens equal the reference's, and the share of tokens before the first
    difference (random weights give near-flat logits: any rounding can flip a token)."""
    same = sum(tokens[p] == reference[p] for p in reference)
    prefix = total = 0
    for p, ref in reference.items():
        got = tokens[p]
        n = next(
            (i for i, (a, b) in enumerate(zip(got, ref, strict=False)) if a != b),
            min(len(got), len(ref)),
        )
        prefix, total = prefix + n, total + len(ref)
    return f"{same}/{len(reference)} files, {100 * prefix / max(1, total):.1f} % of tokens"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=["tiny", "small", "full"], default="small",
                    help="tiny: the test suite's model; small: 40.8 M parameters, real vocab")  # fmt: skip
    ap.add_argument("--bits", type=int, choices=[4, 8, 16], default=4)
    ap.add_argument("--files", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rows", default="1,8,16")
    ap.add_argument("--dir", default=None, help="keep model folders here between runs")
    ap.add_argument("--inexact", action="store_true",
                    help="use the rows asked even where this device rounds batched rows "
                         "differently (exact_rows.py), to measure what exactness costs")  # fmt: skip
    args = ap.parse_args()
    root = Path(args.dir or tempfile.mkdtemp(prefix="voxtral-files-"))
    root.mkdir(parents=True, exist_ok=True)
    folder, tok = model_folder(args, root)
    t0 = time.perf_counter()
    model, _ = weights.load(folder, dtype=weights.default_dtype())
    clips = root / "clips"
    clips.mkdir(exist_ok=True)
    files = write_files(clips, args.files, args.seconds)
    audio = sum(files.values())
    print(f"device {mx.default_device()}, mlx {mx.__version__}, {args.size} model "
          f"({folder.name}), loaded in {time.perf_counter() - t0:.1f} s; {len(files)} files, "
          f"{audio:.0f} s of audio", flush=True)  # fmt: skip
    print("| rows asked / used | wall (s) | files per hour | aggregate real-time factor | batched steps | "
          "same tokens as one at a time (files; tokens before the first difference) | "
          "peak MLX memory (GB) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    reference = None
    for rows in [int(x) for x in args.rows.split(",")]:
        if rows > 1:  # untimed: per-row-tile kernel compiles, first allocations
            warm = root / f"warm{rows}"
            warm.mkdir(exist_ok=True)
            in_waves(model, tok, write_files(warm, rows, 3.0), rows, args.inexact)
        mx.reset_peak_memory()
        if rows == 1:
            tokens, wall = one_by_one(model, tok, files)
            steps, used = "-", 1
        else:
            tokens, wall, steps, used = in_waves(model, tok, files, rows, args.inexact)
        reference = reference or tokens
        same = agreement(tokens, reference)
        print(f"| {rows} / {used} | {wall:.2f} | {len(files) * 3600 / wall:,.0f} | {audio / wall:.1f}x | "
              f"{steps} | {same} | {mx.get_peak_memory() / 1e9:.2f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
