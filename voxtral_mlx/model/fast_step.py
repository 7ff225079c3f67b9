"""Single-token decoder steps with as few kernels per layer as the maths allows.

On MLX's CUDA backend a full-size step is bound by the host: every op costs microseconds to
build and launch and the GPU then waits, whatever the bit width (docs/benchmarks.md, measured
with benchmarks/lab/step_lab.py). So the step is written to launch few ops: fused q/k/v and
gate/up matmuls with one RoPE for q and k (``fused.py``), the delay gain folded into the FFN
norm's weight (``rms(h) * w * g`` is one norm with weight ``w * g``), the attention output
reshaped without a transpose copy, and the KV cache in preallocated ring buffers
(``lanes.py``) written in place by ``slice_update`` and attended without a mask. Each layer
runs as two compiled functions around its KV write and attention, so the host replays
recorded ops instead of building them in Python (see ``_pre`` and ``_post``; a whole-step
``mx.compile`` was no faster when measured: it would copy the cache and needs a mask for
fixed shapes).

Many rows, one step (``step_lanes``): lanes of any positions and rows of any delays share the
matmuls of a step (one ``[rows, 1, dim]`` batch); each lane attends over its own buffers, RoPE
takes each row's own position, and the FFN norm takes each row's own delay gain (consecutive
rows of one delay normed together with their folded weight). Every op is then the one a lane alone would run, on
its rows: a row's bits do not depend on the others wherever the matmul kernels are row-
invariant (``decode/exact_rows.py`` measures it).

MLX behaviour this relies on, checked on mlx 0.32.4 (tests/model/test_mlx_tricks.py): a plain
Python object set on a module (``_fast_step_compiled``) stays out of its parameter tree.
"""

from __future__ import annotations

import mlx.core as mx

from .decoder import Decoder
from .lane_bank import LaneBank
from .lanes import Lane
from .lm_caches import RotatingKVCache


class _Compiled:
    """Compiled functions of one decoder: the layers' first halves, the head and the inputs
    (the same for every delay), and per delay key its folded FFN weights and second halves.

    Kept on the decoder as a plain attribute (not in its parameter tree), so it goes with the
    model: a global table would keep every model ever loaded alive through its closures.
    """

    def __init__(self):
        self.by_key: dict = {}


def _shared(decoder: Decoder) -> dict:
    store = getattr(decoder, "_fast_step_compiled", None)
    if store is None:
        store = decoder._fast_step_compiled = _Compiled()
    return store.by_key


class _Keys:
    """A cache's keys and values in temporal order, as ``Lane.start`` reads them."""

    def __init__(self, keys: mx.array, values: mx.array):
        self.keys, self.values = keys, values


def _in_order(cache, n: int) -> _Keys:
    """A cache after two multi-token updates (positions ``0..n-1``) as ``Lane.start`` reads
    one: key ``p`` at index ``p``. A rotating cache holds the last positions in temporal
    order (it dropped the oldest beyond its window at the second update); the dropped ones
    are zeros here, never read (``Lane.start`` keeps the last ``window``)."""
    if isinstance(cache, RotatingKVCache):
        k, v = cache.keys, cache.values
    else:
        k, v = cache.keys[..., : cache.offset, :], cache.values[..., : cache.offset, :]
    gone = n - k.shape[2]
    if gone > 0:
        pad = [(0, 0), (0, 0), (gone, 0), (0, 0)]
        k, v = mx.pad(k, pad), mx.pad(v, pad)
    return _Keys(k, v)


