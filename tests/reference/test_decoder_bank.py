"""The decoder bank (RowBatch's opt-in ``bank_rows``): rows of streams that start at other
moments, pause, end, restart after an EOS and outnumber the bank step together at different
positions, and each row's tokens and times are a session's alone on its audio (on this CPU:
the bank's masked attention rounds like a lane's within float error, and the argmax holds)."""

from __future__ import annotations

import mlx.core as mx
import pytest

from voxtral_mlx.checkpoint import weights
from voxtral_mlx.decode.audio_pipeline import LIVE_BLOCK
from voxtral_mlx.decode.decoder_bank import DecoderBank
from voxtral_mlx.decode.rows import RowBatch
from voxtral_mlx.text.tokenizer import Tokenizer

from . import hf_reference as ref
from .tekken_fixture import write_tekken
from .test_parallel import EarlyEos, key, session_events

TURN = 3840  # samples a stream sends a turn (240 ms)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("bank")
    model, _ = weights.load(ref.save_native(ref.build("windowed", seed=0), root / "m"))
    return model, Tokenizer.from_file(write_tekken(root / "tekken.json"))


def test_bank_rows_equal_their_sessions(env, monkeypatch):
    """Three streams in a bank of two rows: the third steps on a lane until a row is free and
    then joins; the first meets an "EOS" mid-stream, restarts on a feed of its own and joins
    again; the second pauses (its client sends nothing for a while)."""
    model, tok = env
    clips = [ref.test_audio(s, seed=i) for i, s in ((11, 8.0), (12, 5.0), (13, 6.0))]
    ids = [e.token_id for e in session_events(model, tok, clips[0])]
    early = next(t for t in ids[5:] if ids.index(t) < len(ids) - 30 and t != tok.eos_id)
    fake = EarlyEos(tok, early)
    joined, join = [], DecoderBank._join
    monkeypatch.setattr(DecoderBank, "_join", lambda b, row: (joined.append(row), join(b, row))[1])

    batch = RowBatch(model, fake, bank_rows=2)
    starts, pause = [0, 2, 6], range(8, 14)  # in turns; the second stream pauses for these
    rows, sent = [None] * 3, [0] * 3
    out: dict = {i: [] for i in range(3)}
    for turn in range(400):
        for i, clip in enumerate(clips):
            if turn == starts[i]:
                rows[i] = batch.add_row(batch.add_feed([None]))
            if turn < starts[i] or (i == 1 and turn in pause):
                continue
            feed = rows[i].feed  # the row's own (a new one after a restart)
            if sent[i] >= len(clip):
                if not feed.finished:
                    batch.finish(feed)
                continue
            feed.push(clip[sent[i] : sent[i] + TURN])
            sent[i] += TURN
        for row, e in batch.step():
            out[rows.index(row)].append(e)
        if turn > starts[-1] and all(r.done for r in rows):
            break
    for i, clip in enumerate(clips):
        assert key(out[i]) == key(session_events(model, fake, clip)), f"stream {i}"
    assert sum(e.token_id == early for e in out[0]) >= 1  # the first stream restarted
    assert joined.count(rows[0]) >= 2  # and joined again on its new feed
    assert rows[2] in joined and joined.index(rows[2]) > 1  # the third, once a row was free
    bank = batch._decoder_bank
    for row in rows:
        batch.remove_row(row)
    assert not bank.bank.ks and bank.members == []  # nobody left: the decoder cache is gone


def _together(batch: RowBatch, clips: list, after_turn=None, starts=None) -> dict:
    """Each clip a stream of ``batch`` from its turn in ``starts`` (default: the first),
    ``TURN`` samples a turn, finished when it ends; ``after_turn()`` after each step. The
    events each stream decoded."""
    starts = starts or [0] * len(clips)
    rows: list = []
    out: dict = {i: [] for i in range(len(clips))}
    for turn in range(200):
        while len(rows) < len(clips) and starts[len(rows)] <= turn:
            rows.append(batch.add_row(batch.add_feed([None])))
        for row, clip, start in zip(rows, clips, starts, strict=False):
            piece = clip[(turn - start) * TURN : (turn - start + 1) * TURN]
            if piece.size:
                row.feed.push(piece)
            elif not row.feed.finished:
                batch.finish(row.feed)
        for row, e in batch.step():
            out[rows.index(row)].append(e)
        if after_turn is not None:
            after_turn()
        if len(rows) == len(clips) and all(r.done for r in rows):
            break
    return out


