"""Many rows of one model decoded as one batch: the live engine's core and a single stream's.

A *row* is one stream of tokens at one delay (its prompt, delay gains, KV lane, detokenizer).
A *feed* is the encoder work over one audio stream from one start point: the mel, conv stem,
encoder and adapter do not depend on the delay, so rows that start on the same audio at the
same moment share a feed (a draft row and a final row), each reading the embeddings at its
own positions. Decoder position ``p`` of every row on a feed reads embedding ``p``; a row of a
longer delay has a longer prompt, so it starts later and catches up.

Each round, rows with audio for their next position step together (``FastStepper.step_lanes``:
shared matmuls, own attention, own position and delay gain), at most ``max_rows`` at a time
where the device's kernels give a row its single-stream bits only for so many
(``exact_rows``). Every row's tokens are then exactly what a ``StreamingSession`` of its delay
gives for its audio. Rows join and leave between rounds; nothing else is disturbed.

The protocol of a row (shared/model-spec.md section 3) is ``StreamingSession``'s: see
``decode/session.py`` for the padding, the token times and the restart after an EOS (a row
that restarts moves to a feed of its own, from the audio it had not yet transcribed).
"""

from __future__ import annotations

import mlx.core as mx

from voxtral_mlx.decode.audio_pipeline import FILE_BLOCK, LIVE_BLOCK
from voxtral_mlx.decode.bank_rows import padded_rows
from voxtral_mlx.decode.decoder_bank import DecoderBank
from voxtral_mlx.decode.exact_rows import exact_rows
from voxtral_mlx.decode.front_bank import FrontBank
from voxtral_mlx.decode.index_kernels import warm_index_kernels
from voxtral_mlx.decode.row import Feed, Row, State, step_inputs
from voxtral_mlx.model import VoxtralRealtime
from voxtral_mlx.model.fast_step import FastStepper
from voxtral_mlx.model.lanes import Lane
from voxtral_mlx.protocol import StreamProtocol
from voxtral_mlx.text.tokenizer import Tokenizer
from voxtral_mlx.text.transcript import TokenEvent

__all__ = ["Feed", "Row", "RowBatch", "State"]

# Rounds (one token for each row stepping): MLX keeps freed buffers for reuse, and a clear
# hands them back. Counting rounds, not tokens, a one-stream session clears as often as
# before, and a server's 64 rows do not clear 64 times as often (each clear, every buffer of
# the next step allocated again).
CLEAR_CACHE_EVERY = 512


