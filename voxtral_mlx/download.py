"""``python -m voxtral_mlx.download REPO``: fetch a model's files into the Hugging Face cache.

The desktop app runs this in a child process so that a download can be cancelled at once (a
download inside the app cannot be interrupted) and resumed later: huggingface_hub keeps the
partial file and continues it on the next run. Prints the snapshot folder; on failure one line
on stderr and exit status 1.
"""

from __future__ import annotations

import sys

from .errors import VoxtralError


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m voxtral_mlx.download REPO_ID", file=sys.stderr)
        return 2
    from .weights import resolve

    try:
        print(resolve(args[0]), flush=True)
    except VoxtralError as err:
        print(err, file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
