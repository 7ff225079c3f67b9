"""FrontBank: many live streams' front ends in one call per token give each stream what it
gets alone (within the bound of any two chunkings of the encoder)."""

import numpy as np
import pytest

from voxtral_mlx.decode import front_bank
from voxtral_mlx.decode.audio_pipeline import LIVE_BLOCK, AudioPipeline
from voxtral_mlx.decode.front_bank import FrontBank

from .test_model import _rel

PIECE = 640  # 40 ms


def _audio(seed: int, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32)


def _alone(model, audio: np.ndarray):
    pipe = AudioPipeline(model, 32, 17, LIVE_BLOCK)
    for s in range(0, len(audio), PIECE):
        pipe.push(audio[s : s + PIECE])
    pipe.finish()
    return pipe


def _send_turn(bank: FrontBank, pipes: list, audios: list, sent: list, pieces) -> None:
    """One 40 ms turn: each open stream ``i`` sends its next ``pieces(i)`` pieces (none:
    not started, or stalled), or ends once its audio is sent, and joins the bank if it can."""
    for i, (pipe, audio) in enumerate(zip(pipes, audios, strict=True)):
        n = PIECE * pieces(i)
        if pipe.closed or not n:
            continue
        if sent[i] >= len(audio):
            pipe.finish()
            continue
        pipe.push(audio[sent[i] : sent[i] + n])
        sent[i] += n
        if bank.can_join(pipe):
            bank.join(pipe)


def _watch(bank: FrontBank, pipes: list) -> tuple[list, list]:
    """Records the bank's leaves (each stream's index in ``pipes``) and calls ((rows
    computing, tokens a row) each), as they happen."""
    left, calls, leave, call = [], [], bank.leave, bank._call
    bank.leave = lambda pipe: (left.append(pipes.index(pipe)), leave(pipe))
    bank._call = lambda active, k=1: (calls.append((sum(active), k)), call(active, k))
    return left, calls


def _assert_each_as_alone(model, pipes: list, audios: list) -> None:
    """Every stream's embeddings are what it computes alone (within the bound of any two
    chunkings of the encoder)."""
    for pipe, audio in zip(pipes, audios, strict=True):
        alone = _alone(model, audio)
        n = pipe.available
        assert n == alone.available and _rel(pipe.embeddings(0, n), alone.embeddings(0, n)) < 5e-5


def test_bank_streams_equal_streams_alone(tiny_model):
    """Three streams of different lengths, started at different times, one of them falling
    behind (it leaves the bank and joins again), each ends on its own in the bank (its right
    padding in calls of several tokens): every embedding is what the stream computes alone,
    and rows left by ended streams are taken by new ones."""
    audios = [_audio(1, 6.0), _audio(2, 4.4), _audio(3, 5.0), _audio(4, 2.0)]
    starts = [0, 5, 9, 70]  # in 40 ms turns; the fourth starts after the second has ended
    bank = FrontBank(tiny_model, rows=3)
    pipes = [AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK) for _ in audios]
    left, calls = _watch(bank, pipes)
    joined, join = set(), bank.join
    bank.join = lambda pipe: (joined.add(pipes.index(pipe)), join(pipe))
    sent = [0] * len(audios)

    def pieces(i: int, turn: int) -> int:
        if turn < starts[i] or (i == 0 and 40 <= turn < 52):  # the first: a stalled client,
            return 0
        return 13 if i == 0 and turn == 52 else 1  # its audio comes in a bunch later

    for turn in range(200):
        _send_turn(bank, pipes, audios, sent, lambda i, turn=turn: pieces(i, turn))
        bank.run()
        if all(p.finished for p in pipes):
            break
    assert joined == {0, 1, 2, 3}
    assert left == [0]  # 6 tokens behind (more than 4): alone, then back
    sizes = {k for _, k in calls}
    assert 16 in sizes and sizes <= {1, 2, 4, 8, 16}  # the ends: 18 tokens, 16 + 2
    _assert_each_as_alone(tiny_model, pipes, audios)
    assert bank.members == [None]  # no member left: one small row kept


