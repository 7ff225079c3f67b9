"""Several files as rows of one batch: each file's transcript equals its own single run."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import pytest
import soundfile as sf

from voxtral_mlx.audio.mel import SAMPLE_RATE
from voxtral_mlx.checkpoint import weights
from voxtral_mlx.decode import file_batch
from voxtral_mlx.decode.file_batch import FileBatch, WaveInterrupted, plan_waves
from voxtral_mlx.decode.transcribe import transcribe_file
from voxtral_mlx.text.tokenizer import Tokenizer

from . import hf_reference as ref
from .tekken_fixture import write_tekken


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("files")
    model, _ = weights.load(ref.save_native(ref.build("windowed", seed=0), root / "m"))
    tok = Tokenizer.from_file(write_tekken(root / "tekken.json"))
    paths = []
    for i, seconds in enumerate((6.0, 11.5, 3.3, 20.0)):  # 20 s crosses both windows
        path = root / f"f{i}.wav"
        sf.write(path, ref.test_audio(seconds, seed=30 + i), SAMPLE_RATE, subtype="FLOAT")
        paths.append(path)
    return model, tok, paths


def _exact_rows_here(model, want: int) -> int:
    """``exact_rows`` on this machine. CPUs differ: OpenBLAS's AVX-512 kernels (Zen 4 EPYC)
    round the tiny model's logits (its output projection) for 2 rows differently from 1,
    where AVX2 machines keep up to 2 rows exact. Where it is 1, that rounding is checked to
    be real (a kernel of the step, not the measure, says so)."""
    from voxtral_mlx.decode import exact_rows as er

    rows = er.exact_rows(model, want)
    if rows < 2:
        assert not er._invariant(model, 2)
    return rows


def test_every_file_equals_its_own_run(env, monkeypatch):
    model, tok, paths = env
    batch = FileBatch(model, tok)
    if _exact_rows_here(model, 8) < 2:
        # The output head a row at a time (the one kernel such a CPU rounds differently for
        # 2 rows; the CLI then batches nothing: test_the_cli_decodes_several_files_in_waves),
        # so the waves' own logic is still proven here.
        emb = model.decoder.tok_embeddings
        head = emb.as_linear
        monkeypatch.setattr(emb, "as_linear", lambda x: mx.concatenate(
            [head(x[i : i + 1]) for i in range(x.shape[0])]))  # fmt: skip
    rows = batch.exact_rows(8)
    assert rows >= 2
    durations = {p: sf.info(p).duration for p in paths}
    waves, alone = plan_waves(durations, rows)
    assert waves and not alone
    results = [r for wave in waves for r in batch.transcribe(wave, metadata={"model": "m"})]
    for res in results:
        alone = transcribe_file(res.path, model, tok, metadata={"model": "m"})
        assert res.error is None
        assert res.transcript.to_dict() == alone.to_dict()


def test_other_delays_too(env):
    model, tok, paths = env
    (a, b) = FileBatch(model, tok, delay_ms=160).transcribe(paths[:2])  # 2 rows: exact here
    for res in (a, b):
        assert res.transcript.tokens == transcribe_file(res.path, model, tok, delay_ms=160).tokens


def test_an_unreadable_file_leaves_the_wave(env, tmp_path):
    model, tok, paths = env
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really")
    results = FileBatch(model, tok).transcribe([paths[0], bad, paths[2]])
    assert results[1].error is not None and results[1].transcript is None
    assert results[0].transcript.tokens == transcribe_file(paths[0], model, tok).tokens
    assert results[2].transcript.tokens == transcribe_file(paths[2], model, tok).tokens


def test_an_interrupt_keeps_finished_rows_whole_and_running_rows_so_far(env):
    model, tok, paths = env
    full = {r.path: r.transcript for r in FileBatch(model, tok).transcribe(paths)}

    def stop(fraction):
        if fraction > 0.6:  # the 3.3 s file has ended by then; the 20 s one has not
            raise KeyboardInterrupt

    with pytest.raises(WaveInterrupted) as info:
        FileBatch(model, tok).transcribe(paths, on_progress=stop)
    got = {r.path: r.transcript for r in info.value.results}
    short, long = paths[2], paths[3]
    assert got[short].to_dict() == full[short].to_dict()  # finished: whole, not "interrupted"
    part = got[long]
    assert part.metadata["interrupted"] is True
    assert 0 < len(part.tokens) < len(full[long].tokens)
    assert part.tokens == full[long].tokens[: len(part.tokens)]


def test_waves_group_similar_lengths_and_long_files_go_alone():
    p = [Path(f"{i}.wav") for i in range(7)]
    durations = {p[0]: 50.0, p[1]: 5.0, p[2]: None, p[3]: 30.0, p[4]: 7.0, p[5]: 61.0, p[6]: 8.0}
    waves, alone = plan_waves(durations, rows=2)
    assert waves == [[p[1], p[4]], [p[6], p[3]]]
    assert alone == [p[0], p[2], p[5]]  # the odd one out, unknown length, over MAX_ROW_S
    assert file_batch.MAX_ROW_S < 61.0


def test_the_cli_decodes_several_files_in_waves(env, tmp_path, monkeypatch):
    from voxtral_mlx.cli import main as cli

    model, tok, paths = env
    folder = ref.save_native(ref.build("windowed", seed=0), tmp_path / "m")
    write_tekken(folder / "tekken.json")
    waves = []
    real = FileBatch.transcribe
    monkeypatch.setattr(
        FileBatch, "transcribe", lambda self, w, *a, **k: waves.append(w) or real(self, w, *a, **k)
    )
    argv = [str(p) for p in paths] + ["--model", str(folder), "--format", "json", "-o"]
    assert cli.main([*argv, str(tmp_path / "a")]) == 0
    rows = _exact_rows_here(model, 8)  # 2 on AVX2 CPUs, 1 on AVX-512 ones (tiny widths)
    ordered = [paths[2], paths[0], paths[1], paths[3]]  # shortest first
    if rows < 2:  # nothing may go side by side here, and nothing does
        assert waves == []
    else:
        assert waves == [ordered[i : i + rows] for i in range(0, 4, rows)]
    waves.clear()
    assert cli.main([*argv, str(tmp_path / "b"), "--batch", "1"]) == 0 and waves == []
    for p in paths:
        name = p.with_suffix(".json").name
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


def test_exact_rows_halves_until_every_op_is_row_invariant(env, monkeypatch):
    """The cap comes from the model's own step ops: rows whose results would depend on the
    other rows of the call are never batched together."""
    from voxtral_mlx.decode import exact_rows as er

    model, _, _ = env
    assert er.exact_rows(model, 1) == 1
    rows = er.exact_rows(model, 8)
    assert rows in (1, 2, 4, 8) and er._invariant(model, rows) or rows == 1
    # A kernel that rounds a row differently when others share the call caps the rows.
    real = er._same_rows
    monkeypatch.setattr(er, "_same_rows", lambda op, x: x.shape[0] <= 2 and real(op, x))
    assert er.exact_rows(model, 8) <= 2
    monkeypatch.setattr(er, "_same_rows", lambda op, x: False)
    assert er.exact_rows(model, 8) == 1
