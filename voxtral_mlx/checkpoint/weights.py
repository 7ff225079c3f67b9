"""Model folders: open, load and save (the strict, lazy loader and the MLX writer).

Tensor names and layouts (native, transformers, mlx) are :mod:`voxtral_mlx.checkpoint.layouts`'
business; this module plans a load with them. Loading is strict (every tensor maps onto
exactly one parameter of the right shape and dtype, or is explicitly dropped) and lazy:
``mx.load`` memory-maps the files and arrays are materialised only by the final ``mx.eval``,
on the calling thread (which must be the thread that will run the model: MLX streams belong
to threads).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten, tree_unflatten

from voxtral_mlx.checkpoint.layouts import MLX_FORMAT_KEY, detect_layout, mlx_shape, rename, to_mlx
from voxtral_mlx.checkpoint.safetensors_io import TensorInfo, index_files, write_streaming
from voxtral_mlx.config import ModelConfig
from voxtral_mlx.errors import WeightsError
from voxtral_mlx.fs.atomic_file import replacing
from voxtral_mlx.model import VoxtralRealtime, packed
from voxtral_mlx.model.fused import checkpoint_parameters, fuse_model


# ---- quantization --------------------------------------------------------------------------------
def quantize_predicate(path: str, module, group_size: int, quantize_encoder: bool = False) -> bool:
    """Which layers are stored 4/8-bit (mlx-lm's affine format).

    The decoder's linears and its tied embedding/head hold 3.4 of the 4.4 B parameters and are
    read in full for every token, so they are what makes a step memory-bound: quantize them.
    Keep in float what is small or numerically touchy: RMSNorm weights, the per-layer delay
    MLPs (``ada_norm``: computed once per session, and their 32-wide input cannot form a
    64-group), and the conv stem (not a Linear). The encoder and adapter run once per 80 ms
    on a batch of frames (compute-bound, not bandwidth-bound) and are kept in float unless
    ``quantize_encoder``. A matrix whose input width is not a multiple of the group stays float.
    """
    if not hasattr(module, "to_quantized") or module.weight.shape[-1] % group_size:
        return False
    if ".ada_norm." in f".{path}.":
        return False
    if path.startswith("decoder."):
        return True
    return quantize_encoder and path.startswith(("encoder.", "adapter."))


def build_model(
    cfg: ModelConfig, quantized: Callable[[str, object], bool] | None = None
) -> VoxtralRealtime:
    """A model skeleton (lazy parameters); with ``cfg.quantization``, layers chosen by ``quantized``."""
    model = VoxtralRealtime(cfg)
    if cfg.quantization is not None:
        q = cfg.quantization
        nn.quantize(model, q.group_size, q.bits, class_predicate=quantized)
    return model


def dequantize_model(model: VoxtralRealtime, dtype: mx.Dtype) -> VoxtralRealtime:
    """Expand quantized layers to dense ``dtype`` (CPU: dense float32 matmuls beat packed ones).

    One layer at a time, evaluated and swapped in before the next, so the packed copy of a
    layer is freed as its dense copy appears: peak memory stays near the dense model's size.
    """
    quantized = [
        (p, m)
        for p, m in model.named_modules()
        if isinstance(m, nn.QuantizedLinear | nn.QuantizedEmbedding)
    ]
    for path, m in quantized:
        w = mx.dequantize(m.weight, m.scales, m.biases, m.group_size, m.bits).astype(dtype)
        if isinstance(m, nn.QuantizedEmbedding):
            new = nn.Embedding(*w.shape)
        else:
            new = nn.Linear(w.shape[1], w.shape[0], bias="bias" in m)
            if "bias" in m:
                new.bias = m.bias
            if "_parts" in m:  # a fused stack stays splittable (model/fused.py)
                new._parts = m._parts
        new.weight = w
        mx.eval(new.parameters())
        model.update_modules(tree_unflatten([(path, new)]))
    return model


# ---- reading a checkpoint ------------------------------------------------------------------------
class Checkpoint:
    """A model folder opened and checked (names, shapes) without reading tensor data.

    ``tensor(name)`` gives a parameter under our name, converted to MLX layout, still lazy
    (memory-mapped): nothing is read until it is evaluated.
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder).expanduser()
        self.layout, self.config, self.files = detect_layout(self.folder)
        index = index_files(self.files)
        q_paths = {n.removesuffix(".scales") for n in index if n.endswith(".scales")}
        if q_paths and self.config.quantization is None:
            raise WeightsError(
                f"{self.folder}: quantized tensors but no 'quantization' in params.json"
            )
        self.quantized_paths = q_paths
        self.skeleton = build_model(self.config, self._stored_quantized)
        expected = {
            k: (tuple(v.shape), v.dtype) for k, v in tree_flatten(self.skeleton.parameters())
        }
        self._plan = _plan(self.layout, index, expected)
        self._arrays: dict[Path, dict[str, mx.array]] = {}

    def _stored_quantized(self, path: str, module) -> bool:
        """The layers the files hold packed (those with ``.scales``); a group size that does not
        divide such a layer's input width is the config's error, said before MLX raises."""
        if path not in self.quantized_paths or not hasattr(module, "to_quantized"):
            return False  # not a layer that can be packed: its .scales is an unexpected tensor
        width, group = module.weight.shape[-1], self.config.quantization.group_size
        if width % group:
            raise WeightsError(
                f"{self.folder / 'params.json'}: quantization.group_size {group} does not "
                f"divide the width {width} of '{path}', which is stored quantized"
            )
        return True

    def names(self) -> list[str]:
        return list(self._plan)

    def tensor_info(self, name: str) -> TensorInfo:
        """Where parameter ``name`` is stored, its on-disk dtype and shape (no data read)."""
        return self._plan[name][1]

    def tensor(self, name: str) -> mx.array:
        source, info = self._plan[name]
        if info.file not in self._arrays:
            self._arrays[info.file] = _mx_load(info.file)
        return to_mlx(self.layout, name, self._arrays[info.file][source], self.config)