def test_streams_starting_together_share_one_prefill(env, monkeypatch):
    """Four streams start in the same turn with a bank of three rows: three prompts go through
    the decoder as one prefill (the rows the bank has places for), the fourth alone; every
    stream's tokens are still its session's alone."""
    model, tok = env
    clips = [ref.test_audio(s, seed=i) for i, s in ((21, 3.0), (22, 2.5), (23, 3.5), (24, 2.0))]
    groups, prefill = [], RowBatch._prefill
    monkeypatch.setattr(RowBatch, "_prefill", lambda b, rows, shared: (groups.append(len(rows)),
                                                                       prefill(b, rows, shared)))  # fmt: skip
    out = _together(RowBatch(model, tok, bank_rows=3), clips)
    assert sorted(groups) == [1, 3]
    for i, clip in enumerate(clips):
        assert key(out[i]) == key(session_events(model, tok, clip)), f"stream {i}"


def test_the_bank_shrinks_when_few_rows_are_left(env):
    """Eight streams fill a bank of eight rows; six are short. Once two are left the bank
    keeps four rows, the two moved to its first places; every stream's tokens are still its
    session's alone."""
    model, tok = env
    clips = [ref.test_audio(4.0 if i in (5, 7) else 1.5, seed=40 + i) for i in range(8)]
    batch = RowBatch(model, tok, bank_rows=8)
    bank = batch._decoder_bank
    sizes = []

    def after_turn() -> None:
        sizes.append(len(bank.members))
        for place, m in enumerate(bank.members):
            assert m is None or (m.lane is bank.bank and m.lane_row == place)

    out = _together(batch, clips, after_turn)
    assert max(sizes) == 8 and 4 in sizes[sizes.index(8) :]
    for i, clip in enumerate(clips):
        assert key(out[i]) == key(session_events(model, tok, clip)), f"stream {i}"


def test_rows_joining_together_grow_the_bank_once(env, monkeypatch):
    """Five streams prefilled together join a decoder bank of eight in one growth to eight
    rows, not three doublings (each copies every row made), and their buffers are copied in
    by one call (one wait for the device, not five); their tokens are still their sessions'
    alone."""
    from voxtral_mlx.model.lane_bank import LaneBank

    model, tok = env
    clips = [ref.test_audio(s, seed=i) for i, s in ((61, 2.0), (62, 2.5), (63, 2.0), (64, 1.5),
                                                    (65, 2.0))]  # fmt: skip
    grows, grow = [], LaneBank.grow
    monkeypatch.setattr(LaneBank, "grow", lambda bank, rows, slots=0: (
        rows > bank.rows and grows.append(rows), grow(bank, rows, slots))[1])  # fmt: skip
    copies, put_rows = [], LaneBank.put_rows
    monkeypatch.setattr(LaneBank, "put_rows", lambda bank, rows, lane, lane_rows: (
        copies.append(len(rows)), put_rows(bank, rows, lane, lane_rows))[1])  # fmt: skip
    out = _together(RowBatch(model, tok, LIVE_BLOCK, bank_rows=8), clips)
    assert grows == [8]  # the rows made: eight at once
    assert copies == [5]  # and their prefilled buffers copied in by one call
    for i, clip in enumerate(clips):
        assert key(out[i]) == key(session_events(model, tok, clip)), f"stream {i}"


