"""Long files as pieces decoded side by side: each row equals a session alone, and the stitched
transcript keeps every piece's own words once, in order."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from voxtral_mlx.audio.mel import SAMPLE_RATE, log_mel, pad_for_stream
from voxtral_mlx.checkpoint import weights
from voxtral_mlx.decode import pieces as parallel
from voxtral_mlx.decode.batch import BatchDecoder
from voxtral_mlx.decode.pieces import Piece, owned_words, plan_wave, quiet_cut
from voxtral_mlx.decode.session import StreamingSession
from voxtral_mlx.decode.transcribe import Interrupted, transcribe_file
from voxtral_mlx.text.tokenizer import Tokenizer
from voxtral_mlx.text.transcript import TokenEvent

from . import hf_reference as ref
from .tekken_fixture import write_tekken


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("par")
    model, _ = weights.load(ref.save_native(ref.build("windowed", seed=0), root / "m"))
    tok = Tokenizer.from_file(write_tekken(root / "tekken.json"))
    return model, tok, root


def session_events(model, tok, clip, **kw):
    session = StreamingSession(model, tok, **kw)
    session.feed(clip)
    session.close()
    out = []
    while not session.done:
        out += session.step()
    return out


def key(events):
    return [(e.token_id, round(e.start, 6), round(e.end, 6)) for e in events]


def test_each_row_equals_a_session_on_its_clip(env):
    model, tok, _ = env
    clips = [ref.test_audio(s, seed=i) for i, s in enumerate((6.0, 9.3, 4.1))]
    rows = BatchDecoder(model, tok).decode(clips)
    for clip, row in zip(clips, rows, strict=True):
        alone = session_events(model, tok, clip)
        assert key(row) == key(alone)
        assert [e.text for e in row] == [e.text for e in alone]


def test_a_batch_of_one_is_offline_greedy(env):
    model, tok, _ = env
    clip = ref.test_audio(7.0, seed=9)
    mel = log_mel(pad_for_stream(clip, 32, 17))[None]
    offline = model.greedy(mel, [1] + [32] * 38, 6, eos_id=tok.eos_id)
    (row,) = BatchDecoder(model, tok).decode([clip])
    assert [e.token_id for e in row] == offline


class EarlyEos:
    """The fixture tokenizer with ``eos_id`` set to an id the tiny model emits mid-stream."""

    def __init__(self, tok, eos_id):
        self._tok, self.eos_id = tok, eos_id

    def __getattr__(self, name):
        return getattr(self._tok, name)


def test_eos_mid_row_restarts_like_a_session(env):
    model, tok, _ = env
    clips = [ref.test_audio(8.0, seed=11), ref.test_audio(5.0, seed=12)]
    plain = session_events(model, tok, clips[0])
    ids = [e.token_id for e in plain]
    # An id first emitted well before the end: treated as EOS, it forces a restart.
    early = next(t for t in ids[5:] if ids.index(t) < len(ids) - 30 and t != tok.eos_id)
    fake = EarlyEos(tok, early)
    rows = BatchDecoder(model, fake).decode(clips)
    alone = session_events(model, fake, clips[0])
    assert key(rows[0]) == key(alone)
    assert sum(e.token_id == early for e in rows[0]) >= 1
    assert len(rows[0]) > ids.index(early) + 1  # decoding went on after the "EOS"
    assert key(rows[1]) == key(session_events(model, fake, clips[1]))


def test_an_interrupt_after_an_early_eos_keeps_every_row(env, monkeypatch):
    """Ctrl-C while a row's audio after its EOS is being decoded: the batch's tokens of every
    row are kept (the other row whole), not lost with the interrupted restart."""
    from voxtral_mlx.decode.batch import BatchInterrupted

    model, tok, _ = env
    clips = [ref.test_audio(8.0, seed=11), ref.test_audio(5.0, seed=12)]
    ids = [e.token_id for e in session_events(model, tok, clips[0])]
    early = next(t for t in ids[5:] if ids.index(t) < len(ids) - 30 and t != tok.eos_id)
    fake = EarlyEos(tok, early)
    full = BatchDecoder(model, fake).decode(clips)

    real, calls = BatchDecoder._single, []
    monkeypatch.setattr(BatchDecoder, "_single", lambda s, c: calls.append(1) or real(s, c))
    BatchDecoder(model, fake).decode(clips)
    restarts, calls[:] = len(calls), []  # rows that met the "EOS" before their end
    assert restarts >= 1

    def stop_on_the_last(self, clip):
        calls.append(1)
        if len(calls) == restarts:
            raise KeyboardInterrupt
        return real(self, clip)

    monkeypatch.setattr(BatchDecoder, "_single", stop_on_the_last)
    with pytest.raises(BatchInterrupted) as info:
        BatchDecoder(model, fake).decode(clips)
    events, ended = info.value.events, info.value.finished
    assert ended.count(False) == 1  # only the row whose restart was stopped
    for row, done in enumerate(ended):
        got, whole = key(events[row]), key(full[row])
        assert got == whole if done else (got and got == whole[: len(got)] and got != whole)


def gapped_audio(seconds: float, gaps: list[float], seed: int = 0) -> np.ndarray:
    """Test signal with 0.6 s of near-silence centred on each of ``gaps`` (seconds)."""
    x = ref.test_audio(seconds, seed=seed) + 0.2 * np.sin(
        2 * np.pi * 300 * np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    ).astype(np.float32)
    for g in gaps:
        a, b = round((g - 0.3) * SAMPLE_RATE), round((g + 0.3) * SAMPLE_RATE)
        x[a:b] *= 0.001
    return x


def test_quiet_cut_finds_the_pause():
    x = gapped_audio(12.0, [4.7, 9.0])
    cut = quiet_cut(x, 3 * SAMPLE_RATE, 7 * SAMPLE_RATE)
    assert abs(cut / SAMPLE_RATE - 4.7) < 0.2
    assert quiet_cut(x, 100, 150) == 100  # too short to search: the start


def test_wave_plan_covers_the_audio_once_with_cuts_in_pauses():
    x = gapped_audio(40.0, [9.4, 21.1, 28.7])
    piece = 10 * SAMPLE_RATE
    plan = plan_wave(x, 0, 0, 3, piece, final=False)
    assert [p.own for p in plan[1:]] == [p.own_end for p in plan[:-1]]
    assert plan[0].own == 0 and plan[0].start == 0
    cuts = [p.own_end / SAMPLE_RATE for p in plan]
    assert all(abs(c - g) < 0.2 for c, g in zip(cuts, [9.4, 21.1, 28.7], strict=True))
    for p in plan[1:]:
        assert p.start == p.own - int(parallel.LEAD_S * SAMPLE_RATE)
    for p in plan:
        assert p.stop == p.own_end + int(parallel.TAIL_S * SAMPLE_RATE) and not p.last
    # A final wave from mid-file owns everything to the end; its last piece is the file's last.
    base = 20 * SAMPLE_RATE
    fin = plan_wave(x[base:], base, 25 * SAMPLE_RATE, 2, piece, final=True)
    assert fin[0].own == 25 * SAMPLE_RATE and fin[-1].own_end == len(x) and fin[-1].last
    assert fin[0].start == 23 * SAMPLE_RATE and fin[-1].stop == len(x)


def test_owned_words_keep_words_starting_in_the_span():
    def ev(text, t, ws):
        return TokenEvent(5, text, t, t + 0.08, ws)

    # Times are relative to the piece's first sample (start = 8 s): owned span 10..20 s.
    events = [ev("lead", 1.0, True), ev("in", 1.1, False), ev(" edge", 1.96, True),
              ev(" one", 2.0, True), ev(" two", 11.9, True), ev(" three", 12.0, True)]  # fmt: skip
    p = Piece(start=8 * SAMPLE_RATE, stop=21 * SAMPLE_RATE, own=10 * SAMPLE_RATE,
              own_end=20 * SAMPLE_RATE)  # fmt: skip
    words, tokens = owned_words(events, p)
    assert [w.text for w in words] == ["one", "two"]
    assert words[0].start == pytest.approx(10.0) and len(tokens) == 2
    last = Piece(p.start, p.stop, p.own, p.own_end, last=True)
    assert [w.text for w in owned_words(events, last)[0]] == ["one", "two", "three"]


def test_parallel_file_equals_its_pieces_decoded_alone(env, monkeypatch):
    """Stitching end to end: every piece's owned words, each piece decoded by a session alone."""
    model, tok, root = env
    monkeypatch.setattr(parallel, "MAX_PIECE_S", 8.0)
    x = gapped_audio(30.0, [8.2, 16.5, 24.1], seed=2)
    path = root / "long.wav"
    sf.write(path, x, SAMPLE_RATE, subtype="FLOAT")
    seen = []
    t = transcribe_file(path, model, tok, duration=30.0, streams=2, block_seconds=2.0,
                        on_progress=seen.append)  # fmt: skip
    assert t.metadata["streams"] == 2 and t.duration == pytest.approx(30.0)
    # Re-plan exactly as the transcriber did, decode each piece alone, keep its own words.
    par = parallel.ParallelTranscriber(model, tok, streams=2, duration=30.0)
    plans = []
    par.decoder.decode = lambda clips, on_progress=None: [[] for _ in clips]
    real_plan = parallel.plan_wave

    def spy(*a, **k):
        plans.append(real_plan(*a, **k))
        return plans[-1]

    monkeypatch.setattr(parallel, "plan_wave", spy)
    for s in range(0, len(x), 2 * SAMPLE_RATE):
        par.feed(x[s : s + 2 * SAMPLE_RATE])
    par.close()
    pieces = [p for plan in plans for p in plan]
    assert len(pieces) >= 3 and pieces[-1].own_end == len(x)
    expected = []
    for p in pieces:
        words, _ = owned_words(session_events(model, tok, x[p.start : p.stop]), p)
        expected += words
    assert t.words == expected
    assert t.words and all(a.start <= b.start for a, b in zip(t.words, t.words[1:], strict=False))
    done = [p.audio_done for p in seen]
    assert done == sorted(done) and done[-1] == pytest.approx(30.0)


