"""Incremental audio front half of the model: samples -> mel -> conv stem -> encoder -> adapter.

Each stage is the streaming form of its batch counterpart and is tested to give the same
numbers for any chunking, so a live stream and a file produce identical audio embeddings.
Runs on the thread that owns MLX.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from voxtral_mlx.audio.mel import FRAMES_PER_TOKEN, StreamingMel
from voxtral_mlx.decode.silent_start import start_silently
from voxtral_mlx.model import VoxtralRealtime
from voxtral_mlx.model.encoder import ConvStemState
from voxtral_mlx.model.encoder_ring import RingCache

BIG_BLOCK = 64  # conv frames; live chunks are 4
# Conv frames per encoder call for live streams (the server's, the microphone's): blocks this
# small run through a KV cache of one shape (model/encoder_ring.py), which MLX CUDA's cuDNN
# attention needs to reuse its graphs; a backlog is caught up 1.28 s per call.
LIVE_BLOCK = BIG_BLOCK
# Conv frames per encoder call when audio comes in bulk (files). The attention scratch grows
# with the block and stops shrinking below 256 (what is left is the layers' KV caches; figures
# in docs/benchmarks.md); smaller blocks only add host work per second of audio.
FILE_BLOCK = 256


class AudioPipeline:
    """Turns 16 kHz samples into one decoder-input embedding per 80 ms token of padded audio.

    Position ``p`` covers padded samples ``[1280 p, 1280 (p + 1))``; the first
    ``left_pad_tokens`` positions are the protocol's left padding (silence). Embeddings become
    available as soon as their audio is in (everything is causal); ``finish()`` appends the
    right padding so the last words can be decoded.
    """

    def __init__(
        self,
        model: VoxtralRealtime,
        left_pad_tokens: int,
        right_pad_tokens: int,
        encoder_block: int = FILE_BLOCK,
    ):
        cfg = model.config
        self.model = model
        self.dtype = model.decoder.norm.weight.dtype
        self.conv_state = model.encoder.new_conv_state(dtype=self.dtype)
        self.factor = cfg.downsample_factor
        # Conv frames per encoder call: bounds attention scratch memory in file mode.
        self.encoder_block = max(self.factor, encoder_block - encoder_block % self.factor)
        # Live blocks: every stage sees whole tokens in pieces of 1, 2, 4 ... tokens up to the
        # block, so a stream's MLX work has a few shapes however its audio is sliced (mel.py).
        self.live = self.encoder_block <= LIVE_BLOCK
        tokens = self.encoder_block // self.factor
        self.mel = StreamingMel(cfg.audio.num_mel_bins, left_pad_tokens, right_pad_tokens,
                                quantum=FRAMES_PER_TOKEN if self.live else 1,
                                largest=FRAMES_PER_TOKEN * (1 << (tokens.bit_length() - 1)) if self.live else None)  # fmt: skip
        self.enc_cache = model.encoder.make_cache(self.encoder_block if self.live else None)
        self.bank = self.bank_row = None  # a FrontBank computing this stream with others
        self._conv_pending = mx.zeros((1, 0, cfg.encoder.dim), self.dtype)
        self._dim = cfg.dim
        # The embeddings as computed: parts [array, row, first, count] holding positions
        # ``_emb_start ..`` in order (part positions are ``array[row, first : first + count]``).
        # A bank's call output is shared by its rows' pipelines as it is: no op per row and
        # token to copy it out (at 64 server streams those ops were a good part of a turn).
        self._parts: list[list] = []
        self._emb_start = 0  # the position of the first part's first embedding
        self._held = 0  # positions the parts hold
        self.real_samples = 0
        self.closed = False  # no more audio (``finish``)
        self.finished = False  # and every position is available
        if self.live and all(isinstance(c, RingCache) for c in self.enc_cache):
            start_silently(self)

    @property
    def available(self) -> int:
        """Number of positions whose embedding exists (``0 .. available-1``)."""
        return self._emb_start + self._held

    def push(self, samples: np.ndarray) -> None:
        self.real_samples += len(samples)
        if self.bank is not None:  # the bank's next run computes it (front_bank.py)
            self.mel.add(samples)
            return
        for mel in self.mel.feed_parts(samples):
            self._consume(mel)

    def catch_up(self) -> None:
        """Compute what the mel holds, alone (a stream that left its bank); its end too if
        its audio ended (every position then available)."""
        if not self.closed:
            self.push(np.zeros(0, np.float32))
            return
        for mel in self.mel.remaining_parts():
            self._consume(mel)
        self.finished = True

    def append_embeddings(self, emb: mx.array, row: int = 0) -> None:
        """Positions computed elsewhere, in order: ``emb[row]`` (``[rows, k, dim]``, a bank's
        call for all its rows, held as it is)."""
        if emb.shape[1]:
            self._parts.append([emb, row, 0, emb.shape[1]])
            self._held += emb.shape[1]

    def finish(self) -> None:
        """Right padding in; every remaining position becomes available (``finished``): at
        once alone, over the bank's next runs in a bank (``FrontBank.run``)."""
        if self.closed:
            return
        self.closed = True
        if self.bank is not None:  # the bank computes the rest with its other rows
            self.mel.close_samples()
            return
        self.finished = True
        for mel in self.mel.close_parts():
            self._consume(mel)

    def embeddings(self, start: int, stop: int) -> mx.array:
        """Embeddings of positions ``start .. stop-1`` as ``[1, n, dim]`` (must be available
        and not yet dropped)."""
        pieces, at = [], self._emb_start
        for array, row, first, count in self._parts:
            lo, hi = max(start, at), min(stop, at + count)
            if lo < hi:
                pieces.append(array[row : row + 1, first + lo - at : first + hi - at])
            at += count
        if len(pieces) == 1:
            return pieces[0]
        if not pieces:
            return mx.zeros((1, 0, self._dim), self.dtype)
        return mx.concatenate(pieces, axis=1)

    def embedding_at(self, position: int) -> tuple[mx.array, int, int]:
        """Where position ``position``'s embedding is: ``(array, row, index)``, the embedding
        being ``array[row, index]`` (``step_inputs`` gathers many rows' with one op)."""
        at = self._emb_start
        for array, row, first, count in self._parts:
            if position < at + count:
                if position < at:
                    break
                return array, row, first + position - at
            at += count
        raise IndexError(f"position {position} is not held ({self._emb_start}..{at - 1})")

    def drop_before(self, position: int) -> None:
        """Forget embeddings the decoder has consumed (keeps memory flat on long streams)."""
        k = min(position, self.available) - self._emb_start
        while k > 0 and self._parts:
            part = self._parts[0]
            gone = min(k, part[3])
            part[2] += gone
            part[3] -= gone
            self._emb_start += gone
            self._held -= gone
            k -= gone
            if not part[3]:
                self._parts.pop(0)

    def snapshot(self) -> tuple:
        """This pipeline's state before any audio came (``silent_start.py``): every array
        evaluated, each ring's written slots only."""
        rings = [(c.keys[:, :, : min(c.offset, c.slots)], c.values[:, :, : min(c.offset, c.slots)],
                  c.offset) for c in self.enc_cache]  # fmt: skip
        emb = self.embeddings(self._emb_start, self.available)
        arrays = (self.conv_state.buf1, self.conv_state.buf2, self._conv_pending, emb)
        mx.eval(arrays, rings)
        return self.mel.clone(), arrays, rings, self._emb_start

    def restore(self, snapshot: tuple) -> None:
        """Take a ``snapshot`` of a pipeline of the same model and shape (before any audio)."""
        mel, (buf1, buf2, pending, emb), rings, emb_start = snapshot
        self.mel = mel.clone(self.mel.right_pad_tokens)
        self.conv_state = ConvStemState(mx.array(buf1), mx.array(buf2))
        self._conv_pending, self._emb_start = mx.array(pending), emb_start
        self._parts, self._held = [], 0
        self.append_embeddings(mx.array(emb))
        for cache, (keys, values, offset) in zip(self.enc_cache, rings, strict=True):
            pad = [(0, 0), (0, 0), (0, cache.slots - keys.shape[2]), (0, 0)]
            cache.keys, cache.values = mx.pad(keys, pad), mx.pad(values, pad)
            cache.offset = offset

    def _consume(self, mel: mx.array) -> None:
        if mel.shape[0] == 0:
            return
        conv = self.model.encoder.conv_stem_step(mel[None].astype(self.dtype), self.conv_state)
        pending = mx.concatenate([self._conv_pending, conv], axis=1)
        usable = pending.shape[1] - pending.shape[1] % self.factor
        blocks = []
        for s in range(0, usable, self.encoder_block):
            x = pending[:, s : min(s + self.encoder_block, usable)]
            # Big blocks (files) evaluated layer by layer: bounds the scratch memory.
            every = x.shape[1] > BIG_BLOCK
            emb = self.model.adapter(self.model.encoder.transformer(x, self.enc_cache, every))
            mx.eval(emb)  # keep graphs small; the cache is updated in place
            blocks.append(emb)
        self._conv_pending = pending[:, usable:]
        for emb in blocks:
            self.append_embeddings(emb)