def test_a_shared_prefill_is_padded_to_a_bank_size(env, monkeypatch):
    """Three streams start in the same turn with a bank of eight rows: their prompts go
    through the decoder as one prefill of four rows (a bank size, warmed at start; the fourth
    a copy, unread), and every stream's tokens are still its session's alone."""
    from voxtral_mlx.model.fast_step import FastStepper

    model, tok = env
    clips = [ref.test_audio(s, seed=i) for i, s in ((31, 2.5), (32, 3.0), (33, 2.0))]
    sizes, prefill = [], FastStepper.prefill_lane
    monkeypatch.setattr(FastStepper, "prefill_lane", lambda s, x, reserve=None: (
        sizes.append(x.shape[0]), prefill(s, x, reserve))[1])  # fmt: skip
    out = _together(RowBatch(model, tok, bank_rows=8), clips)  # file-sized blocks: no _admit
    assert sizes == [4]
    for i, clip in enumerate(clips):
        assert key(out[i]) == key(session_events(model, tok, clip)), f"stream {i}"


def test_new_live_streams_run_their_prompts_as_bank_steps(env, monkeypatch):
    """Every live stream's prompt starts with the same silent start (the left padding but its
    last token): a new stream takes a decoder bank place holding a copy of it (computed
    once) and runs the rest of its prompt as bank steps as its audio comes, never a prefill,
    here for streams starting in three different turns; each stream's tokens are still its
    session's alone."""
    from voxtral_mlx.model.fast_step import FastStepper
    from voxtral_mlx.protocol import StreamProtocol

    model, tok = env
    proto = StreamProtocol.of(model.config, tok, None)
    start = proto.n_left - 1
    assert start > 0
    prefixes, prefills, admitted = [], [], []
    prefix = FastStepper.prefix
    monkeypatch.setattr(FastStepper, "prefix", lambda s, x: (prefixes.append(x.shape[1]),
                                                             prefix(s, x))[1])  # fmt: skip
    for name in ("prefill_lane", "prefill_lane_from"):
        inner = getattr(FastStepper, name)
        monkeypatch.setattr(FastStepper, name, lambda *a, inner=inner, **k: (
            prefills.append(a[2:]), inner(*a, **k))[1])  # fmt: skip
    admit = DecoderBank.admit
    monkeypatch.setattr(DecoderBank, "admit", lambda bank, rows, lane: (
        admitted.append((len(rows), lane.pos)), admit(bank, rows, lane))[1])  # fmt: skip
    clips = [ref.test_audio(s, seed=i) for i, s in ((41, 2.5), (42, 3.0), (43, 2.0))]
    batch = RowBatch(model, tok, LIVE_BLOCK, bank_rows=8)
    out = _together(batch, clips, starts=[0, 4, 8])  # a stream starts every 4th turn
    assert prefixes == [start]  # computed once
    assert prefills == []  # (the sessions below prefill: read first)
    assert admitted == [(1, start)] * len(clips)
    for i, clip in enumerate(clips):
        assert key(out[i]) == key(session_events(model, tok, clip)), f"stream {i}"


def test_a_live_stream_restarted_after_an_eos_prefills_after_the_silent_start(env, monkeypatch):
    """A live bank row that meets an EOS starts again on a feed of its own, whose audio is
    there at once: one prefill of the prompt's rest over the silent start computed once (not
    a bank step a position); its tokens are still its session's alone."""
    from voxtral_mlx.model.fast_step import FastStepper
    from voxtral_mlx.protocol import StreamProtocol

    model, tok = env
    proto = StreamProtocol.of(model.config, tok, None)
    clips = [ref.test_audio(s, seed=i) for i, s in ((44, 6.0), (45, 3.0))]
    ids = [e.token_id for e in session_events(model, tok, clips[0])]
    early = next(t for t in ids[5:] if ids.index(t) < len(ids) - 30 and t != tok.eos_id)
    fake = EarlyEos(tok, early)
    rests, prefill = [], FastStepper.prefill_lane_from
    monkeypatch.setattr(FastStepper, "prefill_lane_from", lambda s, p, x, reserve=None: (
        rests.append(x.shape[1]), prefill(s, p, x, reserve))[1])  # fmt: skip
    out = _together(RowBatch(model, fake, LIVE_BLOCK, bank_rows=8), clips)
    restarts = sum(e.token_id == early for events in out.values() for e in events)
    assert restarts >= 1
    # One prefill a restart with audio left to decode, each of the prompt's rest.
    assert 1 <= len(rests) <= restarts
    assert set(rests) == {len(proto.prompt) - (proto.n_left - 1)}
    for i, clip in enumerate(clips):
        assert key(out[i]) == key(session_events(model, fake, clip)), f"stream {i}"


