"""Shared test helpers: tiny model configs (never full size in tests)."""

from __future__ import annotations

import os

import pytest

import voxtral_mlx  # noqa: F401  (first: on Linux it loads OpenBLAS before mlx.core)

from .tiny_configs import tiny_params

# Qt must never try to open a display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def tiny_model():
    """A tiny random model (fp32, evaluated) whose windows a few seconds of audio cross."""
    import mlx.core as mx
    from mlx.utils import tree_map

    from voxtral_mlx.config import ModelConfig
    from voxtral_mlx.model import VoxtralRealtime

    mx.random.seed(0)
    model = VoxtralRealtime(ModelConfig.from_dict(tiny_params()))
    # Larger weights than the default init so outputs vary with the input.
    model.update(tree_map(lambda w: w * 3.0, model.parameters()))
    mx.eval(model.parameters())
    return model
