"""The command line's arguments: ``python -m voxtral_mlx --help`` is this parser's help.

Values are checked here (a bad ``--delay-ms`` or ``--streams``, ``--save-audio`` without
``--mic`` or ``--system-audio`` or naming a file that exists, ``--device`` with
``--system-audio`` but no ``--mic``: a usage error, exit 2) before anything loads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from voxtral_mlx.checkpoint.resolve import DEFAULT_REPO

DEFAULT_MODEL = DEFAULT_REPO

EPILOG = """\
examples:
  python -m voxtral_mlx talk.m4a                      print the transcript
  python -m voxtral_mlx talk.m4a --format srt         write talk.srt next to talk.m4a
  python -m voxtral_mlx *.wav --format all -o out/    txt, srt, vtt and json for each file
  python -m voxtral_mlx talk.wav --model ~/models/voxtral --delay-ms 960
  python -m voxtral_mlx --mic                         live captions from the default microphone
  python -m voxtral_mlx --mic --device usb --output meeting.srt   Ctrl-C stops and writes it
  python -m voxtral_mlx --mic --save-audio meeting.wav --output meeting.json   and the audio
  python -m voxtral_mlx --system-audio --output call.vtt   what the computer plays (Linux, macOS 13+)
  python -m voxtral_mlx --mic --system-audio --output call.vtt   both, labelled You / Others

