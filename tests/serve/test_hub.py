"""StreamHub: many streams, one batch, one MLX thread. Each stream's token ids equal a
StreamingSession of its own on the same audio, however its audio was chunked and whatever the
other streams do (cancel mid-stream, flood the inbox); admission stops at max_streams."""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import pytest

from tests.live import tiny_live
from tests.live.tiny_live import SPEECH, Loader
from tests.serve.server_fixture import local_ids
from voxtral_mlx.checkpoint import weights
from voxtral_mlx.serve.hub import StreamHub, StreamsFull

folder = tiny_live.folder


class Client:
    """Collects a stream's events; ``done`` when it ended either way."""

    def __init__(self):
        self.ids, self.errors, self.done = [], [], threading.Event()

    def __call__(self, kind, payload):
        if kind == "tokens":
            self.ids += [e.token_id for e in payload]
        elif kind == "error":
            self.errors.append(payload)
            self.done.set()
        else:
            self.done.set()


def audios():
    rng = np.random.default_rng(3)
    return [SPEECH[: 16000 * 5], np.ascontiguousarray(SPEECH[::-1][: 16000 * 4]),
            (SPEECH[8000 : 8000 + 16000 * 3] * 0.5 + rng.normal(0, 0.01, 48000)).astype(np.float32)]  # fmt: skip


def send(stream, audio, seed, finish=True, pace=0.0):
    rng = random.Random(seed)
    i = 0
    while i < len(audio):
        k = rng.choice([320, 1280, 4000, 9000])
        stream.append(audio[i : i + k])
        i += k
        time.sleep(pace * k / 16000)
    if finish:
        stream.finish()


def started(folder, **options) -> StreamHub:
    hub = StreamHub(Loader(folder), max_streams=3, **options)
    hub.start()
    assert hub.ready.wait(30) and hub.error is None
    return hub


def stream_all(hub: StreamHub, pace: float = 0.0) -> list[Client]:
    """Every audio of ``audios()`` on a stream of its own, sent from threads side by side;
    returns the clients once each has ended without an error."""
    clients = [Client() for _ in audios()]
    streams = [hub.open(c) for c in clients]
    senders = [threading.Thread(target=send, args=(s, a, i), kwargs={"pace": pace})
               for i, (s, a) in enumerate(zip(streams, audios(), strict=True))]  # fmt: skip
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    for c in clients:
        assert c.done.wait(60) and not c.errors
    return clients


def assert_local_ids(folder, clients: list[Client]) -> None:
    """Each stream's ids are a local session's on the same audio."""
    model = weights.load(folder)[0]
    for c, audio in zip(clients, audios(), strict=True):
        assert len(c.ids) > 20 and c.ids == local_ids(model, audio)


def compute_ends(monkeypatch, alone: bool) -> None:
    """Every front bank computes streams' ends alone (the CPU's way) or a few tokens a run in
    its calls (a GPU's), whatever this machine's device."""
    from voxtral_mlx.decode.front_bank import FrontBank

    init = FrontBank.__init__
    monkeypatch.setattr(FrontBank, "__init__", lambda bank, *a, **k: init(
        bank, *a, **{**k, "ends_alone": alone}))  # fmt: skip


@pytest.fixture
def hub(folder):
    hub = started(folder)
    yield hub
    hub.stop()
    assert hub.join(30)


def test_concurrent_streams_each_get_their_own_tokens(hub, folder):
    assert_local_ids(folder, stream_all(hub))
    assert hub.active == 0


@pytest.mark.parametrize("ends_alone", [True, False], ids=["ends-alone", "ends-in-bank"])
def test_batch_rows_computes_the_streams_together(folder, monkeypatch, ends_alone):
    """``batch_rows`` (opt-in) computes live streams' front ends in one call per token
    (FrontBank) and steps their decoder rows in one bank (DecoderBank). On this CPU the words
    stay those of a session alone: the banks round like any two chunkings of the encoder and
    like a lane's attention, and the tiny model's argmax does not move. Both ways a stream's
    end is computed: alone (the CPU's) and a few tokens a run in the bank (a GPU's)."""
    from voxtral_mlx.decode.decoder_bank import DecoderBank
    from voxtral_mlx.decode.front_bank import FrontBank

    compute_ends(monkeypatch, alone=ends_alone)
    fronts, rows = [], []
    join_front, join_row = FrontBank.join, DecoderBank._join
    monkeypatch.setattr(
        FrontBank, "join", lambda bank, pipe: (fronts.append(pipe), join_front(bank, pipe))
    )
    monkeypatch.setattr(
        DecoderBank, "_join", lambda bank, row: (rows.append(row), join_row(bank, row))[1]
    )
    hub = started(folder, batch_rows=4)
    fronts.clear()  # the rehearsal's (test_the_hub_rehearses_before_its_first_client)
    rows.clear()
    clients = stream_all(hub, pace=0.5)
    hub.stop()
    assert hub.join(30)
    assert len({id(p) for p in fronts}) >= 3  # every stream was computed in the banks
    assert len({id(r) for r in rows}) >= 3
    assert_local_ids(folder, clients)


