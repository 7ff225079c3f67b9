"""Convert a checkpoint (native or transformers layout) into an MLX folder, optionally 4/8-bit.

The command line is ``python -m voxtral_mlx.convert`` (:mod:`voxtral_mlx.cli.convert`).

Conversion streams one tensor at a time from the memory-mapped source to the output shards,
so peak memory is about one layer, not two copies of a 9 GB model. The output folder holds
``params.json`` (with mlx-lm's ``quantization`` record), ``model*.safetensors`` and a copy of
``tekken.json``. The folder is built under a temporary name beside DST and renamed into place
when complete (:mod:`voxtral_mlx.fs.staged_folder`): an interrupted or killed conversion leaves
no DST. DST must be new or an empty folder, outside SRC: nothing of the user's is overwritten.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from voxtral_mlx.checkpoint.weights import Checkpoint, build_model, quantize_predicate, save_tensors
from voxtral_mlx.config import QuantizationArgs
from voxtral_mlx.errors import VoxtralError, WeightsError
from voxtral_mlx.fs.staged_folder import staged_folder

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