exit codes: 0 ok, 1 some file failed (the others are still done), 2 usage, 130 Ctrl-C
"""


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m voxtral_mlx",
        description="On-device speech-to-text with Voxtral Mini 4B Realtime on MLX.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # In this order in --help: inputs and outputs, the model and decoding, then the modes.
    _inputs_and_outputs(p)
    _model_and_decoding(p)
    _modes_and_messages(p)
    return p


def _inputs_and_outputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", metavar="FILE", help="audio or video files to transcribe")
    p.add_argument(
        "-f",
        "--format",
        choices=["txt", "srt", "vtt", "json", "all"],
        default=None,
        help="write FILE.<format> (default: print the text to stdout)",
    )
    p.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        default=None,
        help="where output files go (default: next to each input)",
    )


def _model_and_decoding(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"model folder or Hugging Face repo id (default: {DEFAULT_MODEL})",
    )
    p.add_argument(
        "--bits",
        type=int,
        choices=[4, 8, 16],
        default=4,
        help="for a Hugging Face model: convert it once to 4-bit (default) or 8-bit, or keep 16-bit",
    )
    p.add_argument(
        "--delay-ms",
        type=_delay_ms,
        default=None,
        help="transcription delay, 80-2400 in steps of 80 (default: the model's, 480; --mic "
        "with drafts: 2400, the accurate final text)",
    )
    p.add_argument(
        "--draft-delay-ms",
        type=_draft_delay_ms,
        default=None,
        metavar="MS",
        help="--mic, --system-audio: also decode at this short delay and show its words dimmed "
        "after the final text until the final row reaches them (default: 240; 0: no drafts). "
        "Only the final text is saved; json keeps the draft's token ids",
    )
    p.add_argument(
        "--server",
        default=None,
        metavar="URL",
        help="transcribe through a realtime server instead of the model here: ours "
        "(python -m voxtral_mlx serve) or vLLM's (ws://HOST:PORT or http://HOST:PORT)",
    )
    p.add_argument("--api-key", default=None, help="--server: the server's API key")
    p.add_argument(
        "--dtype",
        choices=["float32", "bfloat16", "float16"],
        default=None,
        help="compute dtype (default: float32 on CPU, bfloat16 on GPU); float32 is float32 on "
        "every device (MLX's TF32 matmuls are turned off)",
    )
    p.add_argument(
        "--streams",
        type=_row_count,
        default=None,
        metavar="N",
        help="speed option for files of 16 s or more: cut them at pauses into N pieces decoded "
        "side by side (several times faster on a GPU; the text may differ from the model's "
        "single-stream words near the cuts). Default 1: one stream, the model's exact words",
    )
    p.add_argument(
        "--batch",
        type=_row_count,
        default=None,
        metavar="N",
        help="several files: decode up to N files of up to 60 s side by side, each exactly as "
        "alone (default: 8; 1 = one file at a time)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="a damaged file (corrupt frames, cut-off tail, NaN samples) is an error; by default "
        "what decodes is transcribed and one warning line names the damaged span",
    )


def _modes_and_messages(p: argparse.ArgumentParser) -> None:
    p.add_argument("--info", action="store_true", help="load the model, describe it, and exit")
    p.add_argument(
        "--self-test",
        action="store_true",
        help="try everything without the download: a tiny random model transcribes the bundled "
        "sample, the live path and every output format (its words are random)",
    )
    p.add_argument("--mic", action="store_true", help="transcribe the microphone live until Ctrl-C")
    p.add_argument(
        "--system-audio",
        action="store_true",
        help="transcribe what the computer plays (a call, a video) live until Ctrl-C, like --mic; "
        "Linux: the default output of PulseAudio or PipeWire, followed when it changes; macOS 13+: "
        "ScreenCaptureKit (Screen Recording permission). With "
        "--mic: both, each line labelled You or Others (the mic's echo of the speakers is dropped)",
    )
    p.add_argument(
        "--device",
        default=None,
        metavar="NAME",
        help="--mic input device: index or part of its name (default: the system's)",
    )
    p.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="--mic, --system-audio: write the transcript to FILE (format: --format, else FILE's suffix)",
    )
    p.add_argument(
        "--save-audio",
        type=_new_wav,
        default=None,
        metavar="FILE.wav",
        help="--mic, --system-audio: also keep the 16 kHz audio that was transcribed, in a new FILE.wav (32-bit "
        "float, crash-safe like the autosave: a crash loses at most the last second). "
        "Transcribing it as a file gives the same text",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or status on stderr")
    p.add_argument("--verbose", action="store_true", help="log details and tracebacks to stderr")


class _Parser(argparse.ArgumentParser):
    """Checks what one argument's type cannot: options that need another."""

    def parse_known_args(self, args=None, namespace=None):
        parsed, rest = super().parse_known_args(args, namespace)
        live = parsed.mic or parsed.system_audio
        if getattr(parsed, "save_audio", None) is not None and not live:
            self.error("--save-audio keeps a live recording's audio: it needs --mic or --system-audio")  # fmt: skip
        if parsed.system_audio and parsed.device is not None and not parsed.mic:
            self.error("--device picks a microphone: --system-audio records the default output (add --mic for both)")  # fmt: skip
        return parsed, rest


def _new_wav(text: str) -> Path:
    """A WAV file to create: never one that is there (a recording is not written over)."""
    path = Path(text).expanduser()
    if path.suffix.lower() != ".wav":
        raise argparse.ArgumentTypeError(f"the audio is kept as WAV: give a FILE.wav, got {text!r}")  # fmt: skip
    if path.exists() or path.is_symlink():
        raise argparse.ArgumentTypeError(f"{text} exists: give a new file name (it is never written over)")  # fmt: skip
    return path


def _delay_ms(text: str) -> int:
    from voxtral_mlx.protocol import MAX_DELAY_MS, MIN_DELAY_MS, valid_delay_ms

    try:
        ms = int(text)
    except ValueError:
        ms = 0
    if not valid_delay_ms(ms):
        raise argparse.ArgumentTypeError(
            f"expected a multiple of 80 from {MIN_DELAY_MS} to {MAX_DELAY_MS}, got {text!r}"
        )
    return ms


def _draft_delay_ms(text: str) -> int:
    return 0 if text.strip() == "0" else _delay_ms(text)


def _row_count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 64, got {text!r}")
    return n
