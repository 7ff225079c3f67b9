"""The full Voxtral Realtime model: audio encoder -> adapter -> delay-conditioned decoder."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ..config import ModelConfig
from .adapter import Adapter
from .decoder import Decoder
from .encoder import AudioEncoder


class VoxtralRealtime(nn.Module):
    """Voxtral Mini Realtime as pure MLX maths.

    Decoder position ``p`` sees ``audio_embeds[p] + embed(token_in[p])`` (a sum, not a splice),
    where ``audio_embeds[p]`` covers mel frames ``8p .. 8p+7`` of the padded audio and
    ``token_in[p]`` is the prompt token or the token emitted at ``p - 1``.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        enc = config.encoder
        self.encoder = AudioEncoder(enc)
        self.adapter = Adapter(enc.dim, config.dim, config.downsample_factor)
        self.decoder = Decoder(config)

    def encode(self, mel: mx.array) -> mx.array:
        """Mel ``[B, T, n_mels]`` (T a multiple of 8) -> audio embeddings ``[B, T // 8, dim]``."""
        return self.adapter(self.encoder(mel))

    def __call__(self, input_ids: mx.array, mel: mx.array, n_delay_tokens: float) -> mx.array:
        """Offline teacher-forced forward: one logit row per decoder position.

        ``input_ids`` ``[B, P]`` must have one id per 80 ms of ``mel`` (``P == T // 8``).
        """
        audio = self.encode(mel)
        if audio.shape[1] != input_ids.shape[1]:
            raise ValueError(f"{input_ids.shape[1]} ids for {audio.shape[1]} audio positions")
        x = self.decoder.embed(input_ids) + audio
        return self.decoder(x, self.decoder.ffn_gains(n_delay_tokens))

    def greedy(
        self,
        mel: mx.array,
        prompt: list[int],
        n_delay_tokens: float,
        eos_id: int | None = None,
    ) -> list[int]:
        """Offline greedy decoding: prefill ``prompt`` then one token per remaining position.

        Like transformers' ``generate`` the sequence stops at ``T // 8`` positions in total
        (``T // 8 - len(prompt)`` new tokens) or after ``eos_id``. Returns the new ids.
        """
        audio = self.encode(mel)
        n_pos = audio.shape[1]
        gains = self.decoder.ffn_gains(n_delay_tokens)
        cache = self.decoder.make_cache()
        p = len(prompt)
        x = self.decoder.embed(mx.array([prompt])) + audio[:, :p]
        logits = self.decoder(x, gains, cache)[:, -1]
        out: list[int] = []
        while True:
            token = int(mx.argmax(logits, axis=-1).item())
            out.append(token)
            if token == eos_id or p >= n_pos - 1:
                return out
            x = self.decoder.embed(mx.array([[token]])) + audio[:, p : p + 1]
            logits = self.decoder(x, gains, cache)[:, -1]
            p += 1