def test_full_is_refused_and_a_cancelled_or_flooding_stream_leaves_the_others_alone(folder):
    hub = StreamHub(Loader(folder), max_streams=3, max_queued_seconds=2.0)
    hub.start()
    try:
        assert hub.ready.wait(30)
        model = weights.load(folder)[0]
        good, gone, flood = Client(), Client(), Client()
        streams = [hub.open(good), hub.open(gone), hub.open(flood)]
        with pytest.raises(StreamsFull, match="all 3 streams are in use"):
            hub.open(Client())
        send(streams[1], SPEECH[: 16000 * 2], 1, finish=False, pace=0.25)
        streams[1].cancel()  # the client vanished mid-stream
        streams[2].append(np.zeros(16000 * 3, np.float32))  # 3 s at once: over its 2 s bound
        assert flood.done.wait(10) and "faster than it is transcribed" in flood.errors[0]
        send(streams[0], SPEECH[: 16000 * 4], 0, pace=0.25)  # 4x real time: kept up with
        assert good.done.wait(60) and not good.errors
        assert good.ids == local_ids(model, SPEECH[: 16000 * 4])
        stream = hub.open(Client())  # room again
        stream.cancel()
        assert not gone.errors
    finally:
        hub.stop()
        assert hub.join(30)


def test_the_hub_measures_its_rows_before_its_first_client(folder, monkeypatch):
    """exact_rows runs while the hub starts (on MLX CUDA its first multi-row kernels compile
    for tens of seconds: a stall for every stream if it came with the fifth client)."""
    from voxtral_mlx.decode import rows

    asked, measure = [], rows.exact_rows
    monkeypatch.setattr(
        rows, "exact_rows", lambda model, want: (asked.append(want), measure(model, want))[1]
    )
    for batch_rows, want in ((None, 5), (8, 8)):
        asked.clear()
        hub = StreamHub(Loader(folder), max_streams=5, batch_rows=batch_rows)
        hub.start()
        assert hub.ready.wait(30) and hub.error is None
        assert asked == [want]
        hub.stop()
        assert hub.join(30)


def test_the_hub_rehearses_before_its_first_client(folder, monkeypatch):
    """Before it is ready the hub runs made-up streams through the real path (on MLX CUDA a
    machine's first run of each kernel compiles it for seconds: the first clients would fall
    behind): they join both banks and decode, one stalls and catches up alone, then they
    leave nothing behind."""
    from voxtral_mlx.decode.audio_pipeline import AudioPipeline
    from voxtral_mlx.decode.decoder_bank import DecoderBank
    from voxtral_mlx.decode.front_bank import FrontBank
    from voxtral_mlx.decode.rows import RowBatch

    seen = {"front": 0, "decoder": 0, "events": 0, "left": 0, "alone": 0}
    join_front, join_row, step = FrontBank.join, DecoderBank._join, RowBatch.step

    def counted(name, inner):
        def run(*a, **k):
            seen[name] += 1
            return inner(*a, **k)

        return run

    monkeypatch.setattr(FrontBank, "join", counted("front", join_front))
    monkeypatch.setattr(DecoderBank, "_join", counted("decoder", join_row))
    monkeypatch.setattr(FrontBank, "leave", counted("left", FrontBank.leave))
    monkeypatch.setattr(AudioPipeline, "_consume", counted("alone", AudioPipeline._consume))
    monkeypatch.setattr(RowBatch, "step", lambda batch, max_tokens=None, on_round=None: (
        seen.__setitem__("events", seen["events"] + len(out := step(batch, max_tokens, on_round))),
        out,
    )[1])  # fmt: skip
    hub = started(folder, batch_rows=4)
    try:
        assert seen["front"] >= 3 and seen["decoder"] >= 3 and seen["events"] > 3 * 20
        # A stalled stream left the front bank, caught up alone and joined it again.
        assert seen["left"] >= 1 and seen["alone"] >= 1 and seen["front"] >= 4
        batch = hub._group.batch
        assert hub._group.sessions == [] and batch.rows == []
        assert batch._decoder_bank.members == [] and not any(batch._front_bank.members)
        assert len(batch._front_bank.members) == 1  # given back: one small row kept
    finally:
        hub.stop()
        assert hub.join(30)


