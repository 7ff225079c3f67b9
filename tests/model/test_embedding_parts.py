"""A pipeline holds its embeddings as the parts they were computed in; a step gathers rows'
inputs with one op per part, and every way of reading them gives the same numbers."""

from types import SimpleNamespace

import mlx.core as mx
import numpy as np

from voxtral_mlx.decode.audio_pipeline import LIVE_BLOCK, AudioPipeline
from voxtral_mlx.decode.row import step_audio


def _pipe(model) -> AudioPipeline:
    return AudioPipeline(model, 32, 17, LIVE_BLOCK)


def _row(pipe, pos):
    return SimpleNamespace(feed=SimpleNamespace(pipe=pipe), pos=pos)


def test_parts_read_drop_and_locate_like_one_array(tiny_model):
    dim = tiny_model.config.dim
    rng = np.random.default_rng(0)
    pipe = _pipe(tiny_model)
    start = pipe.available  # the silent start's positions
    whole = [np.array(pipe.embeddings(0, start))[0]]
    bank = mx.array(rng.standard_normal((3, 4, dim)).astype(np.float32))
    pipe.append_embeddings(bank, 2)  # a bank call of 3 rows, this pipeline's row 2
    whole.append(np.array(bank[2]))
    alone = mx.array(rng.standard_normal((1, 5, dim)).astype(np.float32))
    pipe.append_embeddings(alone)
    whole.append(np.array(alone[0]))
    whole = np.concatenate(whole)
    assert pipe.available == len(whole) == start + 9
    for a, b in [
        (0, len(whole)),
        (start - 1, start + 6),
        (start + 1, start + 3),
        (start + 5, start + 9),
    ]:
        np.testing.assert_array_equal(np.array(pipe.embeddings(a, b))[0], whole[a:b])
    pipe.drop_before(start + 2)  # into the bank's part
    assert pipe.available == len(whole)
    for p in range(start + 2, len(whole)):
        array, row, i = pipe.embedding_at(p)
        np.testing.assert_array_equal(np.array(array[row, i]), whole[p])
    np.testing.assert_array_equal(
        np.array(pipe.embeddings(start + 2, start + 9))[0], whole[start + 2 :]
    )
    pipe.drop_before(start + 6)  # the bank's part is gone
    assert [p[0] for p in pipe._parts] == [alone]
    np.testing.assert_array_equal(
        np.array(pipe.embeddings(start + 6, start + 9))[0], whole[start + 6 :]
    )


def test_step_audio_gathers_rows_in_their_order(tiny_model):
    dim = tiny_model.config.dim
    rng = np.random.default_rng(1)
    bank = mx.array(rng.standard_normal((4, 2, dim)).astype(np.float32))
    pipes = [_pipe(tiny_model) for _ in range(4)]
    for r, pipe in enumerate(pipes):
        pipe.append_embeddings(bank, r)
    lone = _pipe(tiny_model)  # computed alone: a part of its own
    lone.append_embeddings(mx.array(rng.standard_normal((1, 2, dim)).astype(np.float32)))
    start = pipes[0].available - 2
    rows = [_row(pipes[2], start + 1), _row(lone, start), _row(pipes[0], start + 1),
            _row(pipes[3], start)]  # fmt: skip
    want = np.concatenate([np.array(r.feed.pipe.embeddings(r.pos, r.pos + 1)) for r in rows])
    np.testing.assert_array_equal(np.array(step_audio(rows)), want)
    alone = [_row(pipes[1], start)]
    np.testing.assert_array_equal(np.array(step_audio(alone)), np.array(bank[1:2, :1]))


def test_step_ids_take_ints_and_lazy_tokens_in_any_order():
    from voxtral_mlx.decode.row import step_ids

    a = mx.array([5, 6, 7], mx.uint32)
    b = mx.array([8, 9], mx.uint32)
    prevs = [(a, 2), 11, (b, 1), (a, 0), 12, (b, 0)]
    assert step_ids(prevs).tolist() == [7, 11, 9, 5, 12, 8]
    assert step_ids([(a, 0), (a, 1), (a, 2)]) is a  # a whole step's tokens as they are
    assert step_ids([3, 4]).tolist() == [3, 4]
    assert step_ids([(b, 1)]).tolist() == [9]
