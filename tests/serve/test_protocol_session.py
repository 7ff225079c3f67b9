"""The per-connection rules (voxtral_mlx/serve/protocol_session.py): what vLLM's connection.py
does with each event (docs/realtime-protocol.md), and our two departures where it would hang or
grow without bound."""

from __future__ import annotations

import json

import numpy as np

from tests.serve.test_protocol import append, b64, file_client_messages
from voxtral_mlx.serve.protocol import VLLM_MODEL_ID, ErrorCode
from voxtral_mlx.serve.protocol_session import (
    ConnectionState,
    FeedAudio,
    FinishUtterance,
    Phase,
    Reply,
    StartUtterance,
)

UPDATE = json.dumps({"type": "session.update", "model": VLLM_MODEL_ID})
COMMIT = json.dumps({"type": "input_audio_buffer.commit"})
FINAL = json.dumps({"type": "input_audio_buffer.commit", "final": True})


def chunk(*ints: int) -> str:
    return append(b64(np.array(ints, dtype="<i2").tobytes()))


def kinds(actions) -> list[str]:
    return [type(a).__name__ for a in actions]


def error_codes(actions) -> list[str]:
    return [a.event["code"] for a in actions if isinstance(a, Reply)]


def run(state: ConnectionState, *messages: str) -> list:
    return [action for m in messages for action in state.handle_message(m)]


def test_example_file_client_opens_feeds_and_finishes_one_utterance():
    pcm16 = np.arange(-5000, 5000, dtype=np.int16)
    state = ConnectionState({VLLM_MODEL_ID})
    actions = run(state, *file_client_messages(pcm16, VLLM_MODEL_ID, "en"))
    n_chunks = -(-pcm16.nbytes // 4096)
    assert kinds(actions) == ["StartUtterance", *["FeedAudio"] * n_chunks, "FinishUtterance"]
    fed = np.concatenate([a.samples for a in actions if isinstance(a, FeedAudio)])
    assert np.array_equal(fed * 32768, pcm16)
    assert state.phase is Phase.FINISHING and state.model_validated


def test_a_second_utterance_after_done():
    state = ConnectionState({VLLM_MODEL_ID})
    run(state, UPDATE, COMMIT, chunk(1), FINAL)
    assert run(state, chunk(2)) == []  # after the final commit, before done: dropped
    state.utterance_done()
    assert state.phase is Phase.IDLE
    actions = run(state, COMMIT, chunk(3), FINAL)
    assert kinds(actions) == ["StartUtterance", "FeedAudio", "FinishUtterance"]
    assert actions[1].samples.tolist() == [3 / 32768]  # not the dropped 2


def test_commit_before_session_update_is_refused():
    state = ConnectionState({VLLM_MODEL_ID})
    assert error_codes(run(state, COMMIT, FINAL)) == [ErrorCode.MODEL_NOT_VALIDATED] * 2
    assert state.phase is Phase.IDLE
    assert run(state, chunk(7)) == []  # audio is kept meanwhile, as vLLM queues it
    actions = run(state, UPDATE, COMMIT)
    assert kinds(actions) == ["StartUtterance", "FeedAudio"]
    assert actions[1].samples.tolist() == [7 / 32768]


def test_wrong_model():
    state = ConnectionState({"voxtral-mini"})
    actions = run(state, UPDATE)
    assert error_codes(actions) == [ErrorCode.MODEL_NOT_FOUND] and not state.model_validated
    assert VLLM_MODEL_ID in actions[0].event["error"]
    run(state, json.dumps({"type": "session.update", "model": ""}))  # "" is the served model
    assert state.model_validated
    assert error_codes(run(state, UPDATE)) == [ErrorCode.MODEL_NOT_FOUND]
    assert state.model_validated  # a failed update keeps the earlier validation, as in vLLM


def test_audio_before_the_first_commit_is_fed_first_in_order():
    state = ConnectionState({VLLM_MODEL_ID})
    assert run(state, UPDATE, chunk(1, 2), chunk(3)) == []
    actions = run(state, COMMIT, chunk(4))
    assert kinds(actions) == ["StartUtterance", "FeedAudio", "FeedAudio", "FeedAudio"]
    fed = np.concatenate([a.samples for a in actions[1:]]) * 32768
    assert fed.tolist() == [1, 2, 3, 4]


def test_repeated_commits_are_ignored():
    state = ConnectionState({VLLM_MODEL_ID})
    run(state, UPDATE, COMMIT)
    assert run(state, COMMIT, COMMIT) == []
    assert kinds(run(state, FINAL)) == ["FinishUtterance"]
    assert run(state, FINAL, COMMIT) == []
    assert state.phase is Phase.FINISHING


def test_final_commit_without_an_open_utterance_still_ends_in_done():
    """vLLM would wait for a later commit and send nothing; we open and end one at once."""
    state = ConnectionState({VLLM_MODEL_ID})
    actions = run(state, UPDATE, chunk(5), FINAL)
    assert kinds(actions) == ["StartUtterance", "FeedAudio", "FinishUtterance"]
    state.utterance_done()
    assert kinds(run(state, FINAL)) == ["StartUtterance", "FinishUtterance"]


def test_audio_before_a_commit_is_capped():
    state = ConnectionState({VLLM_MODEL_ID}, max_pending_samples=5)
    assert run(state, chunk(1, 2, 3), chunk(4, 5)) == []
    refused = run(state, chunk(6))
    assert error_codes(refused) == [ErrorCode.BUFFER_FULL] and "commit" in refused[0].event["error"]
    actions = run(state, UPDATE, COMMIT)
    fed = np.concatenate([a.samples for a in actions if isinstance(a, FeedAudio)]) * 32768
    assert fed.tolist() == [1, 2, 3, 4, 5]
    assert kinds(run(state, chunk(*range(100)))) == ["FeedAudio"]  # an open utterance: no cap here


def test_malformed_messages_reply_and_change_nothing():
    state = ConnectionState({VLLM_MODEL_ID})
    run(state, UPDATE, COMMIT)
    bad = ["{", append("%%%"), json.dumps({"type": "response.create"}), "x" * (2 << 20)]
    assert error_codes(run(state, *bad)) == [
        ErrorCode.INVALID_JSON, ErrorCode.INVALID_AUDIO, ErrorCode.UNKNOWN_EVENT,
        ErrorCode.MESSAGE_TOO_LARGE,
    ]  # fmt: skip
    assert state.phase is Phase.OPEN
    assert kinds(run(state, chunk(1), FINAL)) == ["FeedAudio", "FinishUtterance"]


def test_actions_compare_by_kind():
    assert StartUtterance() == StartUtterance() and FinishUtterance() == FinishUtterance()
