"""LaneBank: rows at different positions stepped with one KV write and one attention per
layer (FastStepper.step_bank) give each row what its lane gives alone."""

from __future__ import annotations

import mlx.core as mx
import pytest

from voxtral_mlx.model.fast_step import FastStepper
from voxtral_mlx.model.lane_bank import LaneBank
from voxtral_mlx.testing import tiny_model

STEPS = 40
DELAY = 6


def _inputs(seed: int, n: int) -> mx.array:
    return mx.random.normal((1, n, 64), key=mx.random.key(seed))


def _alone(dec, x: mx.array, prompt: int, steps: int):
    """A row's tokens stepping alone, and its lane at the end."""
    stepper = FastStepper.for_delay(dec, DELAY)
    out = [stepper.prefill(x[:, :prompt]).item()]
    for p in range(prompt, prompt + steps):
        out.append(stepper.step(x[:, p : p + 1]).item())
    return out, stepper.lane


def _litter(bank: LaneBank, row: int) -> None:
    """Random keys and values in the row's slots beyond its position (none once wrapped):
    what a bank row holds there must never be seen (a zero key would hide a wrong mask)."""
    first = bank.pos[row]
    if first < bank.slots:
        for i in range(bank.n_layers):
            shape = (1, bank.kv_heads, bank.slots - first, bank.head_dim)
            junk = 3 * mx.random.normal(shape, key=mx.random.key(100 + i))
            bank.ks[i][row : row + 1, :, first:] = junk
            bank.vs[i][row : row + 1, :, first:] = junk


@pytest.mark.parametrize("window", [16, 8192])
def test_bank_rows_step_as_each_alone(window):
    """Four rows (prompts of 10, 20, 7 and 13 positions) in a bank of three rows: row 2 joins
    late, rows pause on some steps (the others go on), row 0 leaves and row 3 takes its place
    with a shorter history (the stale keys beyond its position must not be seen); a window of
    16 wraps every row's ring."""
    dec = tiny_model(sliding_window=window).decoder
    # prompt, bank row, the step it joins at, the step it leaves after, steps it pauses on
    plan = [(10, 0, 0, 20, {5}), (20, 1, 0, STEPS, {7, 8, 30}), (7, 2, 9, STEPS, set()),
            (13, 0, 24, STEPS, {26})]  # fmt: skip
    xs = [_inputs(i, prompt + STEPS + 1) for i, (prompt, *_) in enumerate(plan)]
    stepper = FastStepper.for_delay(dec, DELAY)
    bank = LaneBank.of(dec)
    bank.grow(2)
    got: list[list[int]] = [[] for _ in plan]
    done = [0] * len(plan)  # steps each row has taken
    for t in range(STEPS + 1):
        for i, (prompt, row, start, _, _) in enumerate(plan):
            if t == start:  # joins: its prompt alone, then its lane into its bank row
                lane, first = stepper.prefill_lane(xs[i][:, :prompt])
                got[i].append(first.item())
                if row >= bank.rows:
                    bank.grow(row + 1)
                bank.put(row, lane)
                _litter(bank, row)
        member = {row: i for i, (_, row, start, end, _) in enumerate(plan) if start < t <= end}
        active = [r in member and t not in plan[member[r]][4] for r in range(bank.rows)]
        if not any(active):
            continue
        x = mx.zeros((bank.rows, 1, 64))
        for r, on in enumerate(active):
            if on:
                i = member[r]
                p = plan[i][0] + done[i]
                x[r : r + 1] = xs[i][:, p : p + 1]
        tokens = stepper.step_bank(bank, x, active).tolist()
        for r, on in enumerate(active):
            if on:
                got[member[r]].append(tokens[r])
                done[member[r]] += 1
    assert bank.rows == 3
    for i, (prompt, row, *_) in enumerate(plan):
        want, lane = _alone(dec, xs[i], prompt, done[i])
        assert got[i] == want, f"row {i}"
        assert len(set(got[i])) > 3  # the row says things
        if i in (1, 3):  # still in the bank: its keys are the lane's, slot for slot
            assert bank.pos[row] == lane.pos
            held = min(lane.pos, window)
            for layer in (0, len(dec.layers) - 1):
                a = bank.ks[layer][row, :, :held]
                b = lane.ks[layer][0, :, :held]
                assert mx.allclose(a, b, atol=1e-5, rtol=1e-5).item()


def test_bank_writes_in_place():
    """A step's KV writes reuse the bank's buffers: memory does not grow by a buffer a layer."""
    dec = tiny_model().decoder
    stepper = FastStepper.for_delay(dec, DELAY)
    bank = LaneBank.of(dec)
    bank.grow(4, 2048)
    x = mx.random.normal((4, 1, 64), key=mx.random.key(3))
    mx.eval(stepper.step_bank(bank, x, [True] * 4))
    before = mx.get_active_memory()
    for _ in range(3):
        mx.eval(stepper.step_bank(bank, x, [True, False, True, True]))
    buffer = bank.ks[0].nbytes
    assert mx.get_active_memory() - before < buffer
    assert bank.pos == [4, 1, 4, 4]


def test_rows_put_together_are_each_rows_copy():
    """``put_rows`` copies a lane's rows (any order, into any places) in one call: each bank
    row then holds what ``put`` of that row alone gives, and its other rows are untouched."""
    dec = tiny_model().decoder
    stepper = FastStepper.for_delay(dec, DELAY)
    lane, _ = stepper.prefill_lane(mx.random.normal((3, 9, 64), key=mx.random.key(7)), 10)
    one, many = LaneBank.of(dec), LaneBank.of(dec)
    for bank in (one, many):
        bank.grow(6, 16)
        _litter(bank, 0)
    for place, lane_row in ((4, 2), (1, 0), (5, 1)):
        one.put(place, lane, lane_row)
    many.put_rows([4, 1, 5], lane, [2, 0, 1])
    assert one.pos == many.pos and many.pos[4] == lane.pos and many.pos[0] == 0
    for i in range(one.n_layers):
        assert mx.array_equal(one.ks[i], many.ks[i]) and mx.array_equal(one.vs[i], many.vs[i])
        assert mx.array_equal(many.ks[i][4:5, :, :10], lane.ks[i][2:3, :, :10])
