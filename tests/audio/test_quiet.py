"""Decoder libraries never print: libsndfile's mpg123 and FFmpeg write to fd 2 from C, which
Python's sys.stderr never sees, so the files are read in a child process whose fd 2 is
captured. Per file, at most one line may appear there (our own AudioError, printed by the
child); valid and repaired files print nothing.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import soundfile as sf

from tests.audio.test_damage import cut_tail, noise, overwrite_middle

from .test_audio import write_pyav

MARK = "--- file "

CHILD = f"""
import os, sys
from voxtral_mlx.audio.files import iter_audio
from voxtral_mlx.errors import AudioError
for path in sys.argv[1:]:
    os.write(2, ("{MARK}" + path + "\\n").encode())
    try:
        for _ in iter_audio(path, 5.0):
            pass
    except AudioError as err:
        os.write(2, (str(err) + "\\n").encode())
"""


def png_bytes() -> bytes:
    """A valid 2x2 grey PNG, by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes([128, 128]) for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def fixtures(d: Path) -> tuple[list[Path], list[Path]]:
    """(files that decode, whole or repaired; files that are not audio)."""
    x = noise(20.0)
    sf.write(d / "lame.mp3", x, 44100, format="MP3")  # libsndfile's encoder, Xing header
    write_pyav(d / "ffmpeg.mp3", x, 44100, "libmp3lame")
    sf.write(d / "clean.flac", x, 44100)
    decodable = [d / "lame.mp3", d / "ffmpeg.mp3", d / "clean.flac"]
    for src in list(decodable):
        decodable.append(overwrite_middle(src, d / f"garbage_{src.name}")[0])
        decodable.append(cut_tail(src, d / f"cut_{src.name}"))
    not_audio = []
    for suffix in ("mp3", "wav", "flac", "ogg", "m4a"):
        not_audio.append(d / f"picture.{suffix}")
        not_audio[-1].write_bytes(png_bytes())
    return decodable, not_audio


def stderr_per_file(paths: list[Path]) -> dict[str, list[str]]:
    run = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out: dict[str, list[str]] = {}
    current = None
    for line in run.stderr.splitlines():
        if line.startswith(MARK):
            current = out.setdefault(line[len(MARK) :], [])
        elif current is not None:
            current.append(line)
    assert set(out) == set(map(str, paths)), run.stderr
    return out


def test_decoders_print_nothing_but_our_one_line(tmp_path):
    decodable, not_audio = fixtures(tmp_path)
    lines = stderr_per_file(decodable + not_audio)
    for path in decodable:
        assert lines[str(path)] == [], path
    for path in not_audio:
        assert len(lines[str(path)]) == 1, lines[str(path)]
        assert lines[str(path)][0].startswith(f"{path}: "), lines[str(path)]
