"""Entry script of the packaged app (PyInstaller freezes this file).

``Voxtral --download REPO`` is the first-run download the app runs in a child process
(:mod:`voxtral_mlx.cli.download`; a frozen app has no ``python -m``); anything else, ``--self-test``
included, goes to :func:`gui.launcher.main` as ``voxtral-mlx-app`` does (stdlib-only imports,
so the self-test is honoured before Qt or anything heavy loads).
"""

import sys
from pathlib import Path

if not getattr(sys, "frozen", False):  # run from a checkout: the repo root holds gui/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    if sys.argv[1:2] == ["--download"]:
        from voxtral_mlx.cli.download import main as download

        return download(sys.argv[2:])
    if sys.platform == "darwin":
        # Finder passes "-psn_0_12345" (process serial number) to apps it launches on older macOS.
        sys.argv = [a for a in sys.argv if not a.startswith("-psn_")]
    from gui.launcher import main as app_main

    return app_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
