"""The indexing kernels a server's steps may use, compiled before its first stream.

MLX CUDA builds one module per gather or scatter family (value dtype, index dtype, number of
index arrays) with NVRTC the first time one runs, and the CUDA driver then compiles its PTX
for the GPU: ~2.5 s each on an H200 that never ran it, the whole server waiting (the two
caches keep it afterwards: once a machine). Which families a step meets depends on how the
streams' phases fall (token ids read back as int32 beside argmax's uint32, rows stepping or
not), so a warm-up of the bank shapes alone left one to chance: a fresh H200's 4th run of 64
staggered streams waited 2.4 s for ``gather_int32_int32_1`` (docs/benchmarks.md, "The
stall named"). Cheap where kernels are not built at run time (Metal's are shipped, the
CPU's gathers are not compiled).
"""

from __future__ import annotations

import mlx.core as mx

TOKEN_DTYPES = (mx.int32, mx.uint32)  # ids read back, and the decoder's argmax


def warm_index_kernels(dtype) -> set[tuple[str, object, int]]:
    """A gather by one and by two index arrays and a scatter by one, of token ids and of
    ``dtype`` (the activations): every family the decoder's steps index with. Returns the
    families warmed: (``"gather"`` or ``"scatter"``, value dtype, index arrays)."""
    index = mx.array([1, 0])
    out, families = [], set()
    for value_dtype in (*TOKEN_DTYPES, dtype):
        x = mx.zeros((4, 2), value_dtype)
        y = mx.zeros((4, 2), value_dtype)
        y[index] = x[:2]
        out += [x[index], x[index, index], y]
        families |= {("gather", value_dtype, 1), ("gather", value_dtype, 2),
                     ("scatter", value_dtype, 1)}  # fmt: skip
    mx.eval(out)
    return families


__all__ = ["TOKEN_DTYPES", "warm_index_kernels"]