# ---- loading -------------------------------------------------------------------------------------
def load(
    folder: str | os.PathLike,
    dtype: mx.Dtype = mx.float32,
    lazy: bool = False,
    expand_quantized: bool | None = None,
    fuse: bool = True,
) -> tuple[VoxtralRealtime, ModelConfig]:
    """Load a model folder in any supported layout; every problem is a one-line WeightsError.

    Float tensors are cast to ``dtype``. Quantized layers stay packed on a GPU (fewer bytes
    per token) and are expanded to dense ``dtype`` on the CPU, where MLX's packed matmuls are
    slower than dense float32 ones; ``expand_quantized`` overrides that choice (packed layers
    multiply a batch's rows as one matrix, model/packed.py). With ``fuse``
    each layer's q/k/v and gate/up matrices are stacked into one matmul (model/fused.py; the
    same numbers, fewer kernels per token); :func:`save` writes them separate again.
    """
    ck = Checkpoint(folder)
    model = ck.skeleton
    weights = []
    for name in ck.names():
        w = ck.tensor(name)
        if mx.issubdtype(w.dtype, mx.floating):
            w = w.astype(dtype)
        weights.append((name, w))
    model.update(tree_unflatten(weights))
    quantized, config = bool(ck.quantized_paths), ck.config
    del weights, ck  # the model holds the only references now (lets expansion free packed layers)
    if expand_quantized is None:
        expand_quantized = mx.default_device() == mx.cpu
    if quantized and expand_quantized:
        dequantize_model(model, dtype)
    if fuse:
        fuse_model(model, evaluate=not lazy)
    if quantized and not expand_quantized:
        packed.install(model)  # batched rows as one matrix (model/packed.py)
    if not lazy:
        mx.eval(model.parameters())
    return model, config


