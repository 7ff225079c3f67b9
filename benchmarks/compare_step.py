"""Decoder ms/token in file mode: compiled single-token graph vs op-by-op, same run, same weights.

python benchmarks/compare_step.py FOLDER [FOLDER ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# isort: off
import voxtral_mlx  # noqa: E402,F401
import mlx.core as mx  # noqa: E402

# isort: on
from fullsize import speech_like, synthetic_tokenizer  # noqa: E402

from voxtral_mlx import weights  # noqa: E402
from voxtral_mlx.stream import StreamingSession  # noqa: E402


def decode_ms(model, tok, compiled: bool, seconds: float = 30.0) -> float:
    s = StreamingSession(model, tok, compiled=compiled)
    s.feed(speech_like(seconds))
    s.step(max_tokens=0)
    n0 = len(s.tokens)
    t0 = time.perf_counter()
    s.step()
    return 1e3 * (time.perf_counter() - t0) / (len(s.tokens) - n0)


def main() -> None:
    tok = synthetic_tokenizer()
    for folder in sys.argv[1:]:
        model, _ = weights.load(
            folder, dtype=mx.bfloat16 if mx.default_device() == mx.gpu else mx.float32
        )
        for c in (True, False):
            decode_ms(model, tok, c, 5.0)  # warm-up / compile
        rows = {c: [decode_ms(model, tok, c) for _ in range(3)] for c in (True, False)}
        print(
            folder,
            {("compiled" if c else "op-by-op"): [round(v, 2) for v in r] for c, r in rows.items()},
            flush=True,
        )
        del model
        mx.clear_cache()


if __name__ == "__main__":
    main()
