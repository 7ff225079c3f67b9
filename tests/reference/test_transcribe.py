"""File transcription goes through StreamingSession: same tokens as offline greedy, any block size."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from voxtral_mlx.audio.mel import log_mel, pad_for_stream
from voxtral_mlx.checkpoint import weights
from voxtral_mlx.decode.transcribe import Interrupted, transcribe_file
from voxtral_mlx.text.tokenizer import Tokenizer

from . import hf_reference as ref
from .tekken_fixture import write_tekken


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("tr")
    model, _ = weights.load(ref.save_native(ref.build("windowed", seed=0), root / "m"))
    tok = Tokenizer.from_file(write_tekken(root / "tekken.json"))
    samples = ref.test_audio(9.0, seed=4)
    path = root / "clip.wav"
    sf.write(path, samples, 16000, subtype="FLOAT")
    return model, tok, samples, path


def test_file_tokens_equal_offline_greedy_for_any_block_size(env):
    model, tok, samples, path = env
    mel = log_mel(pad_for_stream(samples, 32, 17))[None]
    offline = model.greedy(mel, [1] + [32] * 38, 6, eos_id=tok.eos_id)
    seen = []
    for block in (0.5, 3.0, 30.0):
        t = transcribe_file(path, model, tok, block_seconds=block, on_progress=seen.append)
        assert t.tokens == offline
        assert abs(t.duration - 9.0) < 1e-6
        assert t.metadata["delay_ms"] == 480 and t.metadata["source"] == str(path)
    done = [p.audio_done for p in seen]
    assert done[-1] == pytest.approx(9.0) and all(p.speed > 0 for p in seen[1:])


def test_ctrl_c_keeps_what_was_transcribed(env):
    model, tok, samples, path = env
    full = transcribe_file(path, model, tok, block_seconds=1.0)
    calls = []

    def stop_after_five(progress):
        calls.append(progress)
        if len(calls) == 5:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted) as info:
        transcribe_file(path, model, tok, block_seconds=1.0, on_progress=stop_after_five)
    partial = info.value.transcript
    assert partial.metadata["interrupted"] is True
    assert 0 < len(partial.tokens) < len(full.tokens)
    assert partial.tokens == full.tokens[: len(partial.tokens)]
    assert partial.duration == pytest.approx(5.0)


def test_delay_changes_the_prompt_and_token_count(env):
    model, tok, samples, path = env
    t = transcribe_file(path, model, tok, delay_ms=960)
    # One token per 80 ms of padded audio: 32 left + audio + (12 + 1 + 10) right, minus the prompt.
    n_pos = 32 + int(np.ceil(9.0 / 0.08)) + 23
    assert len(t.tokens) == n_pos - (1 + 32 + 12)
    assert t.metadata["delay_ms"] == 960
