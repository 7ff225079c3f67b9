"""Simulated loudspeaker echo, one copy for the echo gate's tests and benchmark and the live
engine's two-source tests: what a microphone hears of the computer's audio, and the espeak-ng
sentences both sides speak."""

from __future__ import annotations

from voxtral_mlx.protocol import SAMPLE_RATE

PLAYED = [  # what the computer plays (a call, a video): (espeak-ng voice, text)
    ("en-us", "The quarterly report shows that revenue grew by twelve percent over last year."),
    ("en-gb+m3", "Please remember to bring your laptop and charger to tomorrow's workshop."),
    ("en-us+f2", "The train to Edinburgh leaves from platform nine at a quarter past four."),
    ("en-gb-scotland", "Water boils at one hundred degrees at sea level, but less on a mountain."),
    ("en-us+m5", "Our next speaker will talk about the history of early computing machines."),
    ("en-us+f4", "Mix the flour and the butter, then add two eggs and a pinch of salt."),
    ("en-gb+f3", "The museum is closed on Mondays and open late on Friday evenings."),
    ("en-us+m3", "In the second half the home team scored twice and won the match."),
]
SAID = [  # what the user says into the microphone, in other voices
    ("en-us+f3", "I think we should move the meeting to Thursday afternoon instead."),
    ("en-gb-x-rp", "Could you share your screen so everybody can see the numbers?"),
    ("en+m2", "Sorry, my connection dropped for a second, can you repeat that?"),
    ("en-us+f4", "Yes, that works for me, let's decide on the budget next week."),
    ("en-us+m4", "Hold on, somebody is at the door, I will be right back."),
    ("en-gb+f2", "Thanks everyone, I will send the minutes around this evening."),
    ("en-029", "Did anybody check whether the new version fixes the printing problem?"),
]


def speak(voice: str, text: str):
    """espeak-ng speech (the ``espeak-ng`` program) at 16 kHz, float32, peak 0.5."""
    import io
    import subprocess

    import numpy as np
    import soundfile as sf
    import soxr

    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True,
                         check=True).stdout  # fmt: skip
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    audio = soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32)
    return 0.5 * audio / np.max(np.abs(audio))


def mic_hears(system, gain: float, lag: float, room=None):
    """``system`` (16 kHz float32) as the mic hears it: through ``room`` (an impulse response,
    or None), ``gain`` times as loud, ``lag`` seconds later (may be < 0: the streams' clocks
    may be offset either way). Float32, the length of ``system``."""
    import numpy as np  # here: this package's modules import only the stdlib at load

    wet = np.convolve(system, room)[: system.size] if room is not None else system
    shift = round(lag * SAMPLE_RATE)
    out = np.zeros_like(system)
    if shift >= 0:
        out[shift:] = wet[: system.size - shift]
    else:
        out[:shift] = wet[-shift:]
    return (gain * out).astype(np.float32)
