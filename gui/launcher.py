"""``voxtral-mlx-app`` and ``python -m gui``: start the desktop app, stdlib imports first.

``--self-test`` runs :mod:`gui.self_test`. Without Qt (the ``[gui]`` extra not installed) the
user gets one line saying how to install it, not an ImportError traceback: the app module
imports PySide6 at its top, so the check has to happen here, before it is imported.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

INSTALL_HINT = (
    "error: the desktop app needs Qt, which the [gui] extra installs: "
    "pip install 'voxtral-mlx[gui]' (from a checkout: pip install -e '.[gui]')"
)


def qt_problem() -> str | None:
    """None when Qt's widgets import; else the one line to show."""
    try:
        import PySide6.QtWidgets  # noqa: F401
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] == "PySide6":
            return INSTALL_HINT
        return f"error: Qt cannot start: {err}"
    except ImportError as err:  # installed, but a system library is missing (e.g. libEGL)
        return f"error: Qt cannot start: {err}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--self-test" in args:
        from gui import self_test  # before Qt: its clock starts when it is imported
    if problem := qt_problem():
        print(" ".join(problem.split()), file=sys.stderr)
        return 1
    if "--self-test" in args:
        return self_test.main(args)
    from gui.app import main as app_main

    return app_main(args)


if __name__ == "__main__":
    sys.exit(main())
