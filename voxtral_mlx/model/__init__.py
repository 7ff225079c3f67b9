"""The Voxtral Realtime network as pure MLX maths (no I/O, no devices, no printing).

Everything is time-major ``[B, T, C]``. Checkpoint names are mapped onto this module tree in
``voxtral_mlx.checkpoint.weights`` and nowhere else.
"""

from .voxtral import VoxtralRealtime

__all__ = ["VoxtralRealtime"]
