"""voxtral-mlx: Mistral's Voxtral Mini 4B Realtime streaming speech recognition on MLX."""

__version__ = "0.1.0"
