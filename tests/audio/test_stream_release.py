"""A stream PortAudio never lets go of must not hang the process at exit."""

from __future__ import annotations

import subprocess
import sys


def test_a_process_whose_stream_portaudio_holds_ends_at_once_with_its_code(tmp_path):
    """Pa_Terminate would hang at exit on such a stream (and without it PortAudio's thread
    crashes as its library goes): exit_if_streams_left ends the process, output flushed."""
    code = (
        "from voxtral_mlx.audio import stream_release as sr\n"
        "sr.exit_if_streams_left(3)  # none left: nothing happens\n"
        "sr.StreamRelease.left.add(object())  # as if a device never let go\n"
        "print('written', end='')\n"
        "sr.exit_if_streams_left(3)\n"
        "print('not reached')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 3 and out.stdout == "written"
