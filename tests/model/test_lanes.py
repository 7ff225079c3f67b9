"""Many lanes in one step (FastStepper.step_lanes): lanes of other delays, positions and row
counts, joining and leaving, give each lane the tokens it gets stepping alone."""

from __future__ import annotations

import mlx.core as mx
import pytest

from voxtral_mlx.model.fast_step import FastStepper
from voxtral_mlx.testing import tiny_model

STEPS = 50


def _inputs(seed: int, rows: int, n: int) -> mx.array:
    return mx.random.normal((rows, n, 64), key=mx.random.key(seed))


def _alone(dec, n_delay: int, x: mx.array, prompt: int) -> list[list[int]]:
    stepper = FastStepper.for_delay(dec, n_delay)
    first = stepper.prefill(x[:, :prompt])
    out = [first.tolist()]
    for p in range(prompt, prompt + STEPS):
        out.append(stepper.step(x[:, p : p + 1]).tolist())
    return out


@pytest.mark.parametrize("window", [30, 8192])
def test_lanes_step_together_as_each_alone(window):
    """Three lanes (delays 3, 6 and 30 tokens; prompts of 10, 20 and 37 positions; 1, 2 and 1
    rows); the third joins after 12 steps and the first leaves after 35."""
    dec = tiny_model(sliding_window=window).decoder
    # delay (tokens), prompt, rows, the step it joins at, the step it leaves after
    plan = [(3, 10, 1, 0, 35), (6, 20, 2, 0, STEPS), (30, 37, 1, 12, STEPS)]
    xs = [_inputs(i, rows, prompt + STEPS) for i, (_, prompt, rows, _, _) in enumerate(plan)]
    want = [_alone(dec, d, x, prompt) for (d, prompt, _, _, _), x in zip(plan, xs, strict=True)]

    steppers = [FastStepper.for_delay(dec, d) for d, *_ in plan]
    lanes: dict[int, object] = {}
    got: list[list[list[int]]] = [[] for _ in plan]
    for t in range(STEPS + 1):
        for i, (_, prompt, _, start, _) in enumerate(plan):
            if t == start:  # joins: its prompt through the decoder alone
                lanes[i], first = steppers[i].prefill_lane(xs[i][:, :prompt])
                got[i].append(first.tolist())
        stepping = [i for i, (*_, start, end) in enumerate(plan) if start < t <= end]
        if not stepping:
            continue
        x = mx.concatenate([xs[i][:, lanes[i].pos : lanes[i].pos + 1] for i in stepping])
        parts = [(lanes[i], [steppers[i]] * plan[i][2]) for i in stepping]
        tokens = steppers[0].step_lanes(parts, x).tolist()
        row = 0
        for i in stepping:
            got[i].append(tokens[row : row + plan[i][2]])
            row += plan[i][2]
    for i, (_, _, _, start, end) in enumerate(plan):
        n = end - start + 1
        assert got[i] == want[i][:n], f"lane {i}"
        assert len({tok for toks in got[i] for tok in toks}) > 3  # the lane says things


def test_one_delay_layout_is_the_plain_step():
    """Lanes of one delay share the single-delay halves (no regrouped norm)."""
    dec = tiny_model().decoder
    a, b = FastStepper.for_delay(dec, 6), FastStepper.for_delay(dec, 6)
    assert a._halves_for([a, b]) is a._halves
    other = FastStepper.for_delay(dec, 3)
    mixed = a._halves_for([a, other])
    assert mixed is not a._halves and mixed is a._halves_for([b, other])