def _plan(layout: str, index: dict[str, TensorInfo], expected: dict[str, tuple]) -> dict:
    """target name -> (checkpoint name, info), after checking names and shapes strictly."""
    plan: dict[str, tuple[str, TensorInfo]] = {}
    for name, info in sorted(index.items()):
        try:
            target = rename(layout, name)
        except KeyError:
            raise WeightsError(
                f"{info.file.name}: unexpected tensor '{name}' for the {layout} layout"
            ) from None
        if target is None:
            continue
        if target not in expected:
            raise WeightsError(f"{info.file.name}: unexpected tensor '{name}' (no such parameter)")
        if target in plan:
            raise WeightsError(
                f"{info.file.name}: tensors '{plan[target][0]}' and '{name}' map to one parameter"
            )
        shape, dtype = expected[target]
        if mlx_shape(layout, target, info.shape) != shape:
            raise WeightsError(
                f"{info.file.name}: tensor '{name}' has shape {list(info.shape)}, "
                f"the config implies {list(shape)}"
            )
        _check_dtype(info, name, dtype)
        plan[target] = (name, info)
    missing = sorted(set(expected) - set(plan))
    if missing:
        raise WeightsError(
            f"model folder is missing tensor for '{missing[0]}' ({len(missing)} missing in all)"
        )
    return plan


_FLOAT_TAGS = ("F32", "BF16", "F16")


def _check_dtype(info: TensorInfo, name: str, expected: mx.Dtype) -> None:
    """Floats where the model computes in float; uint32 only for a packed quantized weight
    (the layers whose ``.scales`` are present). An integer tensor would load as garbage."""
    if expected == mx.uint32:
        if info.dtype != "U32":
            raise WeightsError(
                f"{info.file.name}: tensor '{name}' is {info.dtype}; a quantized weight "
                "(one with .scales) must be U32"
            )
    elif info.dtype not in _FLOAT_TAGS:
        raise WeightsError(
            f"{info.file.name}: tensor '{name}' is {info.dtype}, expected a float tensor "
            f"({', '.join(_FLOAT_TAGS)})"
        )


def _mx_load(path: Path) -> dict[str, mx.array]:
    try:
        return mx.load(str(path))
    except Exception as e:  # MLX raises RuntimeError/ValueError with multi-line texts
        raise WeightsError(f"{path}: cannot read safetensors ({type(e).__name__})") from e


# ---- saving --------------------------------------------------------------------------------------
def save(model: VoxtralRealtime, folder: str | os.PathLike, max_shard_bytes: int = 4 << 30) -> Path:
    """Write an MLX model folder (``params.json`` + ``model*.safetensors``) that :func:`load` reads."""
    specs = [(n, tuple(w.shape), w.dtype, lambda w=w: w) for n, w in checkpoint_parameters(model)]
    return save_tensors(folder, specs, model.config, max_shard_bytes)


def save_tensors(
    folder: str | os.PathLike,
    specs: list[tuple],
    config: ModelConfig,
    max_shard_bytes: int = 4 << 30,
) -> Path:
    """Write ``(name, shape, dtype, make)`` tensors in shards, one tensor in memory at a time.

    ``params.json`` is written last, atomically: a folder without it is an unfinished write.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shards: list[list[tuple]] = [[]]
    size = 0
    for spec in specs:
        nbytes = math.prod(spec[1]) * spec[2].size
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(spec)
        size += nbytes
    n = len(shards)
    names = (
        ["model.safetensors"]
        if n == 1
        else [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]
    )
    params = config.to_dict()
    params[MLX_FORMAT_KEY] = {"format_version": 1}
    try:
        (folder / "params.json").unlink(missing_ok=True)
        for fname, shard in zip(names, shards, strict=True):
            write_streaming(folder / fname, shard, metadata={"format": "mlx"})
        if n > 1:
            weight_map = {
                spec[0]: fname for fname, shard in zip(names, shards, strict=True) for spec in shard
            }
            total = sum(math.prod(s[1]) * s[2].size for s in specs)
            index = {"metadata": {"total_size": total}, "weight_map": weight_map}
            _atomic_text(folder / "model.safetensors.index.json", json.dumps(index, indent=1))
        _atomic_text(folder / "params.json", json.dumps(params, indent=2))
    except OSError as e:
        raise WeightsError(f"{folder}: cannot write model ({e.strerror or e})") from e
    return folder


def _atomic_text(path: Path, text: str) -> None:
    with replacing(path) as f:  # exclusive temp file: a link planted beside it is not followed
        f.write(text.encode())


def default_dtype() -> mx.Dtype:
    """float32 on the CPU (MLX's CPU bf16 matmuls are slow), bfloat16 on a GPU."""
    return mx.bfloat16 if mx.default_device() == mx.gpu else mx.float32