def test_rows_are_given_back_when_few_members_are_left(tiny_model):
    """Eight streams fill eight rows; six end, and the two left move to the first rows of a
    bank of four (computing eight rows a call for two would cost four times the work); a new
    stream takes a free row. Every stream's embeddings are still what it computes alone."""
    # The two long streams sit in rows 5 and 7: they move when the bank shrinks.
    audios = [_audio(10 + i, 4.0 if i in (5, 7) else 1.0) for i in range(8)] + [_audio(30, 1.5)]
    starts = [0] * 8 + [60]
    bank = FrontBank(tiny_model, rows=8)
    pipes = [AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK) for _ in audios]
    sent, sizes = [0] * len(audios), []
    for turn in range(300):
        _send_turn(bank, pipes, audios, sent, lambda i, turn=turn: int(turn >= starts[i]))
        bank.run()
        sizes.append(len(bank.members))
        for row, pipe in enumerate(bank.members):
            assert pipe is None or (pipe.bank is bank and pipe.bank_row == row)
        if all(p.finished for p in pipes):
            break
    assert max(sizes) == 8 and 4 in sizes[sizes.index(8) :]  # full, then given back
    assert sizes[-1] == 1  # every stream ended
    _assert_each_as_alone(tiny_model, pipes, audios)


def test_a_full_bank_and_a_stream_with_a_token_waiting_are_not_joined(tiny_model):
    bank = FrontBank(tiny_model, rows=1)
    first, second = (AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK) for _ in range(2))
    assert bank.can_join(first)  # past its silent start as soon as it exists
    first.mel.add(_audio(5, 0.2))
    assert not bank.can_join(first)  # a token waiting: computed alone first
    first.catch_up()
    second.push(_audio(6, 0.2))
    assert bank.can_join(first)
    bank.join(first)
    assert not bank.can_join(second)  # no row free
    bank.drop(first)
    assert bank.can_join(second) and first.bank is None
    other = AudioPipeline(tiny_model, 32, 17, 16)  # a ring of another size cannot take a row
    other.push(_audio(7, 0.2))
    assert other.live and not bank.can_join(other)


def test_streams_without_a_ring_stay_alone(tiny_model):
    """A file's pipeline (rotating cache) never joins; a model whose encoder has no window
    (no rings) gets no bank at all, and its streams run one call a feed."""
    import dataclasses

    from tests.live.tiny_live import TOK
    from voxtral_mlx.decode.rows import RowBatch

    bank = FrontBank(tiny_model, rows=2)
    pipe = AudioPipeline(tiny_model, 32, 17)
    pipe.push(_audio(8, 0.5))
    assert not pipe.live and not bank.can_join(pipe)
    assert RowBatch(tiny_model, TOK, LIVE_BLOCK, bank_rows=2)._front_bank is not None
    enc = tiny_model.encoder
    enc.args = dataclasses.replace(enc.args, sliding_window=None)
    assert RowBatch(tiny_model, TOK, LIVE_BLOCK, bank_rows=2)._front_bank is None


def test_members_behind_together_stay_in_the_bank(tiny_model):
    """A busy server: every member 8 tokens behind at once. Nobody leaves (alone, each would
    cost calls of its own); the bank computes the backlog in one call of 8 tokens a row."""
    bank = FrontBank(tiny_model, rows=3)
    left, leave = [], bank.leave
    bank.leave = lambda pipe: (left.append(pipe), leave(pipe))
    pipes = [AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK) for _ in range(3)]
    audios = [_audio(20 + i, 3.0) for i in range(3)]
    for pipe, audio in zip(pipes, audios, strict=True):
        pipe.push(audio[:16000])
        bank.join(pipe)
    calls, call = [], bank._call
    bank._call = lambda active, k=1: (calls.append((sum(active), k)), call(active, k))
    for pipe, audio in zip(pipes, audios, strict=True):
        pipe.push(audio[16000 : 16000 + 8 * 1280])  # 8 tokens each
    bank.run()
    assert not left and calls == [(3, 8)]
    for pipe, audio in zip(pipes, audios, strict=True):
        alone = _alone(tiny_model, audio[: 16000 + 8 * 1280])
        n = pipe.available
        assert n >= 8 and _rel(pipe.embeddings(0, n), alone.embeddings(0, n)) < 5e-5