@pytest.mark.parametrize("seconds, seed", [(12.0, 5), (20.0, 21)])
def test_one_stream_by_default_whatever_the_length(env, seconds, seed):
    """Short or long enough for pieces (20 s also crosses both attention windows), a file is one
    stream unless pieces are asked for: its tokens are offline greedy decoding's (==
    transformers'), by default and with ``streams=1``."""
    model, tok, root = env
    x = ref.test_audio(seconds, seed=seed)
    path = root / f"one-{seconds:.0f}.wav"
    sf.write(path, x, SAMPLE_RATE, subtype="FLOAT")
    mel = log_mel(pad_for_stream(x, 32, 17))[None]
    offline = model.greedy(mel, [1] + [32] * 38, 6, eos_id=tok.eos_id)
    for kw in ({}, {"streams": 1}):
        t = transcribe_file(path, model, tok, duration=seconds, **kw)
        assert t.tokens == offline and "streams" not in t.metadata


def test_ctrl_c_in_a_long_file_keeps_finished_waves_and_running_rows(env, monkeypatch):
    model, tok, root = env
    monkeypatch.setattr(parallel, "MAX_PIECE_S", 8.0)
    x = gapped_audio(40.0, [8.0, 16.0, 24.0, 32.0], seed=3)
    path = root / "ctrl.wav"
    sf.write(path, x, SAMPLE_RATE, subtype="FLOAT")
    kept: list[tuple[int, list[int]]] = []  # (piece's owned start, its tokens kept), in order
    keep = parallel.ParallelTranscriber._keep

    def record(self, piece, events):
        before = len(self.tokens)
        keep(self, piece, events)
        kept.append((piece.own, self.tokens[before:]))

    monkeypatch.setattr(parallel.ParallelTranscriber, "_keep", record)
    full = transcribe_file(path, model, tok, duration=40.0, streams=2, block_seconds=2.0)
    whole, kept[:] = dict(kept), []

    def stop_late(progress):
        if progress.audio_done > 21.0:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted) as info:
        transcribe_file(path, model, tok, duration=40.0, streams=2, block_seconds=2.0,
                        on_progress=stop_late)  # fmt: skip
    part = info.value.transcript
    assert part.metadata["interrupted"] is True and 0 < part.duration < 40.0
    assert part.tokens == [t for _, toks in kept for t in toks]
    finished, running = kept[:2], kept[2:]
    assert [own for own, _ in kept] == sorted(whole)[:4]  # both waves' pieces, in file order
    assert all(toks == whole[own] for own, toks in finished)
    # The running wave's rows keep what they had decided: a non-empty prefix of each row's
    # tokens in the uninterrupted run (before the fix, all of it was dropped).
    for own, toks in running:
        assert 0 < len(toks) < len(whole[own]) and toks == whole[own][: len(toks)]
    assert len(part.tokens) < len(full.tokens)


def test_packed_weights_batch_like_a_session(env):
    """Packed 4-bit layers multiply a batch's rows as one matrix (model/packed.py): every row
    still equals a session alone on its clip, and long files take the parallel path."""
    from voxtral_mlx.checkpoint.convert import convert
    from voxtral_mlx.model.packed import PackedLinear

    _, tok, root = env
    q4 = convert(root / "m", root / "q4", bits=4, group_size=32)
    packed, _ = weights.load(q4, expand_quantized=False)
    assert isinstance(packed.decoder.layers[0].attention.wqkv, PackedLinear)
    clips = [ref.test_audio(s, seed=10 + i) for i, s in enumerate((5.0, 7.2, 3.9))]
    rows = BatchDecoder(packed, tok).decode(clips)
    for clip, row in zip(clips, rows, strict=True):
        assert key(row) == key(session_events(packed, tok, clip))
    path = root / "packed.wav"
    sf.write(path, gapped_audio(20.0, [9.0], seed=6), SAMPLE_RATE, subtype="FLOAT")
    t = transcribe_file(path, packed, tok, duration=20.0, streams=8)
    assert t.metadata["streams"] == 8
