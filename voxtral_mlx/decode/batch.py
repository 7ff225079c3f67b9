"""Several independent audio streams decoded side by side, one batched decoder step each.

A decoder step costs about the same for one stream as for eight: on Apple GPUs it is bound by
reading the weights (a batch reads them once), on MLX's CUDA backend by launching its ~500
ops (benchmarks/lab/step_lab.py), on the CPU by memory bandwidth. Long files use this through
``pieces.py``, several files through ``file_batch.py``; each stream here follows the exact StreamingSession protocol (left padding,
prompt, one token per 80 ms, right padding, last padded position never fed), so a batch of
one gives the session's tokens and every row gives what a session alone would give it.

An EOS before a row's audio ends hands the rest of that row to a StreamingSession, which
restarts on it as a live session would (session.py), so nothing after the EOS is lost.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from voxtral_mlx.decode.audio_pipeline import FILE_BLOCK, AudioPipeline
from voxtral_mlx.decode.session import StreamingSession
from voxtral_mlx.model import VoxtralRealtime
from voxtral_mlx.model.fast_step import FastStepper
from voxtral_mlx.protocol import StreamProtocol
from voxtral_mlx.text.detokenizer import StreamingDetokenizer
from voxtral_mlx.text.tokenizer import Tokenizer
from voxtral_mlx.text.transcript import TokenEvent

PROGRESS_EVERY = 32  # steps between progress calls


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C (or a signal) during a batch: what each row had decoded, and which rows ended.

    ``events[i]`` are row ``i``'s token events so far; ``finished[i]`` says the row ran to its
    end, so the last word of an unfinished row may still have been growing.
    """

    def __init__(self, events: list[list[TokenEvent]], finished: list[bool]):
        super().__init__("interrupted")
        self.events, self.finished = events, finished


class BatchDecoder:
    """Decode lists of whole audio clips as one batch; rows get their own token events.

    Runs on the MLX thread. ``delay_ms`` as in StreamingSession (validated there).
    """

    def __init__(self, model: VoxtralRealtime, tokenizer: Tokenizer, delay_ms: int | None = None):
        self._proto = StreamProtocol.of(model.config, tokenizer, delay_ms)
        self.model, self.tokenizer = model, tokenizer
        self.delay_ms = self._proto.delay_ms
        # The same compiled step functions as the sessions of this delay.
        self._stepper = FastStepper.for_delay(model.decoder, self._proto.n_delay)
        self.steps = 0  # batched decoder steps run (benchmarks divide time by it)

    def decode(self, clips: list, on_progress=None) -> list[list[TokenEvent]]:
        """Token events per clip, times in seconds from that clip's first sample.

        A clip is an array of samples, or a list of the blocks a single stream would be fed
        (the encoder then runs on the same pieces, so its numbers are the stream's exactly).
        ``on_progress(fraction)`` is called every ``PROGRESS_EVERY`` steps.
        """
        proto = self._proto
        blocks = [c if isinstance(c, list) else [c] for c in clips]
        clips = [np.concatenate(b) if len(b) > 1 else b[0] for b in blocks]
        embs = []
        for pieces in blocks:
            pipe = AudioPipeline(self.model, proto.n_left, proto.right_pad_tokens, FILE_BLOCK)
            for piece in pieces:
                pipe.push(piece)
            pipe.finish()
            embs.append(pipe.embeddings(0, pipe.available))
        n = [e.shape[1] for e in embs]
        width = max(n)
        # One [B, positions, dim] array (shorter rows padded; their extra tokens are dropped),
        # so a step slices its inputs with one op whatever the batch size.
        audio = mx.concatenate(
            [mx.pad(e, [(0, 0), (0, width - k), (0, 0)]) for e, k in zip(embs, n, strict=True)]
        )
        mx.eval(audio)
        del embs
        b, p = len(clips), len(proto.prompt)
        last = [k - 1 for k in n]  # positions < last[i] are fed to row i (session semantics)
        if min(last) < p:
            # Too short for the prompt: the session path (it yields no tokens for these).
            return [self._single(c) for c in clips]
        prompt = mx.array([proto.prompt])
        xs = [self._stepper.inputs(prompt, audio[i : i + 1, :p]) for i in range(b)]
        token = self._stepper.prefill_rows(xs, reserve=max(last))
        mx.async_eval(token)
        detoks = [StreamingDetokenizer(self.tokenizer) for _ in clips]
        events: list[list[TokenEvent]] = [[] for _ in clips]
        live = [True] * b
        rest_from: dict[int, int] = {}  # row -> sample where a session takes over after EOS
        seconds = [len(c) / proto.sample_rate for c in clips]
        pos = p - 1  # the position whose token ``token`` is
        try:
            self._run(
                token, pos, audio, last, live, detoks, events, rest_from, seconds, on_progress
            )
            self._stepper.release()
            for i, start in list(rest_from.items()):  # rows that met an EOS before their end
                offset = start / proto.sample_rate
                events[i] += [e.shifted(offset) for e in self._single(clips[i][start:])]
                del rest_from[i]
        except KeyboardInterrupt:
            self._stepper.release()
            ended = [not live[i] and i not in rest_from for i in range(b)]
            raise BatchInterrupted(events, ended) from None
        return events

    def _run(self, token, pos, audio, last, live, detoks, events, rest_from, seconds, on_progress):
        """The batched steps; fills ``events`` row by row (kept if an interrupt stops it)."""
        proto, b, p = self._proto, len(live), len(self._proto.prompt)
        while True:
            more = any(live[i] and pos + 1 < last[i] for i in range(b))
            if more:  # queue the next step before reading this one (double buffering)
                x = self._stepper.inputs(token.reshape(b, 1), audio[:, pos + 1 : pos + 2])
                nxt = self._stepper.step(x)
                mx.async_eval(nxt)
                self.steps += 1
            ids = np.array(token).tolist()  # the one host sync per step
            for i, tid in enumerate(ids):
                if not live[i] or pos >= last[i]:
                    continue
                piece = detoks[i].push_event(tid)
                start = min(max(proto.token_sample(pos) / proto.sample_rate, 0.0), seconds[i])
                end = min(start + proto.token_seconds, seconds[i])
                events[i].append(TokenEvent(tid, piece.text, start, end, piece.word_start))
                if pos + 1 >= last[i]:
                    live[i] = False  # its last position: the row is complete
                if tid == self.tokenizer.eos_id:
                    live[i] = False
                    if pos + 1 < last[i]:
                        rest_from[i] = max(0, proto.token_sample(pos + 1))
            if not more:
                break
            token, pos = nxt, pos + 1
            if on_progress is not None and (pos - p) % PROGRESS_EVERY == 0:
                on_progress((pos - p) / max(1, max(last) - p))

    def _single(self, clip: np.ndarray) -> list[TokenEvent]:
        if clip.size == 0:
            return []
        session = StreamingSession(self.model, self.tokenizer, delay_ms=self.delay_ms)
        session.feed(clip)
        session.close()
        out: list[TokenEvent] = []
        while not session.done:
            out += session.step()
        return out
