"""Command line: ``python -m voxtral_mlx``. Printing and exit codes live here and nowhere else.

Exit codes: 0 ok, 1 a model or file failed, 2 usage error, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from .errors import VoxtralError

log = logging.getLogger("voxtral_mlx")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m voxtral_mlx",
        description="On-device speech-to-text with Voxtral Mini 4B Realtime on MLX.",
    )
    p.add_argument("--model", default=None, help="model folder or Hugging Face repo id")
    p.add_argument("--info", action="store_true", help="load the model and print what it is")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default=None,
                   help="compute dtype (default: float32 on CPU, bfloat16 on GPU)")  # fmt: skip
    p.add_argument("--verbose", action="store_true", help="log details (and tracebacks) to stderr")
    return p


def _info(model_name: str, dtype_name: str | None) -> int:
    import mlx.core as mx
    from mlx.utils import tree_flatten

    from . import weights

    folder = weights.resolve(model_name)
    layout, _, files = weights.detect_layout(folder)
    dtype = getattr(mx, dtype_name) if dtype_name else weights.default_dtype()
    t0 = time.perf_counter()
    model, cfg = weights.load(folder, dtype=dtype)
    seconds = time.perf_counter() - t0
    n = sum(v.size for _, v in tree_flatten(model.parameters()))
    enc = cfg.encoder
    print(f"model      {folder} ({layout} layout, {len(files)} weight file(s))")
    print(f"params     {n / 1e9:.3f} B  dtype {dtype}  loaded in {seconds:.2f} s")
    print(f"encoder    {enc.n_layers} layers, dim {enc.dim}, window {enc.sliding_window} frames")
    print(f"decoder    {cfg.n_layers} layers, dim {cfg.dim}, {cfg.n_heads}/{cfg.n_kv_heads} heads, "
          f"vocab {cfg.vocab_size}, window {cfg.sliding_window} tokens")  # fmt: skip
    print(f"audio      {cfg.audio.sampling_rate} Hz, {cfg.samples_per_token} samples/token "
          f"({cfg.audio.token_ms:.0f} ms), device {mx.default_device()}")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")  # fmt: skip
    if not args.info:
        print("usage: python -m voxtral_mlx --info --model FOLDER (transcription is not built yet)",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        from .weights import DEFAULT_REPO

        return _info(args.model or DEFAULT_REPO, args.dtype)
    except VoxtralError as e:
        log.debug("error", exc_info=True)
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