def test_streams_starting_together_make_room_once(folder, monkeypatch):
    """Streams that open in the same turn make room in the banks once for all of them (one
    growth, not a doubling per join), and each still gets its own session's tokens."""
    from voxtral_mlx.decode.rows import RowBatch

    asked, make_room = [], RowBatch.make_room
    monkeypatch.setattr(RowBatch, "make_room", lambda batch, n: (asked.append(n),
                                                                  make_room(batch, n)))  # fmt: skip
    hub = StreamHub(Loader(folder), max_streams=3, batch_rows=4)
    clients = [Client() for _ in audios()]
    streams = [hub.open(c) for c in clients]  # before the hub's first turn: one turn sees all
    hub.start()
    try:
        assert hub.ready.wait(30) and hub.error is None
        for i, (stream, audio) in enumerate(zip(streams, audios(), strict=True)):
            send(stream, audio, i)
        assert all(c.done.wait(60) for c in clients)
        assert asked == [3]
        model, _ = weights.load(folder)
        for client, audio in zip(clients, audios(), strict=True):
            assert client.errors == [] and client.ids == local_ids(model, audio)
    finally:
        hub.stop()
        assert hub.join(30)


def test_a_turns_first_tokens_go_out_before_its_next_round(folder, monkeypatch):
    """A turn decodes in rounds, one token of each row that has one per round; a stream sent
    a backlog (or ending with its right padding) needs several. The first round's tokens go
    to their streams as soon as they are read, not once the turn's last round is done: the
    others' tokens do not wait for one stream's backlog. The ids are still a local
    session's."""
    from voxtral_mlx.decode.rows import RowBatch

    log: list[str] = []
    step_round = RowBatch._round
    monkeypatch.setattr(RowBatch, "_round", lambda batch, budget, events: (
        took := step_round(batch, budget, events), took and log.append("round"))[0])  # fmt: skip
    turn = StreamHub._turn
    monkeypatch.setattr(StreamHub, "_turn", lambda hub: (log.append("turn"), turn(hub))[1])
    hub = started(folder)
    try:
        log.clear()  # the rehearsal's
        client = Client()

        def on_event(kind, payload):
            if kind == "tokens":
                log.append("tokens")
            client(kind, payload)

        audio = audios()[0]
        stream = hub.open(on_event)
        stream.append(audio)  # 5 s at once: a backlog of tokens, decoded in rounds
        stream.finish()
        assert client.done.wait(60) and not client.errors
    finally:
        hub.stop()
        assert hub.join(30)
    turns = " ".join(log).split("turn")
    assert any("tokens round" in t for t in turns)  # tokens out between a turn's rounds
    assert client.ids == local_ids(weights.load(folder)[0], audio)


def test_with_banks_a_stream_decodes_a_few_tokens_a_turn(folder, monkeypatch):
    """With banks (``batch_rows``) a round steps every row of the decoder bank, so a stream
    with a backlog or ending (its right padding) decodes at most BANK_TOKENS_PER_TURN tokens
    a turn, not 12 rounds that hold every other stream's next token (on a GPU the front bank
    computes ends in its calls too, a few tokens a run: forced here on the CPU). The ids are
    still a local session's."""
    from voxtral_mlx.decode.rows import RowBatch
    from voxtral_mlx.serve.hub import BANK_TOKENS_PER_TURN, TOKENS_PER_TURN

    compute_ends(monkeypatch, alone=False)
    rounds: list[int] = []
    step_round = RowBatch._round
    monkeypatch.setattr(RowBatch, "_round", lambda batch, budget, events: (
        took := step_round(batch, budget, events), took and rounds.append(1))[0])  # fmt: skip
    turn = StreamHub._turn
    monkeypatch.setattr(StreamHub, "_turn", lambda hub: (rounds.append(0), turn(hub))[1])
    hub = started(folder, batch_rows=4)
    try:
        rounds.clear()  # the rehearsal's
        client = Client()
        audio = audios()[0]
        stream = hub.open(client)
        stream.append(audio)  # 5 s at once: a backlog of 62 tokens, then the end's 18
        stream.finish()
        assert client.done.wait(60) and not client.errors
    finally:
        hub.stop()
        assert hub.join(30)
    per_turn = [len(t) for t in "".join(map(str, rounds)).split("0")]
    assert max(per_turn) == BANK_TOKENS_PER_TURN < TOKENS_PER_TURN
    assert client.ids == local_ids(weights.load(folder)[0], audio)