def test_warm_runs_every_call_shape_and_leaves_the_bank_as_it_was(tiny_model):
    """A server warms its front bank before the first stream (``RowBatch.plan_rows``): a call
    of each shape the bank can make (each bank size, each number of tokens a row) on scratch
    rows; then a stream in the bank gets what it gets alone."""
    bank = FrontBank(tiny_model, rows=6)
    shapes, compute = [], bank._compute
    bank._compute = lambda segs, active, k, *rest: (shapes.append((len(active), k)),
                                                    compute(segs, active, k, *rest))[1]  # fmt: skip
    ks, offsets = bank.rings.ks, bank.rings.offsets[:]
    bank.warm()
    assert bank.largest == 16
    assert shapes == [(rows, k) for rows in (1, 2, 4, 6) for k in (1, 2, 4, 8, 16)]
    assert bank.rings.ks is ks and bank.rings.offsets == offsets and bank.members == [None]
    audio = _audio(5, 2.0)
    pipe = AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK)
    for s in range(0, len(audio), PIECE):
        pipe.push(audio[s : s + PIECE])
        if bank.can_join(pipe):
            bank.join(pipe)
        bank.run()
    pipe.finish()
    bank.run()
    want = _alone(tiny_model, audio)
    assert pipe.available == want.available
    assert _rel(pipe.embeddings(0, pipe.available), want.embeddings(0, want.available)) < 1e-4


def test_a_server_warms_the_bank_sizes_that_fit_a_quarter_of_the_memory():
    """A large ``--batch-rows`` on a small Mac must not take its banks' memory at start: the
    sizes warmed are one row and those whose scratch fits a quarter of the device's memory."""
    from voxtral_mlx.decode.bank_rows import warm_sizes

    ring_row = 214 * 2**20  # a full-size encoder row: 32 layers of keys and values, bfloat16
    assert warm_sizes(64, ring_row, 16 * 2**30) == [1, 2, 4, 8, 16]
    assert warm_sizes(64, ring_row, 141 * 2**30) == [1, 2, 4, 8, 16, 32, 64]
    assert warm_sizes(48, ring_row, 141 * 2**30) == [1, 2, 4, 8, 16, 32, 48]
    assert warm_sizes(64, 10 * 2**30, 16 * 2**30) == [1]


def test_streams_starting_together_grow_the_bank_once(tiny_model):
    """Five streams about to join a bank of eight (one row made): ``make_room`` grows it once,
    to eight rows (a bank size), where one join at a time doubled it three times, each
    growth copying every row made so far. Room already there: no growth."""
    from voxtral_mlx.decode.bank_rows import room_for

    assert room_for([None], 5, 8) == 8 and room_for([None] * 8, 5, 8) is None
    assert room_for([object(), None], 2, 64) == 4 and room_for([None], 100, 6) == 6
    bank = FrontBank(tiny_model, rows=8)
    grows, grow = [], bank._grow
    bank._grow = lambda rows: (grows.append(rows), grow(rows))
    bank.make_room(5)
    pipes = [AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK) for _ in range(5)]
    for pipe in pipes:
        assert bank.can_join(pipe)
        bank.join(pipe)
    assert grows == [8] and len(bank.members) == 8
    assert [p.bank_row for p in pipes] == [0, 1, 2, 3, 4]
    bank.make_room(3)
    assert grows == [8]


