"""Frame stacking + the two-layer MLP that projects audio frames into the decoder's space."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn


class Adapter(nn.Module):
    """Concatenate ``factor`` consecutive 50 Hz encoder frames (-> 12.5 Hz) and project.

    ``[B, T, enc_dim] -> [B, T // factor, dim]``; T must be a multiple of ``factor`` (the streaming
    protocol feeds whole 80 ms tokens, so it always is).
    """

    def __init__(self, enc_dim: int, dim: int, factor: int):
        super().__init__()
        self.factor = factor
        self.w_in = nn.Linear(enc_dim * factor, dim, bias=False)
        self.w_out = nn.Linear(dim, dim, bias=False)

    def __call__(self, x: mx.array) -> mx.array:
        b, t, c = x.shape
        if t % self.factor:
            raise ValueError(f"adapter needs a multiple of {self.factor} frames, got {t}")
        x = x.reshape(b, t // self.factor, c * self.factor)
        return self.w_out(nn.gelu(self.w_in(x)))
