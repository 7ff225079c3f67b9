"""Model loaders for the live transcriber: callables returning ``(model, tokenizer)``, run on
the transcriber's thread so that it owns every MLX array (MLX streams belong to their thread).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


class FolderLoader:
    """``model_loader`` for a model folder or Hugging Face repo id, as the CLI loads it (a repo
    id is downloaded and converted to ``bits`` once, see :mod:`voxtral_mlx.checkpoint.cache`); it
    all runs on the transcriber's thread. ``on_progress(stage, done, total)`` while converting.
    """

    def __init__(self, model: str | Path, dtype: str | None = None, bits: int = 4,
                 on_progress: Callable[[str, int, int], None] | None = None):  # fmt: skip
        self.model, self.dtype, self.bits, self.on_progress = model, dtype, bits, on_progress
        self.description = str(model)

    def __call__(self):
        import mlx.core as mx

        from voxtral_mlx.checkpoint import weights
        from voxtral_mlx.checkpoint.cache import model_folder
        from voxtral_mlx.text.tokenizer import Tokenizer

        folder = model_folder(self.model, bits=self.bits, on_progress=self.on_progress)
        dtype = getattr(mx, self.dtype) if self.dtype else weights.default_dtype()
        model, _ = weights.load(folder, dtype=dtype)
        return model, Tokenizer.from_file(folder)


folder_loader = FolderLoader

__all__ = ["FolderLoader", "folder_loader"]