def test_plan_rows_warms_every_bank_shape(env, monkeypatch):
    """Before a server's first stream (``plan_rows``): the front bank's calls, a shared
    prefill and a decoder bank step of every bank size, on scratch buffers."""
    from voxtral_mlx.decode.front_bank import FrontBank
    from voxtral_mlx.model.fast_step import FastStepper

    model, tok = env
    seen = []
    prefill, step = FastStepper.prefill_lane_from, FastStepper.step_bank
    monkeypatch.setattr(FastStepper, "prefill_lane_from", lambda s, p, x, reserve=None: (
        seen.append(("prefill", x.shape[0])), prefill(s, p, x, reserve))[1])  # fmt: skip
    monkeypatch.setattr(FastStepper, "step_bank", lambda s, bank, x, active: (
        seen.append(("step", bank.rows)), step(s, bank, x, active))[1])  # fmt: skip
    monkeypatch.setattr(FrontBank, "warm", lambda bank: seen.append(("front", bank.capacity)))
    batch = RowBatch(model, tok, LIVE_BLOCK, bank_rows=6)
    batch.plan_rows(6)
    sizes = (1, 2, 4, 6)
    assert seen == [("front", 6)] + [("prefill", r) for r in sizes] + [("step", r) for r in sizes]
    assert batch._decoder_bank.members == [] and batch.rows == []


def test_the_index_kernels_of_staggered_steps_are_warmed(env, monkeypatch):
    """Streams starting a turn apart step with rows in their prompt (ids read back, int32)
    beside rows on argmax tokens (uint32) and rows not stepping: every gather and scatter
    family those steps index with is one ``plan_rows`` warms (on MLX CUDA each family met
    first under load was a ~2.5 s compile with every stream waiting)."""
    from voxtral_mlx.decode import decoder_bank, index_kernels
    from voxtral_mlx.decode import row as row_module
    from voxtral_mlx.decode import rows as rows_module

    model, tok = env
    warmed = []
    warm = index_kernels.warm_index_kernels
    monkeypatch.setattr(rows_module, "warm_index_kernels",
                        lambda dtype: warmed.append(warm(dtype)))  # fmt: skip
    used = set()
    in_order, scatter_rows = row_module._in_order, decoder_bank._scatter_rows

    def spy_in_order(parts, order):
        out = in_order(parts, order)
        if order != sorted(order):  # a gather by one index array
            used.add(("gather", out.dtype, 1))
        return out

    def spy_scatter(x, where, rows):
        used.add(("scatter", x.dtype, 1))
        return scatter_rows(x, where, rows)

    monkeypatch.setattr(row_module, "_in_order", spy_in_order)
    monkeypatch.setattr(decoder_bank, "_scatter_rows", spy_scatter)
    batch = RowBatch(model, tok, LIVE_BLOCK, bank_rows=4)
    batch.plan_rows(4)
    clips = [ref.test_audio(s, seed=i) for i, s in ((21, 3.0), (22, 3.0), (23, 2.0), (24, 2.5))]
    _together(batch, clips, starts=[0, 1, 3, 6])
    assert len(warmed) == 1
    assert ("gather", mx.int32, 1) in used and ("scatter", mx.int32, 1) in used
    assert used <= warmed[0], used - warmed[0]