def test_a_stream_ending_among_many_computes_its_end_alone(tiny_model):
    """Nine streams in a bank of 16 rows: the short one ends first and computes its right
    padding (18 tokens) alone, not in bank calls of 16 tokens that compute every row; the
    eight that end in the same turn stay (one call serves them all). Every embedding is
    what the stream computes alone."""
    audios = [_audio(20 + i, 3.0) for i in range(8)] + [_audio(30, 1.2)]
    bank = FrontBank(tiny_model, rows=16, ends_alone=True)  # the CPU's way (the default here)
    pipes = [AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK) for _ in audios]
    left, calls = _watch(bank, pipes)
    bank.make_room(len(pipes))
    sent = [0] * len(audios)
    for _ in range(200):
        _send_turn(bank, pipes, audios, sent, lambda i: 1)
        bank.run()
        if all(p.finished for p in pipes):
            break
    assert left == [8]  # the short stream's end, alone; the eight ending together stayed
    assert (8, 16) in calls and (1, 16) not in calls
    assert all(pipe.finished for pipe in pipes)
    _assert_each_as_alone(tiny_model, pipes, audios)


@pytest.mark.parametrize("per_run", [1, 3])
def test_on_a_gpu_ends_go_through_the_bank_a_few_tokens_a_run(tiny_model, monkeypatch, per_run):
    """Where a call costs its dispatch (``ends_alone=False``, a GPU's way): the same nine
    streams; no one leaves, a stream's end (18 tokens) goes END_TOKENS_PER_RUN tokens a run
    (the default 1: in the calls of one token every member makes anyway; 3: one more call
    of 2 tokens), never in calls of 16 for every row, and each stream is finished once all
    of it is computed. Every embedding is what the stream computes alone."""
    monkeypatch.setattr(front_bank, "END_TOKENS_PER_RUN", per_run)
    audios = [_audio(20 + i, 3.0) for i in range(8)] + [_audio(30, 1.2)]
    bank = FrontBank(tiny_model, rows=16, ends_alone=False)
    pipes = [AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK) for _ in audios]
    left, calls = _watch(bank, pipes)
    bank.make_room(len(pipes))
    sent, ended, finished_after = [0] * len(audios), {}, {}
    for run in range(200):
        _send_turn(bank, pipes, audios, sent, lambda i: 1)
        for i, pipe in enumerate(pipes):
            if pipe.closed:
                ended.setdefault(i, run)
        bank.run()
        for i, pipe in enumerate(pipes):
            if pipe.finished:
                finished_after.setdefault(i, run - ended[i] + 1)
        if all(p.finished for p in pipes):
            break
    assert left == []
    if per_run == 1:
        assert max(k for _, k in calls) == 1
    else:
        assert max(k for _, k in calls) == 2
        assert (1, 2) in calls and (8, 2) in calls  # the short one's end, then the eight's
    # 18 tokens of right padding (the audio ends on a token) at per_run a run.
    assert set(finished_after.values()) == {18 // per_run}, finished_after
    _assert_each_as_alone(tiny_model, pipes, audios)


def test_a_stream_sent_at_once_and_ended_catches_up_alone(tiny_model):
    """A client that sends its whole audio and ends at once (a file streamed fast): its
    backlog beyond its end is far beyond the others', so it leaves and computes all of it
    alone, end included, rather than a few tokens a run like an end in the bank. The other
    stream stays. Both equal the stream alone."""
    audios = [_audio(40, 2.0), _audio(41, 1.6)]
    bank = FrontBank(tiny_model, rows=2, ends_alone=False)
    pipes = [AudioPipeline(tiny_model, 32, 17, LIVE_BLOCK) for _ in audios]
    left, _ = _watch(bank, pipes)
    bank.make_room(2)
    sent = [0, 0]
    _send_turn(bank, pipes, audios, sent, lambda i: 1)
    pipes[1].push(audios[1][sent[1] :])  # the rest at once, and the end
    sent[1] = len(audios[1])
    pipes[1].finish()
    bank.run()
    assert left == [1] and pipes[1].finished and pipes[1].bank is None
    for _ in range(100):
        _send_turn(bank, pipes, audios, sent, lambda i: 1)
        bank.run()
        if pipes[0].finished:
            break
    assert left == [1]
    _assert_each_as_alone(tiny_model, pipes, audios)
