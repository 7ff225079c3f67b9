"""voxtral-mlx: Mistral's Voxtral Mini 4B Realtime streaming speech recognition on MLX.

The public API, imported on first use (``import voxtral_mlx`` stays cheap and MLX-free)::

    from voxtral_mlx import load, Tokenizer, transcribe_file
    model, config = load("path/to/model")           # any supported layout
    tokenizer = Tokenizer.from_file("path/to/model/tekken.json")
    print(transcribe_file("talk.wav", model, tokenizer).text)

``StreamingSession`` (feed audio, read tokens as they are decided) and ``LiveTranscriber``
(one MLX thread serving live sources) are the streaming entry points.
"""

from voxtral_mlx import env

# Before anything imports mlx.core: on Linux, MLX's CPU matmuls then use the system OpenBLAS.
env.preload()
env.keep_compiled_kernels()

__version__ = "0.1.0"

_PUBLIC = {
    "load": "voxtral_mlx.checkpoint.weights",
    "model_folder": "voxtral_mlx.checkpoint.cache",
    "Tokenizer": "voxtral_mlx.text.tokenizer",
    "Transcript": "voxtral_mlx.text.transcript",
    "transcribe_file": "voxtral_mlx.decode.transcribe",
    "StreamingSession": "voxtral_mlx.decode.session",
    "LiveTranscriber": "voxtral_mlx.live.engine",
    "VoxtralError": "voxtral_mlx.errors",
}
__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'voxtral_mlx' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_PUBLIC[name]), name)