class FastStepper:
    """Single-token steps after a prefill done with mlx-lm caches, for one delay.

    ``start(cache, n)`` takes the prefilled caches (positions ``0..n-1``) into the stepper's
    own lane; ``step(x)`` feeds the embeddings ``x [B, 1, dim]`` at the next position and
    returns the greedy tokens (lazy, shape ``[B]``; B rows at the same position,
    decode/batch.py). One stepper serves a whole session (restarts included). Lanes made with
    ``prefill_lane`` step together with other steppers' lanes through ``step_lanes``.
    """

    def __init__(self, decoder: Decoder, gains: list, key=None):
        """``key``: names ``gains`` (e.g. the delay in tokens) so that steppers of the same
        decoder and key share their compiled functions: a new session then replays traced
        graphs instead of tracing ~2 functions per layer again."""
        self.dec, self.gains, self.key = decoder, gains, key
        self.eps = decoder.cfg.norm_eps
        self.window = decoder.kv_window
        shared = _shared(decoder) if key is not None else {}
        if "pre" not in shared:
            shared["pre"] = [mx.compile(self._pre(i)) for i in range(len(decoder.layers))]
            shared["head"], shared["inputs"] = self._head_and_inputs(decoder)
        if ("delay", key) not in shared:
            ffn_w = [
                layer.ffn_norm.weight * g if g is not None else layer.ffn_norm.weight
                for layer, g in zip(decoder.layers, gains, strict=True)
            ]
            mx.eval(ffn_w)
            posts = self._posts(((ffn_w, 0, None),))
            shared[("delay", key)] = (ffn_w, list(zip(shared["pre"], posts, strict=True)))
        self._shared = shared
        self.ffn_w, self._halves = shared[("delay", key)]
        self._head, self.inputs = shared["head"], shared["inputs"]
        self.lane = Lane(self.window)

    @classmethod
    def for_delay(cls, decoder: Decoder, n_delay: int) -> FastStepper:
        """The stepper for a delay of ``n_delay`` tokens (its compiled functions shared with
        every other stepper of this decoder and delay)."""
        shared = _shared(decoder)
        gains = shared.get(("gains", n_delay))
        if gains is None:  # once: each new stream's evaluation waited for the device
            gains = shared[("gains", n_delay)] = decoder.ffn_gains(n_delay)
            mx.eval(gains)
        return cls(decoder, gains, key=n_delay)

    # The stepper's own lane, as before lanes existed (a session, a batch of files).
    ks = property(lambda self: self.lane.ks)
    vs = property(lambda self: self.lane.vs)
    pos = property(lambda self: self.lane.pos)

    def prefill(self, x: mx.array, reserve: int | None = None) -> mx.array:
        """Run the prompt embeddings ``x [B, n, dim]`` (positions ``0..n-1``) through the
        decoder, take over its caches, and return the greedy tokens at position ``n - 1``."""
        cache, token = self._prompt(x)
        self.start(cache, x.shape[1], reserve)
        return token

    def prefill_lane(self, x: mx.array, reserve: int | None = None) -> tuple[Lane, mx.array]:
        """Like ``prefill`` into a new lane of this delay (for ``step_lanes``)."""
        cache, token = self._prompt(x)
        lane = Lane(self.window)
        lane.start(cache, x.shape[1], reserve)
        return lane, token

    def prefix(self, x: mx.array) -> list[tuple[mx.array, mx.array]]:
        """The keys and values of a prompt's first positions ``x [1, n, dim]`` (evaluated), for
        ``prefill_lane_from``: prompts that start alike (every live stream's left padding)."""
        cache = self.dec.make_cache()
        self.dec.hidden(x, self.gains, cache, eval_each_layer=True)
        n = x.shape[1]
        kv = [(c.keys[..., :n, :], c.values[..., :n, :]) for c in cache]
        mx.eval(kv)
        return kv

    def prefix_lane(self, prefix: list) -> Lane:
        """A lane of one row holding ``prefix`` (a prompt's first positions, from ``prefix``)
        in its ring layout, at the next position: rows that start there copy it."""
        n = prefix[0][0].shape[2]  # one multi-token update: a rotating cache kept all n
        lane = Lane(self.window)
        lane.start([_Keys(k, v) for k, v in prefix], n, reserve=n + 1)
        return lane

    def prefill_lane_from(self, prefix: list, x: mx.array, reserve: int | None = None):
        """Like ``prefill_lane`` for rows whose prompts start with ``prefix`` (one row's, from
        ``prefix``): only the rest of each prompt, ``x [B, m, dim]``, runs, attending over the
        prefix. Another split of the same maths: the bits may differ from a whole prefill's
        (the matmuls' shapes change), so only the opt-in banks use it."""
        rows = x.shape[0]
        cache = self.dec.make_cache()
        for c, (k, v) in zip(cache, prefix, strict=True):
            c.update_and_fetch(mx.repeat(k, rows, axis=0), mx.repeat(v, rows, axis=0))
        token = self._head(self.dec.hidden(x, self.gains, cache, eval_each_layer=True)[:, -1:])
        n = prefix[0][0].shape[2] + x.shape[1]
        lane = Lane(self.window)
        lane.start([_in_order(c, n) for c in cache], n, reserve)
        return lane, token

    def _prompt(self, x: mx.array) -> tuple[list, mx.array]:
        """A prompt through the decoder: its mlx-lm caches and the greedy tokens at its end."""
        cache = self.dec.make_cache()
        # The head on the last position only: [B, n, vocab] logits would be 10-20 MB per row.
        token = self._head(self.dec.hidden(x, self.gains, cache, eval_each_layer=True)[:, -1:])
        return cache, token

    def prefill_rows(self, xs: list[mx.array], reserve: int | None = None) -> mx.array:
        """Each row's prompt ``[1, n, dim]`` through the decoder alone, then one batch of them.

        A row's prefill is then exactly the computation a single stream does (a batch of
        prompts would give the matmuls other shapes, which some kernels round differently);
        steps after it are shared. Returns the rows' greedy tokens ``[B]``.
        """
        caches, tokens = zip(*(self._prompt(x) for x in xs), strict=True)
        n = xs[0].shape[1]
        merged = [
            _Keys(
                mx.concatenate([c[i].keys[..., :n, :] for c in caches]),
                mx.concatenate([c[i].values[..., :n, :] for c in caches]),
            )
            for i in range(len(self.dec.layers))
        ]
        self.start(merged, n, reserve)
        return mx.concatenate(list(tokens))

    def start(self, cache: list, n: int, reserve: int | None = None) -> None:
        """Take over mlx-lm caches right after one prefill of positions ``0..n-1``."""
        self.lane.start(cache, n, reserve)

    def release(self) -> None:
        """Drop the KV buffers (a long-lived stepper between batches)."""
        self.lane.release()

    def step(self, x: mx.array) -> mx.array:
        return self.step_lanes([(self.lane, [self] * self.lane.rows)], x)

    def step_lanes(self, parts: list[tuple[Lane, list[FastStepper]]], x: mx.array) -> mx.array:
        """One position for every lane: ``x [rows, 1, dim]`` holds the lanes' rows in order;
        returns their greedy tokens ``[rows]`` (lazy). ``parts`` pairs each lane with the
        stepper of each of its rows' delays (steppers of this decoder). Each lane then stands
        at its next position.
        """
        lanes = [lane for lane, _ in parts]
        halves = self._halves_for([s for _, steppers in parts for s in steppers])
        bounds = [0]
        for lane in lanes:
            bounds.append(bounds[-1] + lane.rows)
        if len({lane.pos for lane in lanes}) == 1:
            offset = mx.array(lanes[0].pos, mx.int32)
        else:  # RoPE at each row's own position
            offset = mx.array([lane.pos for lane in lanes for _ in range(lane.rows)], mx.int32)
        places = [lane.prepare() for lane in lanes]
        for i, (pre, post) in enumerate(halves):
            q, k, v = pre(x, offset)
            scale = self.dec.layers[i].attention.scale
            if len(lanes) == 1:
                attn = lanes[0].attend(i, q, k, v, scale, *places[0])
            else:
                attn = mx.concatenate([
                    lane.attend(i, q[a:b], k[a:b], v[a:b], scale, *place)
                    for lane, place, a, b in zip(lanes, places, bounds, bounds[1:], strict=False)
                ])  # fmt: skip
            x = post(x, attn)
        for lane in lanes:
            lane.pos += 1
        return self._head(x)

    def step_bank(self, bank: LaneBank, x: mx.array, active: list[bool]) -> mx.array:
        """One position for the ``active`` rows of a bank (every row of this delay):
        ``x [bank rows, 1, dim]`` (rows not active: anything); returns every row's greedy
        token ``[bank rows]`` (lazy; read only the active rows'). One KV write and one
        attention per layer for all rows, whatever their positions (``lane_bank.py``); only
        the active rows move on."""
        offset, index, mask = bank.plan()
        for i, (pre, post) in enumerate(self._halves):
            q, k, v = pre(x, offset)
            attn = bank.attend(i, q, k, v, self.dec.layers[i].attention.scale, index, mask)
            x = post(x, attn)
        bank.advance(active)
        return self._head(x)

    def _halves_for(self, steppers: list[FastStepper]) -> list:
        """The layer halves for rows of these steppers' delays, in this order (compiled once
        per layout of delays when every stepper has a key)."""
        groups: list[list] = []  # consecutive rows of one delay: [stepper, first, end]
        for row, stepper in enumerate(steppers):
            if groups and groups[-1][0].key == stepper.key and stepper.key is not None:
                groups[-1][2] = row + 1
            elif groups and groups[-1][0] is stepper:
                groups[-1][2] = row + 1
            else:
                groups.append([stepper, row, row + 1])
        if len(groups) == 1:
            return groups[0][0]._halves
        layout = ("layout", tuple((s.key, a, b) for s, a, b in groups))
        shareable = all(s.key is not None for s, _, _ in groups)
        if not shareable or layout not in self._shared:
            posts = self._posts(tuple((s.ffn_w, a, b) for s, a, b in groups))
            halves = list(zip(self._shared["pre"], posts, strict=True))
            if not shareable:
                return halves
            self._shared[layout] = halves
        return self._shared[layout]

    def _pre(self, i: int):
        layer = self.dec.layers[i]
        att, eps = layer.attention, self.eps

        def pre(x, offset):
            return att.project(mx.fast.rms_norm(x, layer.attention_norm.weight, eps), offset)

        return pre

    def _posts(self, groups: tuple) -> list:
        """Each layer's second half for rows ``a:b`` normed with FFN weights ``w`` per group
        (one group of all rows: the plain single-delay half)."""
        eps, posts = self.eps, []
        for i, layer in enumerate(self.dec.layers):
            att, ffn = layer.attention, layer.feed_forward
            parts = [(w[i], a, b) for w, a, b in groups]

            def post(x, attn, att=att, ffn=ffn, parts=parts):
                h = x + att.output(attn)
                if len(parts) == 1:
                    normed = mx.fast.rms_norm(h, parts[0][0], eps)
                else:
                    normed = mx.concatenate([mx.fast.rms_norm(h[a:b], w, eps) for w, a, b in parts])
                return h + ffn(normed)

            posts.append(mx.compile(post))
        return posts

    @staticmethod
    def _head_and_inputs(decoder: Decoder) -> tuple:
        def head(x):
            logits = decoder.tok_embeddings.as_linear(decoder.norm(x))
            return mx.argmax(logits[:, -1], axis=-1)

        # Inputs of positions: token embeddings plus audio, for the prefill and every step
        # (the packed embedding's lookup is several ops).
        inputs = mx.compile(lambda ids, audio: decoder.embed(ids) + audio)
        return mx.compile(head), inputs
