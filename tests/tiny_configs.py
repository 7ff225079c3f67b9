"""Tiny model configs for tests (never full size in tests): see ``voxtral_mlx.config.tiny_params``."""

from voxtral_mlx.config import tiny_params

__all__ = ["tiny_params"]
