"""The silent start of a live stream: computed once per model, copied into every new stream.

A stream's first 2.56 s are the protocol's left padding, silence. A live pipeline can compute
the tokens whose mel windows hold only that silence (all but the last, whose window reaches the
audio) before any audio comes, and it always computes them the same way: the same samples in
the same pieces. So every live stream starts with the same numbers. Each stream computed them
anew: five encoder calls, some 70 ms of host time on the H200 (docs/benchmarks.md), and a
server where many streams start at once spent most of its time there. Now the first live
pipeline of a model and shape computes them (``catch_up`` before any audio) and keeps a snapshot;
later ones restore it (new arrays: a stream's in-place cache writes never reach the snapshot).
The snapshot keeps only the ring slots written so far (~1/6 of a ring). MLX thread only.
"""

from __future__ import annotations

import threading
import weakref

_lock = threading.Lock()
_starts: dict[int, dict[tuple, object]] = {}  # id(model) -> shape key -> snapshot


def start_silently(pipe) -> None:
    """Bring a new live ``AudioPipeline`` past its silent start: computed the first time for
    its model and shape, copied after that (no import of it here: it calls this)."""
    model = pipe.model
    key = (pipe.mel.n_mels, pipe.mel.buffered_samples, pipe.encoder_block, pipe.dtype)
    with _lock:
        known = _starts.get(id(model))
        snapshot = known.get(key) if known is not None else None
    if snapshot is not None:
        pipe.restore(snapshot)
        return
    pipe.catch_up()  # what the mel holds before any audio: the silence
    snapshot = pipe.snapshot()
    with _lock:
        if id(model) not in _starts:
            _starts[id(model)] = {}
            weakref.finalize(model, _forget, id(model))
        _starts[id(model)][key] = snapshot


def _forget(model_id: int) -> None:
    with _lock:
        _starts.pop(model_id, None)


__all__ = ["start_silently"]
