"""Where the shipped files of ``resources/`` (the speech sample, the icons) are on this install.

Three layouts, first match wins: a PyInstaller bundle (``sys._MEIPASS/resources``), an installed
wheel (pyproject maps ``resources/`` into the package as ``voxtral_mlx/resources``), and a
checkout or editable install (``resources/`` beside the package). Stdlib only: the app imports
this before Qt or MLX.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import VoxtralError

SAMPLE = "sample-en.flac"


def resource_roots() -> list[Path]:
    """The folders searched, in order."""
    here = Path(__file__).resolve().parent
    roots = [here / "resources", here.parent / "resources"]
    if bundle := getattr(sys, "_MEIPASS", None):
        roots.insert(0, Path(bundle) / "resources")
    return roots


def resource_path(name: str) -> Path | None:
    """``resources/<name>`` (e.g. ``icons/voxtral-64.png``) on this install; None if absent."""
    for root in resource_roots():
        if (root / name).is_file():
            return root / name
    return None


def sample_audio() -> Path:
    """The bundled speech sample; a one-line error naming where it was looked for if missing."""
    path = resource_path(SAMPLE)
    if path is None:
        where = ", ".join(str(r) for r in resource_roots())
        raise VoxtralError(f"the bundled sample {SAMPLE} is missing (looked in {where}): reinstall voxtral-mlx")  # fmt: skip
    return path
