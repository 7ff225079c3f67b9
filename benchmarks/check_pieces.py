"""How far the opt-in pieces (``--streams N``) move a file's tokens from the single stream.

python benchmarks/check_pieces.py

The 20 s tiny random-weight parity case that crosses both attention windows (the reference
tests' "windowed" config): how many tokens, from the start, the stitched pieces share with the
single stream, for 2 and 8 pieces. Needs the reference extra (torch, transformers).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

# isort: off
import voxtral_mlx  # noqa: E402,F401  (first: on Linux it loads OpenBLAS before mlx.core)

# isort: on
import soundfile as sf  # noqa: E402
from reference import hf_reference as ref  # noqa: E402
from reference.tekken_fixture import write_tekken  # noqa: E402

from voxtral_mlx.checkpoint import weights  # noqa: E402
from voxtral_mlx.decode.transcribe import transcribe_file  # noqa: E402
from voxtral_mlx.text.tokenizer import Tokenizer  # noqa: E402


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="voxtral-pieces-"))
    model, _ = weights.load(ref.save_native(ref.build("windowed", seed=0), root / "m"))
    tok = Tokenizer.from_file(write_tekken(root / "tekken.json"))
    path = root / "a.wav"
    sf.write(path, ref.test_audio(20.0, seed=21), 16000, subtype="FLOAT")
    one = transcribe_file(path, model, tok, duration=20.0).tokens
    for n in (2, 8):
        par = transcribe_file(path, model, tok, duration=20.0, streams=n).tokens
        pairs = zip(one, par, strict=False)
        k = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(one), len(par)))
        print(f"--streams {n}: the first {k} of {len(one)} tokens equal the single stream")


if __name__ == "__main__":
    main()
