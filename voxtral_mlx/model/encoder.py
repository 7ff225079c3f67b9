"""The causal audio encoder: conv stem (100 Hz mel -> 50 Hz frames) and a sliding-window transformer."""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn

from ..config import EncoderArgs
from .blocks import PreNormLayer, attention_mask, make_cache
from .encoder_ring import RingCache


class EncoderLayer(PreNormLayer):
    def __init__(self, args: EncoderArgs):
        super().__init__(args.dim, args.n_heads, args.kv_heads, args.head_dim, args.hidden_dim,
                         args.rope_theta, args.norm_eps, biases=args.use_biases)  # fmt: skip


@dataclass
class ConvStemState:
    """Streaming state of the conv stem: the input frames each causal conv still needs.

    ``conv1`` (kernel 3, stride 1) keeps its last 2 input frames; ``conv2`` (kernel 3, stride 2)
    keeps the frames from the start of its next window. Both start as the causal left padding
    (zeros), so streamed output equals the batch output for any chunking.
    """

    buf1: mx.array
    buf2: mx.array


class AudioEncoder(nn.Module):
    """Conv stem + ``n_layers`` pre-norm transformer layers + final RMSNorm.

    Contract: ``__call__(mel)`` on mel ``[B, T, n_mels]`` returns ``[B, T // 2, dim]`` for even T.
    The attention is causal with a sliding window of ``args.sliding_window`` frames; inputs
    longer than the window are run in window-sized blocks through rotating KV caches so memory
    stays bounded and results equal the full masked computation.
    """

    def __init__(self, args: EncoderArgs):
        super().__init__()
        self.args = args
        n_mels = args.audio_encoding_args.num_mel_bins
        self.conv1 = nn.Conv1d(n_mels, args.dim, kernel_size=3, stride=1, bias=True)
        self.conv2 = nn.Conv1d(args.dim, args.dim, kernel_size=3, stride=2, bias=True)
        self.layers = [EncoderLayer(args) for _ in range(args.n_layers)]
        self.norm = nn.RMSNorm(args.dim, eps=args.norm_eps)

    # ---- conv stem --------------------------------------------------------------------------
    def conv_stem(self, mel: mx.array) -> mx.array:
        """Batch conv stem: causal left padding of 2 (conv1) and 1 (conv2) frames, no right pad."""
        x = mx.pad(mel, [(0, 0), (2, 0), (0, 0)])
        x = nn.gelu(self.conv1(x))
        x = mx.pad(x, [(0, 0), (1, 0), (0, 0)])
        return nn.gelu(self.conv2(x))

    def new_conv_state(self, batch: int = 1, dtype=mx.float32) -> ConvStemState:
        n_mels = self.args.audio_encoding_args.num_mel_bins
        return ConvStemState(
            buf1=mx.zeros((batch, 2, n_mels), dtype=dtype),
            buf2=mx.zeros((batch, 1, self.args.dim), dtype=dtype),
        )

    def conv_stem_step(self, mel: mx.array, state: ConvStemState) -> mx.array:
        """Streaming conv stem: feed any number of mel frames, get the conv frames now final."""
        empty = mx.zeros((mel.shape[0], 0, self.args.dim), dtype=mel.dtype)
        x = mx.concatenate([state.buf1.astype(mel.dtype), mel], axis=1)
        state.buf1 = x[:, -2:]
        if x.shape[1] < 3:
            return empty
        y = mx.concatenate([state.buf2.astype(mel.dtype), nn.gelu(self.conv1(x))], axis=1)
        n_out = (y.shape[1] - 1) // 2  # stride-2 windows of 3 frames that are complete
        state.buf2 = y[:, 2 * n_out :]
        return nn.gelu(self.conv2(y[:, : 2 * n_out + 1])) if n_out else empty

    # ---- transformer ------------------------------------------------------------------------
    def make_cache(self, block: int | None = None) -> list:
        """The layers' KV caches. ``block``: every call will bring at most this many frames,
        so a ring of fixed shape can hold the window (``encoder_ring.py``: live streams)."""
        window = self.args.sliding_window
        if block is not None and window is not None:
            return [RingCache(window, block) for _ in self.layers]
        return [make_cache(window) for _ in self.layers]

    def transformer(
        self, x: mx.array, cache: list | None = None, eval_each_layer: bool = False
    ) -> mx.array:
        """Run the layers on conv frames ``x``; with ``cache`` positions continue from its offset.

        ``eval_each_layer``: evaluate after each layer. For blocks of hundreds of
        frames: a GPU backend may keep a graph's scratch (attention scores of every layer)
        until the whole graph has run; on MLX CUDA an eval after every layer peaked lowest of
        the choices measured (docs/benchmarks.md, H200 notes).
        """
        mask = attention_mask(x.shape[1], cache[0] if cache else None, self.args.sliding_window)
        for i, layer in enumerate(self.layers):
            x = layer(x, mask, cache[i] if cache else None)
            if eval_each_layer:
                mx.eval(x)
        return self.norm(x)

    def __call__(self, mel: mx.array) -> mx.array:
        x = self.conv_stem(mel)
        window = self.args.sliding_window
        if window is None or x.shape[1] <= window:
            return self.transformer(x)
        cache = self.make_cache()
        blocks = [
            self.transformer(x[:, s : s + window], cache) for s in range(0, x.shape[1], window)
        ]
        return mx.concatenate(blocks, axis=1)
