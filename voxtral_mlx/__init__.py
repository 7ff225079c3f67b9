"""voxtral-mlx: Mistral's Voxtral Mini 4B Realtime streaming speech recognition on MLX."""

from . import cpu_blas, user_cache

# Before anything imports mlx.core: on Linux, MLX's CPU matmuls then use the system OpenBLAS.
cpu_blas.preload()
user_cache.keep_compiled_kernels()

__version__ = "0.1.0"
