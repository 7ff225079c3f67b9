"""voxtral-mlx: Mistral's Voxtral Mini 4B Realtime streaming speech recognition on MLX."""

from . import cpu_blas

# Before anything imports mlx.core: on Linux, MLX's CPU matmuls then use the system OpenBLAS.
cpu_blas.preload()

__version__ = "0.1.0"
