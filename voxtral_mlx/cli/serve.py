"""``python -m voxtral_mlx serve``: a local realtime server speaking vLLM's protocol
(docs/realtime-protocol.md): ``/v1/realtime``, ``/v1/audio/transcriptions``, ``/v1/models``,
``/health``. Every connection is one more row of the model's batch.
"""

from __future__ import annotations

import argparse
import sys

from voxtral_mlx.cli.args import DEFAULT_MODEL, _delay_ms
from voxtral_mlx.cli.exits import EXIT_USAGE

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m voxtral_mlx serve",
        description="Serve the model to realtime clients (vLLM's /v1/realtime protocol) and "
        "file uploads (/v1/audio/transcriptions), many streams in one batch.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this computer only)")  # fmt: skip
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model folder or Hugging Face repo id (default: {DEFAULT_MODEL})")  # fmt: skip
    p.add_argument("--bits", type=int, choices=[4, 8, 16], default=4, help="for a Hugging Face model: 4-bit (default), 8-bit or 16-bit")  # fmt: skip
    p.add_argument("--delay-ms", type=_delay_ms, default=None, help="every stream's transcription delay (default: the model's, 480)")  # fmt: skip
    p.add_argument("--max-streams", type=int, default=64, help="concurrent streams admitted (default: 64); more are refused with an error")  # fmt: skip
    p.add_argument("--batch-rows", type=int, default=None, metavar="N", help="step up to N streams at once even where this device's kernels round rows differently, and compute up to N streams' audio encoders and decoder steps in one call each (their caches held together: at full size ~0.2 GB a stream for the encoder, and for the decoder ~0.1 GB a stream per 80 s of the longest stream, up to 0.9 GB): faster with many streams, and the words may change (default: only as many as stay exact)")  # fmt: skip
    p.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY' on /v1 (needed to listen beyond this computer)")  # fmt: skip
    p.add_argument("--verbose", action="store_true", help="log requests and details")
    return p


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.max_streams < 1:
        parser.error("--max-streams must be at least 1")
    if args.host not in LOOPBACK and not args.api_key:
        print(f"error: --host {args.host} lets other computers in: give --api-key KEY too",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    from voxtral_mlx.live.loader import folder_loader
    from voxtral_mlx.serve.server import serve

    print(f"serving {args.model} on http://{args.host}:{args.port} (ws /v1/realtime); Ctrl-C stops. "
          "Loading the model and running every call shape once (a machine's first start "
          "compiles kernels: up to a minute or two)", file=sys.stderr, flush=True)  # fmt: skip
    return serve(folder_loader(args.model, bits=args.bits), host=args.host, port=args.port,
                 max_streams=args.max_streams, delay_ms=args.delay_ms, api_key=args.api_key,
                 batch_rows=args.batch_rows,
                 log_level="info" if args.verbose else "warning")  # fmt: skip


__all__ = ["build_parser", "main"]
