"""Save a :class:`Transcript` as txt, srt, vtt or json; every write is atomic.

A file is written to a temporary name in its own folder, flushed to disk, then renamed over the
target (:mod:`voxtral_mlx.fs.atomic_file`), so a reader sees the old file or the new one, never half
of one; on any error the temporary file is removed and the old file is left as it was.

A transcript of several sources labels each line or cue with who speaks: txt and srt start it
with ``You: ``, vtt opens it with a voice tag ``<v You>``, json keeps ``source`` on segments and
words. A transcript of one source is written exactly as it always was.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from voxtral_mlx.errors import VoxtralError
from voxtral_mlx.fs.atomic_file import replacing
from voxtral_mlx.text.captions import Caption, caption_lines
from voxtral_mlx.text.transcript import Transcript, label_prefix

FORMATS = ("txt", "srt", "vtt", "json")
_SURROGATE = re.compile("[\ud800-\udfff]")


def format_timestamp(seconds: float, sep: str = ",") -> str:
    """``HH:MM:SS<sep>mmm`` rounded to the millisecond (``,`` for SRT, ``.`` for VTT)."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{millis:03d}"


def txt_text(transcript: Transcript) -> str:
    """One caption segment per line (``You: `` first when labelled); a single empty line for a
    silent transcript."""
    lines = (label_prefix(segment.source) + segment.text for segment in transcript.segments)
    return "\n".join(lines) + "\n"


def srt_text(transcript: Transcript) -> str:
    """SubRip cues numbered from 1, as :func:`~voxtral_mlx.text.captions.caption_lines` lays
    them out (a labelled cue's text starts ``You: ``); empty for a silent transcript."""
    blocks = []
    for index, caption in enumerate(caption_lines(transcript.segments), start=1):
        span = f"{format_timestamp(caption.start)} --> {format_timestamp(caption.end)}"
        blocks.append(f"{index}\n{span}\n{label_prefix(caption.source)}{caption.text}\n")
    return "\n".join(blocks)


def vtt_text(transcript: Transcript) -> str:
    """WebVTT with the same cues as SRT, a labelled one opened by a voice tag (``<v You>``,
    which players may style or name); just the header for a silent transcript."""
    blocks = ["WEBVTT\n"]
    for caption in caption_lines(transcript.segments):
        span = f"{format_timestamp(caption.start, '.')} --> {format_timestamp(caption.end, '.')}"
        blocks.append(f"{span}\n{_vtt_voice(caption)}{_vtt_escape(caption.text)}\n")
    return "\n".join(blocks)


def _vtt_voice(caption: Caption) -> str:
    """``<v Label>`` for a labelled cue ("" else). The spec's annotation may hold no line break,
    ``&`` or ``>`` (character references stand for them) and its whitespace is collapsed; the
    end tag may be left out as the voice spans the whole cue."""
    label = " ".join((caption.source or "").split())
    return f"<v {_vtt_escape(label)}>" if label else ""


def json_text(transcript: Transcript) -> str:
    """:meth:`Transcript.to_dict` as JSON, one segment per line and the token ids on one line
    (indenting every number would give a line per token)."""
    data = transcript.to_dict()
    lines = []
    for key, value in data.items():
        if key == "segments" and value:
            inner = ",\n".join(f"    {dump_json(segment)}" for segment in value)
            lines.append(f'  "segments": [\n{inner}\n  ]')
        else:
            lines.append(f"  {dump_json(key)}: {dump_json(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def dump_json(value: object) -> str:
    """One JSON value, UTF-8 text kept as is; a lone surrogate (a file name that is not UTF-8,
    decoded with ``surrogateescape``) becomes its ``\\udcXX`` escape: valid JSON that
    ``json.loads`` reads back to the same string (and ``os.fsencode`` to the same bytes)."""
    # allow_nan=False: NaN/Infinity are not JSON; fail loudly instead of writing an unreadable file.
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_txt(transcript: Transcript, path: str | Path) -> Path:
    return atomic_write(path, txt_text(transcript))


def write_srt(transcript: Transcript, path: str | Path) -> Path:
    return atomic_write(path, srt_text(transcript))


def write_vtt(transcript: Transcript, path: str | Path) -> Path:
    return atomic_write(path, vtt_text(transcript))


def write_json(transcript: Transcript, path: str | Path, mode: int | None = None) -> Path:
    """``mode``: a new file's permissions (before the umask); see :func:`atomic_write`."""
    return atomic_write(path, json_text(transcript), mode)


WRITERS: dict[str, Callable[[Transcript, str | Path], Path]] = {
    "txt": write_txt,
    "srt": write_srt,
    "vtt": write_vtt,
    "json": write_json,
}


def output_path(input_path: str | Path, fmt: str, output_dir: str | Path | None = None) -> Path:
    """``talk.m4a`` -> ``talk.srt``, in ``output_dir`` if given, else next to the input."""
    input_path = Path(input_path)
    folder = Path(output_dir) if output_dir is not None else input_path.parent
    return folder / f"{input_path.stem}.{fmt}"


def write(
    transcript: Transcript,
    input_path: str | Path,
    formats: Iterable[str],
    output_dir: str | Path | None = None,
) -> list[Path]:
    """Write each format (``"all"`` means every one) named after ``input_path``; returns paths.

    ``output_dir`` is created if missing. Raises VoxtralError for an unknown format, an output
    that would overwrite the input, or a folder that cannot be written.
    """
    chosen = _chosen_formats(formats)
    if output_dir is not None:
        _make_folder(Path(output_dir))
    paths = []
    for fmt in chosen:
        path = output_path(input_path, fmt, output_dir)
        if _same_file(path, Path(input_path)):
            raise VoxtralError(f"not writing {path}: it is the input file; use another output dir")
        paths.append(WRITERS[fmt](transcript, path))
    return paths


def _same_file(a: Path, b: Path) -> bool:
    """Also true for another spelling of one file (links, a case-insensitive disk's case)."""
    try:
        return a.resolve() == b.resolve() or os.path.samefile(a, b)
    except OSError:  # either one missing: nothing to overwrite
        return False


def _chosen_formats(formats: Iterable[str]) -> list[str]:
    chosen: list[str] = []
    for fmt in formats:
        names = FORMATS if fmt == "all" else (fmt.lower(),)
        for name in names:
            if name not in FORMATS:
                raise VoxtralError(
                    f"unknown output format {fmt!r} (choose from {', '.join(FORMATS)}, all)"
                )
            if name not in chosen:
                chosen.append(name)
    return chosen


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise VoxtralError(f"cannot create output folder {folder}: {_reason(err)}") from err
    if not folder.is_dir():
        raise VoxtralError(f"cannot use output folder {folder}: it is not a folder")


def atomic_write(path: str | Path, text: str, mode: int | None = None) -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically; returns ``path``.

    Overwriting keeps the existing file's permissions; a new file gets ``mode`` (default
    0o666) less the umask, like a plain ``open``. Characters UTF-8 cannot hold (lone
    surrogates) become ``?`` rather than losing the whole file.
    """
    path = Path(path)
    data = text.encode("utf-8", errors="replace")
    try:
        with replacing(path, mode) as file:
            file.write(data)
    except OSError as err:
        raise VoxtralError(f"cannot write {path}: {_reason(err)}") from err
    return path


def _reason(err: OSError) -> str:
    return err.strerror or str(err)
