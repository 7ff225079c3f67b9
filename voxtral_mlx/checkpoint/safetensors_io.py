"""Finding and validating safetensors files without reading their tensor data.

Reading only the JSON header lets the loader check names, shapes and file completeness
before any multi-gigabyte data is touched, so a truncated download is a one-line error
instead of a crash half way through loading.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

from voxtral_mlx.errors import WeightsError
from voxtral_mlx.fs.atomic_file import replacing
from voxtral_mlx.fs.json_file import parse_json, read_json_object

# safetensors dtype tags -> bytes per element
_DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
_MAX_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True)
class TensorInfo:
    file: Path
    dtype: str
    shape: tuple[int, ...]


def read_header(path: Path) -> dict[str, TensorInfo]:
    """Parse one safetensors header and check the file holds every byte it promises."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) < 8:
                raise WeightsError(f"{path}: truncated or empty safetensors file ({size} bytes)")
            (n,) = struct.unpack("<Q", raw)
            if n > min(_MAX_HEADER, size - 8):
                raise WeightsError(f"{path}: corrupt or truncated safetensors header")
            raw = f.read(n)
    except OSError as e:
        raise WeightsError(f"{path}: cannot read ({e.strerror or e})") from e
    header = parse_json(raw, f"{path}: corrupt safetensors header", WeightsError)
    if not isinstance(header, dict):
        raise WeightsError(f"{path}: corrupt safetensors header")
    out: dict[str, TensorInfo] = {}
    end_max = 0
    for name, meta in header.items():
        if name != "__metadata__":
            out[name], end = _entry(path, name, meta)
            end_max = max(end_max, end)
    if 8 + n + end_max > size:
        missing = 8 + n + end_max - size
        raise WeightsError(
            f"{path}: file is truncated ({missing} bytes missing); re-download or re-convert it"
        )
    return out


def _entry(path: Path, name: str, meta) -> tuple[TensorInfo, int]:
    """One header entry checked (known dtype, sizes that add up); its info and end offset."""
    try:
        dtype, shape = meta["dtype"], tuple(_whole(d) for d in meta["shape"])
        begin, end = (_whole(x) for x in meta["data_offsets"])
    except (KeyError, TypeError, ValueError) as e:
        raise WeightsError(f"{path}: corrupt header entry for tensor '{name}'") from e
    if not isinstance(dtype, str) or dtype not in _DTYPE_SIZES:
        raise WeightsError(f"{path}: tensor '{name}' has unsupported dtype {str(dtype)[:20]!r}")
    if end - begin != math.prod(shape) * _DTYPE_SIZES[dtype]:
        raise WeightsError(f"{path}: tensor '{name}' has inconsistent size in the header")
    return TensorInfo(path, dtype, shape), end


def _whole(x) -> int:
    """A non-negative whole number from a header (bools and floats are corruption)."""
    if not isinstance(x, int) or isinstance(x, bool) or x < 0:
        raise ValueError(x)
    return x


def index_files(files: list[Path]) -> dict[str, TensorInfo]:
    """Headers of several shards merged; a tensor present in two shards is an error."""
    index: dict[str, TensorInfo] = {}
    for path in files:
        for name, info in read_header(path).items():
            if name in index:
                raise WeightsError(
                    f"tensor '{name}' appears in both {index[name].file.name} and {path.name}"
                )
            index[name] = info
    return index


def shard_files(folder: Path, single: str, index_name: str) -> list[Path]:
    """The weight files of a folder: ``single`` if present, else the shards listed in the index.

    Every listed shard must be a file inside ``folder`` (see :func:`_inside`): an index is data
    from wherever the model came from and must not make the loader read elsewhere.
    """
    if (folder / single).is_file():
        return [folder / single]
    index_path = folder / index_name
    if not index_path.is_file():
        return []
    weight_map = read_json_object(index_path, WeightsError).get("weight_map")
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise WeightsError(f"{index_path}: 'weight_map' must map tensor names to file names")
    names = sorted(set(weight_map.values()))
    for name in names:
        if not _inside(folder, name):
            raise WeightsError(
                f"{index_path}: shard '{name[:80]}' is outside the model folder; refusing it"
            )
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise WeightsError(f"{folder}: shard '{missing[0]}' listed in {index_name} is missing")
    return [folder / n for n in names]


def _inside(folder: Path, name: str) -> bool:
    """``name`` is a relative path without ``..`` whose real file stays in ``folder``.

    A Hugging Face snapshot's files are links into the repo's ``blobs`` folder beside
    ``snapshots``; those are the one place outside the folder a shard may really be.
    """
    rel = Path(name)
    if not name or rel.is_absolute() or rel.drive or ".." in rel.parts or "\\" in name:
        return False
    real, root = (folder / rel).resolve(), folder.resolve()
    allowed = [root]
    if root.parent.name == "snapshots":
        allowed.append(root.parent.parent / "blobs")
    return any(real.is_relative_to(a) for a in allowed)


_MX_TAGS = {"bfloat16": "BF16", "float16": "F16", "float32": "F32", "uint32": "U32", "int32": "I32",
            "uint8": "U8", "int8": "I8"}  # fmt: skip


def write_streaming(path: Path, tensors, metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors file one tensor at a time, so peak memory is one tensor, not the model.

    ``tensors`` is a list of ``(name, shape, dtype, make)`` where ``make()`` returns the
    ``mx.array`` (evaluated on demand, written, then dropped). The header is laid out first
    from the shapes; the file is written to a new temporary file beside ``path`` (never
    following a link there), fsynced and renamed over ``path`` when complete.
    """
    import mlx.core as mx
    import numpy as np

    header: dict = {"__metadata__": metadata or {}}
    offset = 0
    for name, shape, dtype, _ in tensors:
        tag = _MX_TAGS[str(dtype).removeprefix("mlx.core.")]
        n = int(np.prod(shape)) * _DTYPE_SIZES[tag]
        header[name] = {"dtype": tag, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # keep tensor data 8-byte aligned, as safetensors does
    with replacing(path) as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name, shape, dtype, make in tensors:
            w = make().astype(dtype)
            if tuple(w.shape) != tuple(shape):
                raise ValueError(f"tensor {name}: made {w.shape}, declared {shape}")
            # numpy has no bfloat16: write the raw 16-bit pattern.
            if w.dtype in (mx.bfloat16, mx.float16):
                w = w.view(mx.uint16)
            f.write(np.asarray(w).tobytes())
            del w
            mx.clear_cache()  # else MLX keeps every freed buffer: memory would grow to the model