class RowBatch:
    """Rows of one model stepped as one batch, on the thread that loaded the model.

    ``add_feed`` starts an audio stream's encoder work, ``add_row`` decodes a feed at a delay,
    ``Feed.push`` gives a feed audio and ``finish`` ends it, ``step`` decodes what the audio
    allows and returns ``(row, event)`` pairs in decoding order; ``remove_row`` ends a row.
    """

    def __init__(self, model: VoxtralRealtime, tokenizer: Tokenizer,
                 encoder_block: int = FILE_BLOCK, max_rows: int | None = None,
                 bank_rows: int | None = None):  # fmt: skip
        self.model, self.tokenizer, self.encoder_block = model, tokenizer, encoder_block
        self.rows: list[Row] = []
        self._max_rows = max_rows  # measured at the first batch of more rows than it allows
        self._measured = 1
        self._rounds = 0
        # Opt-in (``bank_rows``; may change words): live feeds' front ends in one call for all
        # (front_bank.py; its rows are encoder rings, so a model without an encoder
        # window keeps one call a feed), and the rows of a delay in one decoder bank
        # (decoder_bank.py): a step's attention in one op per layer whatever their positions.
        ringed = model.encoder.args.sliding_window is not None
        self._front_bank = FrontBank(model, bank_rows) if bank_rows and ringed else None
        self._decoder_bank = DecoderBank(model, bank_rows) if bank_rows else None
        self._prefixes: dict = {}  # (delay key, positions) -> a silent start's keys and values
        self._admitting: list[Row] = []  # new live rows that may start in the decoder bank

    def add_feed(self, delays_ms: list[int | None], offset: int = 0) -> Feed:
        """A feed padded for rows of these delays (a feed's right padding is fixed at start)."""
        protos = [StreamProtocol.of(self.model.config, self.tokenizer, d) for d in delays_ms]
        right = max(p.right_pad_tokens for p in protos)
        return Feed(self.model, protos[0].n_left, right, self.encoder_block, offset)

    def make_room(self, streams: int) -> None:
        """``streams`` live streams are about to start: the front bank grows once for all of
        them instead of doubling as they join one by one (``bank_rows.room_for``)."""
        if self._front_bank is not None and self.encoder_block <= LIVE_BLOCK:
            self._front_bank.make_room(streams)

    def add_row(self, feed: Feed, delay_ms: int | None = None) -> Row:
        proto = StreamProtocol.of(self.model.config, self.tokenizer, delay_ms)
        if proto.right_pad_tokens > feed.right_pad:
            raise ValueError("the feed was not padded for this delay (add_feed with it)")
        row = Row(self.model, self.tokenizer, feed, proto)
        self.rows.append(row)
        bank = self._front_bank
        if bank is not None and bank.can_join(feed.pipe):
            # Now, before its first audio: else that audio is computed alone (one encoder
            # call a stream; 64 streams starting together held the thread ~0.7 s on the H200).
            bank.join(feed.pipe)
        if self._decoder_bank is not None and self.silent_prefix(proto):
            self._admitting.append(row)  # at the next step, with the rows added with it
        return row

    def finish(self, feed: Feed) -> None:
        """No more audio for ``feed``: its rows decode the rest."""
        feed.finish()
        for row in feed.rows:
            if row.state is not State.DONE:
                row.state = State.DRAINING

    def remove_row(self, row: Row) -> None:
        self.rows.remove(row)
        row.feed.rows.remove(row)
        row.lane = row.pending = None
        if self._decoder_bank is not None:
            self._decoder_bank.sync()

    def step(self, max_tokens: int | None = None, on_round=None) -> list[tuple[Row, TokenEvent]]:
        """Decode what the fed audio allows, at most ``max_tokens`` tokens per row (prompt
        positions run as decoder bank steps count: each is a round).
        ``on_round(pairs)``: called with each round's ``(row, event)`` pairs as it is read,
        before the next round runs (a server sends them on while rows with more to decode,
        a backlog or a stream's end, go on)."""
        if self._admitting:
            self._admit()
        budget = {id(r): float("inf") if max_tokens is None else max_tokens for r in self.rows}
        if self._front_bank is not None:
            self._run_front_bank()
        events: list[tuple[Row, TokenEvent]] = []
        while True:
            before = len(events)
            if not self._round(budget, events):
                return events
            if on_round is not None and len(events) > before:
                on_round(events[before:])

    def _admit(self) -> None:
        """New live rows take decoder bank places before their prompt's audio is there, their
        keys and values one copy of the silent start's (``silent_prefix``, computed once): the
        rest of each prompt then runs as bank steps as its audio comes (``_launch``), with the
        other rows' steps, instead of one prefill when all of it is there. 64 streams starting
        together made that one prefill of 512 positions: 96 ms of one turn at 4-bit on the
        H200 (``benchmarks/lab/start_lab.py``), every stream's first token waiting for it.
        Rows the bank has no place for yet stay listed (a place may free before their audio
        is all there); those prefilled meanwhile, or removed, leave the list. A row restarted
        after an EOS prefills: its audio is there at once, and a prefill is one call where
        steps would be one a position."""
        bank, waiting = self._decoder_bank, []
        fresh = [r for r in self._admitting if r in self.rows and r.lane is None and not r.done]
        by_delay: dict = {}
        for r in fresh:
            by_delay.setdefault(r.stepper.key, []).append(r)
        for rows in by_delay.values():
            start = self.silent_prefix(rows[0].protocol)
            if rows[0].feed.pipe.available < start:  # not past its silent start (no bank)
                waiting += rows
                continue
            admitted = bank.admit(rows, self._prefix_lane(rows[0], start))
            for r in admitted:
                r.pos = start
            waiting += [r for r in rows if r not in admitted]
        self._admitting = waiting

    def _run_front_bank(self) -> None:
        """Feeds without rows leave the bank, live feeds past their start join it, then it
        computes every member's audio so far."""
        bank = self._front_bank
        feeds = {id(r.feed.pipe): r.feed for r in self.rows}
        for pipe in bank.members:
            if pipe is not None and id(pipe) not in feeds:
                bank.drop(pipe)
        for feed in feeds.values():
            if bank.can_join(feed.pipe):
                bank.join(feed.pipe)
        bank.run()

    # ---- one round: launch what can run, read what was launched ---------------------------
    def _round(self, budget: dict, events: list) -> bool:
        live = [r for r in self.rows if not r.done and budget.get(id(r), 0) > 0]
        idle = [r for r in live if r.pending is None]
        self._launch([r for r in idle if r.can_prefill()], prefill=True)
        self._launch([r for r in idle if r.pending is None and r.can_step()])
        taken = [(r, r.pending) for r in live if r.pending is not None]
        for r in live:
            if r.pending is None:
                r.maybe_done()
        if not taken:
            return False
        for r, _ in taken:
            r.pending = None
        # Queue each row's next position on its lazy token before reading it (double
        # buffering: the host's work for one token overlaps the device's for the previous).
        self._launch(
            [r for r, _ in taken if r.can_step()], [p[:2] for r, p in taken if r.can_step()]
        )
        read: dict[int, list[int]] = {}  # one read back per step, whatever its rows
        for r, (tokens, i, position) in taken:
            if position < len(r.prompt) - 1:  # a prompt position run as a step: no token
                budget[id(r)] -= 1  # but a round all the same (``step``'s ``max_tokens``)
                r.maybe_done()
                continue
            if r.state is State.WAITING:  # the first token of a prompt run as steps
                r.state = State.PREFILLED
            if id(tokens) not in read:
                read[id(tokens)] = tokens.tolist()
            r.prev = read[id(tokens)][i]
            r.tokens.append(r.prev)
            r.emitted = position + 1
            budget[id(r)] -= 1
            events.append((r, r.event(r.prev, position, self.model.config.audio.sampling_rate)))
            if r.prev == self.tokenizer.eos_id:
                self._restart(r)
            else:
                r.maybe_done()
        for feed in {id(r.feed): r.feed for r, _ in taken}.values():
            feed.forget()
        self._rounds += 1
        if self._rounds >= CLEAR_CACHE_EVERY:
            self._rounds = 0
            mx.clear_cache()  # release freed buffers on long sessions
        return True

    def _launch(self, rows: list[Row], prevs: list | None = None, prefill=False) -> None:
        """Queue each row's next position: its prompt (``prefill``), else one batched step on
        ``prevs`` (each row's unread (tokens, index)) or the tokens the rows last read."""
        if not rows:
            return
        if prefill:
            for group, shared in self._prefill_groups(rows):
                self._prefill(group, shared)
            return
        if prevs is None:  # the last token each row read back
            prevs = [r.prev for r in rows]
        prev = {id(r): t for r, t in zip(rows, prevs, strict=True)}
        for r in rows:
            if r.pos < len(r.prompt):  # a bank row's prompt (``_admit``): its token is known
                prev[id(r)] = r.prompt[r.pos]
        if self._decoder_bank is not None:
            rows = self._decoder_bank.launch(rows, prev, self._queued)
            if not rows:
                return
        size = self._rows_per_step(len(rows))
        self._split_stale({id(r.lane): r.lane for r in rows}.values())
        if size > 1:
            self._merge_level(rows, size)
        ready = {id(r) for r in rows}
        lanes = []  # (lane, its rows in lane order), shortest delay first
        for lane in {id(r.lane): r.lane for r in rows}.values():
            members = self._members(lane)
            if all(id(m) in ready for m in members):  # else its other rows have no budget left
                lanes.append((lane, members))
        lanes.sort(key=lambda item: item[1][0].protocol.n_delay)
        group: list = []
        for item in lanes + [None]:
            if item is None or (group and sum(len(m) for _, m in group) + len(item[1]) > size):
                self._step_group(group, prev)
                group = []
            if item is not None:
                group.append(item)

    def _prefill_groups(self, rows: list[Row]) -> list[tuple[list[Row], bool]]:
        """Rows to prefill together, and whether they are shared with the decoder bank. Alone
        by default (a row's prefill is then exactly a single stream's); with a decoder bank,
        rows of one delay that the bank has places for share one prefill (other matmul
        shapes: may change words, like the bank itself)."""
        bank = self._decoder_bank
        if bank is None:
            return [([r], False) for r in rows]
        key = bank.key
        if key is None:
            key = next((r.stepper.key for r in rows if r.stepper.key is not None), None)
        shared = [r for r in rows if key is not None and r.stepper.key == key]
        shared = shared[: bank.places_free()]
        together = {id(r) for r in shared}
        alone = [([r], False) for r in rows if id(r) not in together]
        return alone + ([(shared, True)] if shared else [])

    def _prefill(self, rows: list[Row], shared: bool = False) -> None:
        """One prefill of these rows' prompts (one delay, one prompt length). Rows ``shared``
        with a bank are padded to a bank size (copies of the last; their results unread): a
        prefill of each size is warmed at start (``plan_rows``), not one of every count. And
        their prompts' silent start (``silent_prefix``) is computed once and copied: only
        the rest runs (8 positions a row instead of 39; live rows the bank takes at their
        start never prefill, ``_admit``: these are mainly restarts after an EOS)."""
        p = len(rows[0].prompt)
        stepper = rows[0].stepper
        start = self.silent_prefix(rows[0].protocol) if shared else 0
        ids = mx.array([r.prompt[start:] for r in rows])
        audio = mx.concatenate([r.feed.pipe.embeddings(start, p) for r in rows])
        x = stepper.inputs(ids, audio)
        if shared:
            x = _pad_rows(x, padded_rows(len(rows), self._decoder_bank.capacity))
        if start:
            lane, tokens = stepper.prefill_lane_from(self._prefix(rows[0], start), x, p + 1)
        else:  # rows that go to the bank next: buffers of the prompt's size (the bank copies them)
            lane, tokens = stepper.prefill_lane(x, p + 1 if shared else None)
        for i, r in enumerate(rows):
            r.lane, r.lane_row = lane, i
            r.state = State.DRAINING if r.feed.closed else State.PREFILLED
            self._queued(r, tokens, i, p - 1)

    def silent_prefix(self, proto: StreamProtocol) -> int:
        """Prompt positions every live stream of the banks starts with alike: the left padding
        but its last token (whose mel window reaches the audio). Their embeddings are the
        silent start every live pipeline with encoder rings copies (``silent_start.py``) and
        their ids the prompt's. 0 otherwise (file-sized blocks, no encoder window: each
        pipeline computes its own start)."""
        silent = self._front_bank is not None and self.encoder_block <= LIVE_BLOCK
        return max(0, proto.n_left - 1) if silent else 0

    def _prefix(self, row: Row, n: int) -> list:
        """The decoder's keys and values of the first ``n`` prompt positions of ``row``'s
        delay, computed once (from this row: every bank row's are the same)."""
        key = (row.stepper.key, n)
        if key not in self._prefixes:
            x = row.stepper.inputs(mx.array([row.prompt[:n]]), row.feed.pipe.embeddings(0, n))
            self._prefixes[key] = row.stepper.prefix(x)
        return self._prefixes[key]

    def _prefix_lane(self, row: Row, n: int) -> Lane:
        """``_prefix`` as a lane of one row at position ``n`` (its ring layout: a window
        shorter than ``n`` keeps the last positions), kept for the next rows admitted."""
        key = ("lane", row.stepper.key, n)
        if key not in self._prefixes:
            self._prefixes[key] = row.stepper.prefix_lane(self._prefix(row, n))
        return self._prefixes[key]

    def _step_group(self, group: list, prev: dict) -> None:
        """One batched decoder step for these lanes (their rows in order)."""
        if not group:
            return
        rows = [m for _, members in group for m in members]
        x = step_inputs(rows, prev)
        parts = [(lane, [m.stepper for m in members]) for lane, members in group]
        tokens = rows[0].stepper.step_lanes(parts, x)
        for i, r in enumerate(rows):
            self._queued(r, tokens, i, r.pos)

    def _members(self, lane) -> list[Row]:
        return sorted((r for r in self.rows if r.lane is lane), key=lambda r: r.lane_row)

    def _split_stale(self, lanes) -> None:
        """A shared lane whose rows no longer all step (one finished, restarted or left): each
        remaining row gets a lane of its own (its buffers copied out)."""
        for lane in list(lanes):
            members = self._members(lane)
            if lane.rows > 1 and (len(members) != lane.rows or any(m.done for m in members)):
                for m in members:
                    m.lane, m.lane_row = lane.take(m.lane_row), 0

    def _merge_level(self, rows: list[Row], size: int) -> None:
        """Rows of one feed at one position share a lane: one attention op for all of them
        (their lanes merged, each row's buffers kept; ``size`` rows at most)."""
        ready = {id(r) for r in rows}
        by_place: dict = {}
        for lane in {id(r.lane): r.lane for r in rows}.values():
            members = self._members(lane)
            if all(id(m) in ready for m in members):
                key = (id(members[0].feed), lane.pos, lane.ks[0].shape[2])
                by_place.setdefault(key, []).append((lane, members))
        for lanes in by_place.values():
            if len(lanes) < 2 or sum(len(m) for _, m in lanes) > size:
                continue
            members = sorted((m for _, ms in lanes for m in ms), key=lambda r: r.protocol.n_delay)
            merged = Lane.merge(
                [m.lane.take(m.lane_row) if m.lane.rows > 1 else m.lane for m in members]
            )
            for i, m in enumerate(members):
                m.lane, m.lane_row = merged, i

    @staticmethod
    def _queued(row: Row, tokens: mx.array, i: int, position: int) -> None:
        mx.async_eval(tokens)
        row.pending = (tokens, i, position)
        row.pos = position + 1

    def plan_rows(self, want: int, delay_ms: int | None = None) -> int:
        """Measure now how many of ``want`` rows may step together (``exact_rows``), instead
        of at the first step of that many: on MLX CUDA the measure's first multi-row
        quantized matmuls compile for tens of seconds (docs/benchmarks.md), which a server
        pays at start rather than in the middle of its streams. With ``max_rows`` given the
        ops still run once at that many rows, for the same reason, and the banks run a call
        of each shape they can make for rows of ``delay_ms`` (``_warm_banks``)."""
        if self._max_rows is not None:
            exact_rows(self.model, want)
        self._warm_banks(delay_ms)
        return self._rows_per_step(want)

    def _warm_banks(self, delay_ms: int | None) -> None:
        """Every bank call shape once, before the first stream (each new one costs MLX CUDA
        an attention graph, ~0.1 s; many streams joining at once met them all, one after
        another): the front bank's calls (``FrontBank.warm``), the indexing kernels a step may
        use (``index_kernels.py``), shared prefills and decoder bank steps of each bank size
        whose scratch fits (``DecoderBank.warm``)."""
        if self._front_bank is not None:
            self._front_bank.warm()
        warm_index_kernels(self.model.decoder.norm.weight.dtype)
        bank = self._decoder_bank
        if bank is None:
            return
        proto = StreamProtocol.of(self.model.config, self.tokenizer, delay_ms)
        stepper = FastStepper.for_delay(self.model.decoder, proto.n_delay)
        bank.warm(stepper, list(proto.prompt), self.silent_prefix(proto))

    def _rows_per_step(self, want: int) -> int:
        if self._max_rows is None and want > self._measured:
            self._measured = exact_rows(self.model, want)
            if self._measured < want:
                self._max_rows = self._measured
        return min(want, self._max_rows or want)

    def _restart(self, row: Row) -> None:
        """After an EOS: the row starts again on the audio it had not transcribed (a feed of its
        own), DONE if there is none."""
        old = row.feed
        start = row.untranscribed_sample()
        rest = old.samples_from(start)
        if old.closed and rest.size == 0:
            row.state = State.DONE
            return
        old.rows.remove(row)
        feed = Feed(self.model, row.protocol.n_left, row.protocol.right_pad_tokens,
                    self.encoder_block, old.offset + start)  # fmt: skip
        row._join(feed)
        feed.push(rest)
        if old.closed:
            feed.finish()
            row.state = State.DRAINING
        old.forget()


def _pad_rows(x: mx.array, rows: int) -> mx.array:
    """``x [n, ...]`` with its last row repeated to ``rows`` rows."""
    n = x.shape[0]
    return x if n >= rows else mx.concatenate([x, mx.repeat(x[-1:], rows - n, axis=0)])
