"""``python -m voxtral_mlx.download REPO``: fetch a model's files into the Hugging Face cache.

The desktop app runs this in a child process so that a download can be cancelled at once (a
download inside the app cannot be interrupted) and resumed later: huggingface_hub keeps the
partial file and continues it on the next run. Prints the snapshot folder; on failure one line
on stderr and exit status 1; a usage error exits 2.
"""

from __future__ import annotations

import argparse
import sys

from voxtral_mlx.checkpoint.resolve import DEFAULT_REPO, resolve
from voxtral_mlx.errors import VoxtralError

EPILOG = """\
Only the files a transcription needs are fetched (params.json, tekken.json,
consolidated.safetensors: 8.9 GB for Mistral's release), into the Hugging Face cache
(HF_HOME, default ~/.cache/huggingface). Stopping it keeps the partial file; the next run
resumes. With HF_HUB_OFFLINE=1 only what is already cached is used. A local folder is
printed as it is.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m voxtral_mlx.download",
        description="Download a Voxtral Realtime model into the Hugging Face cache and print "
        "its folder.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "repo_id",
        metavar="REPO_ID",
        help=f"Hugging Face repo, e.g. {DEFAULT_REPO}",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:  # --help (0) or a usage error (2): argparse has printed it
        return int(e.code or 0)

    try:
        print(resolve(args.repo_id), flush=True)
    except VoxtralError as err:
        print(err, file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("download interrupted; run it again to resume", file=sys.stderr, flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
