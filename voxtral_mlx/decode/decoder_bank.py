"""DecoderBank: a RowBatch's rows of one delay stepped on one LaneBank (opt-in).

Rows at other positions each step on a lane of their own (``rows.py``): one KV write and one
attention per row and layer. With many server streams those ops are most of a step's host
time, so under the server's ``--batch-rows`` the rows of a delay move, once prefilled, into
one bank (``model/lane_bank.py``) where a step is the same few ops per layer for all of them.
New live rows are ``admit``-ted before their prompt's audio is there, holding a copy of the
silent start every live prompt begins with; the rest of the prompt runs as bank steps.
Rows are made as rows come (powers of two, up to ``capacity``); a row's place is freed when
it ends, restarts after an EOS or is removed, the bank shrinks once few places are taken, and
its buffers go when no row is left. Rows beyond the capacity, or of another delay, step on
lanes as before. MLX thread only.
"""

from __future__ import annotations

import mlx.core as mx

from voxtral_mlx.decode.bank_rows import room_for, rows_to_keep, warm_sizes
from voxtral_mlx.decode.row import Row, step_audio, step_ids
from voxtral_mlx.model.lane_bank import LaneBank
from voxtral_mlx.model.lanes import Lane


class DecoderBank:
    """Up to ``capacity`` rows of one delay; ``launch`` queues a step of those that take one."""

    def __init__(self, model, capacity: int):
        self.capacity = capacity
        self.bank = LaneBank.of(model.decoder)
        self.members: list[Row | None] = []

    @property
    def key(self):
        """The members' delay (their steppers' key); None while there is no member."""
        return next((m.stepper.key for m in self.members if m is not None), None)

    def places_free(self) -> int:
        """Rows the bank can still take."""
        return self.capacity - sum(m is not None for m in self.members)

    def launch(self, rows: list[Row], prev: dict, queued) -> list[Row]:
        """Queue one bank step for the ``rows`` that are (or can now become) members, each on
        its previous token ``prev[id(row)]``; ``queued(row, tokens, i, position)`` records
        each row's lazy token. Returns the rows left to step on lanes."""
        self.sync()
        joining = [r for r in rows if self._can_join(r)]
        key = self.key if self.key is not None else next((r.stepper.key for r in joining), None)
        self._make_room(min(self.places_free(), sum(r.stepper.key == key for r in joining)))
        self._join_all(joining)
        ready = {id(r) for r in rows}
        active = [m is not None and id(m) in ready for m in self.members]
        stepping = [m for m, on in zip(self.members, active, strict=True) if on]
        if stepping:
            self._step(stepping, active, prev, queued)
        return [r for r in rows if r.lane is not self.bank]

    def admit(self, rows: list[Row], lane: Lane) -> list[Row]:
        """Rows that start from ``lane``'s one row (the silent start's keys and values) take
        places, all filled by one copy; those of another delay than the members', or beyond
        the places free, do not. Returns the rows admitted (now members, on the bank)."""
        key = self.key if self.key is not None else rows[0].stepper.key
        fit = [r for r in rows if r.stepper.key == key][: self.places_free()]
        if fit:
            self._make_room(len(fit))
            places = [self._join(r) for r in fit]
            self.bank.put_rows(places, lane, [0] * len(fit))
        return fit

    def warm(self, stepper, prompt: list[int], start: int = 0) -> None:
        """Before the first stream: a shared prefill of ``prompt`` (its first ``start``
        positions a prefix computed once, as ``RowBatch._prefill`` does), rows copied in
        together and a step of each bank size whose scratch fits (``warm_sizes``), on scratch
        buffers at the first slot size. Each is an attention graph to build on MLX CUDA
        (~0.1 s), which rows would otherwise wait for when many join at once."""
        p, dec = len(prompt), stepper.dec
        row = LaneBank.of(dec)
        row.grow(1, p + 1)  # one row at the first slot size: what a row of any size costs
        sizes = warm_sizes(self.capacity, 2 * sum(k.nbytes for k in row.ks))
        del row

        def inputs(rows: int, ids: list[int]) -> mx.array:
            audio = mx.zeros((rows, len(ids), dec.cfg.dim), self.bank.dtype)
            return stepper.inputs(mx.array([ids] * rows), audio)

        prefix = stepper.prefix(inputs(1, prompt[:start])) if start else None
        for rows in sizes:
            if prefix is None:
                lane, tokens = stepper.prefill_lane(inputs(rows, prompt), p + 1)
            else:
                lane, tokens = stepper.prefill_lane_from(
                    prefix, inputs(rows, prompt[start:]), p + 1
                )
            mx.eval(tokens, lane.ks, lane.vs)
        for rows in sizes:
            bank = LaneBank.of(dec)
            bank.grow(rows, p + 1)
            if rows > 1:  # rows joining together (or admitted) are copied by one scatter
                bank.put_rows(list(range(rows)), lane, [0] * rows)
            bank.pos = [p] * rows
            x = inputs(rows, [0])  # a step's inputs too are compiled for each bank size
            mx.eval(stepper.step_bank(bank, x, [True] * rows), bank.ks, bank.vs)

    def sync(self) -> None:
        """Free the places of rows that ended, restarted (a new lane) or were removed; with no
        row left, the buffers go (an idle server holds no decoder cache). Once at most a
        quarter of the places are taken, the bank shrinks (``_shrink``)."""
        for i, m in enumerate(self.members):
            if m is not None and (m.lane is not self.bank or m.done):
                self.members[i] = None
        if self.members and not any(self.members):
            self.bank.release()
            self.members = []
        self._shrink()

    def _shrink(self) -> None:
        """Give places back once few are taken (``bank_rows.py``): a step computes every row
        made and attends over its cache."""
        kept = rows_to_keep(self.members)
        if kept is None:
            return
        self.bank.keep(kept)
        self.members = [self.members[i] for i in kept]
        for place, m in enumerate(self.members):
            if m is not None:
                m.lane_row = place

    def _can_join(self, row: Row) -> bool:
        return (
            isinstance(row.lane, Lane) and row.stepper.key is not None
            and self.key in (None, row.stepper.key)
            and self.places_free() > 0
        )  # fmt: skip

    def _make_room(self, more: int) -> None:
        """Grow once for ``more`` rows about to join (``room_for``)."""
        rows = room_for(self.members, more, self.capacity)
        if rows is not None:
            self.members += [None] * (rows - len(self.members))
            self.bank.grow(rows)

    def _join_all(self, rows: list[Row]) -> None:
        """The rows that can join, in order (the first fixes the delay, places run out), each
        lane's rows copied in with one ``put_rows``."""
        by_lane: dict[int, tuple[Lane, list[int], list[int]]] = {}
        for row in rows:
            if not self._can_join(row):
                continue
            lane, lane_row = row.lane, row.lane_row
            place = self._join(row)
            _, places, lane_rows = by_lane.setdefault(id(lane), (lane, [], []))
            places.append(place)
            lane_rows.append(lane_row)
        for lane, places, lane_rows in by_lane.values():
            self.bank.put_rows(places, lane, lane_rows)

    def _join(self, row: Row) -> int:
        """A place for ``row``, which moves to the bank; its buffers are copied by the
        caller (``put_rows``). Returns the place."""
        self._make_room(1)  # full: the next bank size (double, up to the capacity)
        place = self.members.index(None)
        self.members[place] = row
        row.lane, row.lane_row = self.bank, place
        return place

    def _step(self, stepping: list[Row], active: list[bool], prev: dict, queued) -> None:
        stepper, rows = stepping[0].stepper, len(self.members)
        # The inputs are computed for every row (those not stepping: token 0 on zeros), in one
        # dtype: ``inputs`` is compiled, and each new number of rows stepping was a new
        # compile whenever the streams' phases made a new count (on the CPU 51 in a server's
        # first run of 64 streams, a few in each later one: benchmarks/lab/new_shapes_lab.py),
        # each a trace and fused kernels built for it. ``warm`` compiles each bank size's.
        ids = step_ids([prev[id(r)] for r in stepping]).astype(mx.int32)[:, None]
        audio = step_audio(stepping)
        where = None
        if len(stepping) < rows:
            where = mx.array([i for i, on in enumerate(active) if on])
            ids, audio = _scatter_rows(ids, where, rows), _scatter_rows(audio, where, rows)
        tokens = stepper.step_bank(self.bank, stepper.inputs(ids, audio), active)
        if where is not None:
            tokens = tokens[where]
        for i, r in enumerate(stepping):
            queued(r, tokens, i, r.pos)


def _scatter_rows(x: mx.array, where: mx.array, rows: int) -> mx.array:
    """``x``'s rows at rows ``where`` of ``rows`` rows of zeros."""
    full = mx.zeros((rows,) + x.shape[1:], x.dtype)
    full[where] = x
    return full


__all__ = ["DecoderBank"]