def test_a_new_stream_joins_the_front_bank_before_its_first_audio(env, monkeypatch):
    """With banks, a live stream's feed joins the front bank when its row is added, so its
    first audio is computed in the bank's call with the others, never in an encoder call of
    its own (64 streams starting together each made one on the H200: ~0.7 s of one turn)."""
    from voxtral_mlx.decode.audio_pipeline import AudioPipeline

    model, tok = env
    batch = RowBatch(model, tok, LIVE_BLOCK, bank_rows=8)
    batch.add_row(batch.add_feed([None]))  # the model's silent start, computed once
    alone = []
    consume = AudioPipeline._consume
    monkeypatch.setattr(AudioPipeline, "_consume", lambda p, mel: (alone.append(mel.shape),
                                                                   consume(p, mel)))  # fmt: skip
    rows = [batch.add_row(batch.add_feed([None])) for _ in range(3)]
    assert all(r.feed.pipe.bank is not None for r in rows)
    clip = ref.test_audio(1.0, seed=51)
    for turn in range(4):
        for r in rows:
            r.feed.push(clip[turn * TURN : (turn + 1) * TURN])
        batch.step()
    assert alone == []
    assert all(r.feed.pipe.available > r.protocol.n_left for r in rows)  # audio computed


def test_the_cache_is_cleared_by_rounds_not_tokens(env, monkeypatch):
    """Four streams stepping together clear MLX's buffer cache once every
    ``CLEAR_CACHE_EVERY`` rounds, as one stream does, not four times as often (every clear
    has the next step allocate each buffer again)."""
    import mlx.core as mx

    from voxtral_mlx.decode import rows as rows_module

    model, tok = env
    clips = [ref.test_audio(2.0, seed=70 + i) for i in range(4)]
    clears, rounds, tokens = [], [], []
    monkeypatch.setattr(rows_module, "CLEAR_CACHE_EVERY", 5)
    monkeypatch.setattr(mx, "clear_cache", lambda: clears.append(1))
    step_round = RowBatch._round

    def counted(batch, budget, events):
        before = len(events)
        took = step_round(batch, budget, events)
        if took:
            rounds.append(1)
            tokens.append(len(events) - before)
        return took

    monkeypatch.setattr(RowBatch, "_round", counted)
    out = _together(RowBatch(model, tok, LIVE_BLOCK, bank_rows=4), clips)
    assert max(tokens) == 4  # rounds of four rows happened
    assert len(clears) == len(rounds) // 5 < sum(tokens) // 5
    for i, clip in enumerate(clips):
        assert key(out[i]) == key(session_events(model, tok, clip)), f"stream {i}"


def test_the_inputs_of_a_bank_step_have_every_bank_row(env, monkeypatch):
    """Streams starting, pausing and ending at other moments step a few rows of the bank at
    a time, but the (compiled) inputs of a step are computed for every row of the bank, so
    their shapes are the bank's few sizes: each new number of rows stepping was a new
    compile (benchmarks/lab/new_shapes_lab.py). Each stream's tokens are still its session's."""
    from voxtral_mlx.model.fast_step import FastStepper

    model, tok = env
    rows_seen: set[int] = set()
    init = FastStepper.__init__

    def recording_init(stepper, *args, **kwargs):
        init(stepper, *args, **kwargs)
        inputs = stepper.inputs
        stepper.inputs = lambda ids, audio: (rows_seen.add(ids.shape[0]), inputs(ids, audio))[1]

    monkeypatch.setattr(FastStepper, "__init__", recording_init)
    clips = [ref.test_audio(s, seed=i) for i, s in ((51, 3.0), (52, 2.0), (53, 2.6), (54, 1.5))]
    batch = RowBatch(model, tok, bank_rows=4)
    out = _together(batch, clips, starts=[0, 1, 1, 3])
    assert rows_seen and rows_seen <= {1, 2, 4}, rows_seen
    for i, clip in enumerate(clips):
        assert key(out[i]) == key(session_events(model, tok, clip)), f"stream {i}"
