"""What tests, benchmarks and the self-tests run on instead of the real weights and a microphone:
one copy each of the tiny (and full-size) ``params.json``, the random models, tokenizers and
checkpoint folders, and the fake ``sounddevice`` module.

- :mod:`~voxtral_mlx.testing.params`: ``tiny_params``, ``realtime_4b_params``
- :mod:`~voxtral_mlx.testing.models`: ``tiny_model``, ``tekken_dict``, ``tiny_tokenizer``,
  ``write_tiny_checkpoint``, ``write_random_checkpoint``
- :mod:`~voxtral_mlx.testing.devices`: ``FakeSoundDevice``, ``FakeDevice``, ``FileSoundDevice``

Module-level imports are stdlib only (the packaged app's launcher imports this before anything
heavy): MLX, numpy and soundfile are imported by the functions that use them.
"""

from voxtral_mlx.testing.devices import (
    DEVICE_NAME,
    CallbackFlags,
    FakeDevice,
    FakeInputStream,
    FakeSoundDevice,
    FileSoundDevice,
    PortAudioError,
    stereo_at,
)
from voxtral_mlx.testing.models import (
    NUM_SPECIAL,
    RANDOM_NOTE,
    SPECIALS,
    WORDS,
    random_weight,
    tekken_dict,
    tiny_model,
    tiny_tokenizer,
    write_random_checkpoint,
    write_tiny_checkpoint,
)
from voxtral_mlx.testing.params import realtime_4b_params, tiny_params

__all__ = [
    "DEVICE_NAME", "NUM_SPECIAL", "RANDOM_NOTE", "SPECIALS", "WORDS", "CallbackFlags", "FakeDevice",
    "FakeInputStream", "FakeSoundDevice", "FileSoundDevice", "PortAudioError", "random_weight",
    "realtime_4b_params", "stereo_at", "tekken_dict", "tiny_model", "tiny_params",
    "tiny_tokenizer", "write_random_checkpoint", "write_tiny_checkpoint",
]  # fmt: skip
