"""What a model folder holds, from its config and safetensors headers alone (``--info``).

No tensor data is read, so a 9 GB checkpoint is described as fast as a tiny one. Parameters
are counted as the model has them: a packed quantized weight counts its unpacked elements
(32 / bits per uint32), and its ``.scales``/``.biases`` are storage, not parameters.
"""

from __future__ import annotations

import math
import os
from collections import Counter

from voxtral_mlx.checkpoint.weights import Checkpoint

PARTS = ("encoder", "adapter", "decoder")


def describe(folder: str | os.PathLike) -> list[str]:
    """Lines describing ``folder`` (layout, size, parameters, quantization, towers, audio).

    Raises the loader's one-line WeightsError for a folder that would not load.
    """
    ck = Checkpoint(folder)
    cfg = ck.config
    enc = cfg.encoder
    size = sum(f.stat().st_size for f in ck.files)
    params = _parameters(ck)
    per_part = ", ".join(f"{part} {_amount(params[part])}" for part in PARTS)
    return [
        f"model      {ck.folder} ({ck.layout} layout, {len(ck.files)} weight file(s), "
        f"{_bytes(size)})",
        f"params     {_amount(sum(params.values()))} ({per_part})",
        f"quantized  {_quantization(ck)}",
        f"encoder    {enc.n_layers} layers, dim {enc.dim}, {enc.n_heads} heads, "
        f"window {enc.sliding_window} frames",
        f"decoder    {cfg.n_layers} layers, dim {cfg.dim}, {cfg.n_heads}/{cfg.n_kv_heads} heads, "
        f"vocab {cfg.vocab_size}, window {cfg.sliding_window} tokens",
        f"audio      {cfg.audio.sampling_rate} Hz, {cfg.samples_per_token} samples/token "
        f"({cfg.audio.token_ms:.0f} ms)",
    ]


def _parameters(ck: Checkpoint) -> Counter:
    """Parameters per part (encoder, adapter, decoder), quantized weights unpacked."""
    counts: Counter = Counter({part: 0 for part in PARTS})
    bits = ck.config.quantization.bits if ck.config.quantization else 32
    for name in ck.names():
        base, leaf = name.rsplit(".", 1)
        packed = base in ck.quantized_paths
        if packed and leaf in ("scales", "biases"):
            continue
        n = math.prod(ck.tensor_info(name).shape)
        counts[name.split(".")[0]] += n * 32 // bits if packed and leaf == "weight" else n
    return counts


def _quantization(ck: Checkpoint) -> str:
    """``4-bit, group size 64: decoder 157/183 matrices (embedding included), ...`` or float."""
    dtypes = sorted({ck.tensor_info(n).dtype for n in ck.names()} - {"U32"})
    q = ck.config.quantization
    if q is None or not ck.quantized_paths:
        return f"no (weights {', '.join(dtypes)})"
    matrices = [n for n in ck.names() if n.endswith(".weight") and _is_matrix(ck, n)]
    parts = []
    for part in PARTS:
        mine = [n.removesuffix(".weight") for n in matrices if n.startswith(part + ".")]
        packed = [m for m in mine if m in ck.quantized_paths]
        note = " (embedding included)" if any(m.endswith("tok_embeddings") for m in packed) else ""
        parts.append(f"{part} {len(packed)}/{len(mine)} matrices{note}")
    rest = ", ".join(dtypes)
    return f"{q.bits}-bit, group size {q.group_size}: {', '.join(parts)}; the rest {rest}"


def _is_matrix(ck: Checkpoint, name: str) -> bool:
    base = name.removesuffix(".weight")
    return base in ck.quantized_paths or len(ck.tensor_info(name).shape) == 2


def _bytes(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def _amount(n: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}" if unit != "B" else f"{n / scale:.3f} B"
    return str(n)


__all__ = ["describe"]
