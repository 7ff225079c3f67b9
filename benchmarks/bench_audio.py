"""Audio front end: decode + resample + log-mel throughput, and peak memory of block reading.

Writes synthetic stereo files (the committed espeak-ng clip tiled, each channel with its own
gain, plus faint noise) in a temporary folder, then prints two markdown tables:

1. ``--minutes`` (default 10) of audio per format: seconds and x-real-time for
   ``load_audio`` (decode + soxr HQ), ``log_mel(pad_for_stream(...))``, both together, and the
   streaming path (``iter_audio`` 30 s blocks + ``StreamingMel.feed``).
2. ``--hours`` (default 1) of FLAC and M4A read with ``iter_audio`` + ``StreamingMel`` in a fresh
   child process: RSS after imports and peak RSS (``ru_maxrss``), and the same for
   ``load_audio`` of the whole file, for contrast.

    python benchmarks/bench_audio.py [--minutes 10] [--hours 1] [--dir DIR] [--keep]

Timings are for this machine only (best of ``--repeat``); nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import mlx.core as mx  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import soxr  # noqa: E402

from voxtral_mlx.audio.files import iter_audio, load_audio  # noqa: E402
from voxtral_mlx.audio.mel import StreamingMel, log_mel, pad_for_stream  # noqa: E402

SPEECH = ROOT / "tests" / "data" / "speech_en_22k.flac"
FORMATS = {  # name -> (suffix, sample rate, writer kind, soundfile format/subtype or codec)
    "wav pcm16": ("wav", 44100, "sf", ("WAV", "PCM_16")),
    "flac": ("flac", 44100, "sf", ("FLAC", "PCM_16")),
    "mp3": ("mp3", 44100, "sf", ("MP3", "MPEG_LAYER_III")),
    "ogg opus": ("opus", 48000, "sf", ("OGG", "OPUS")),
    "m4a aac": ("m4a", 48000, "av", "aac"),
}
WRITE_BLOCK_SECONDS = 60


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB.

    Linux: VmRSS / VmHWM from /proc, which start afresh at exec (ru_maxrss does not: it carries
    the parent's peak over fork + exec). Elsewhere: ru_maxrss for both.
    """
    status = Path("/proc/self/status")
    if status.exists():
        fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        return tuple(float(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak /= 2**20 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return peak, peak


def stereo_blocks(rate: int, seconds: float):
    """Yield [n, 2] float32 blocks of tiled speech: left full, right at 0.6x, faint noise."""
    speech, src_rate = sf.read(SPEECH, dtype="float32")
    speech = soxr.resample(speech, src_rate, rate)
    rng = np.random.default_rng(0)
    total, done = int(seconds * rate), 0
    while done < total:
        n = min(WRITE_BLOCK_SECONDS * rate, total - done)
        idx = (done + np.arange(n)) % len(speech)
        mono = speech[idx] + 0.003 * rng.standard_normal(n).astype(np.float32)
        yield np.stack([mono, 0.6 * mono], axis=1).astype(np.float32)
        done += n


def write_file(path: Path, fmt: str, seconds: float) -> float:
    suffix, rate, kind, spec = FORMATS[fmt]
    t0 = time.perf_counter()
    if kind == "sf":
        with sf.SoundFile(path, "w", rate, 2, format=spec[0], subtype=spec[1]) as f:
            for block in stereo_blocks(rate, seconds):
                f.write(block)
    else:
        with av.open(str(path), "w") as out:
            stream = out.add_stream(spec, rate=rate, layout="stereo")
            pts = 0
            for block in stereo_blocks(rate, seconds):
                planar = np.ascontiguousarray(block.T)
                for i in range(0, planar.shape[1], 8192):
                    frame = av.AudioFrame.from_ndarray(
                        planar[:, i : i + 8192], format="fltp", layout="stereo"
                    )
                    frame.sample_rate, frame.pts = rate, pts
                    pts += frame.samples
                    out.mux(stream.encode(frame))
            out.mux(stream.encode())
    return time.perf_counter() - t0


def best_of(repeat: int, fn):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def stream_path(path: Path) -> int:
    sm = StreamingMel()
    frames = 0
    for chunk in iter_audio(path, block_seconds=30.0):
        out = sm.feed(chunk)
        mx.eval(out)
        frames += out.shape[0]
    out = sm.close()
    mx.eval(out)
    return frames + out.shape[0]


def throughput(folder: Path, minutes: float, repeat: int) -> list[str]:
    seconds = 60 * minutes
    rows = [
        f"| format ({minutes:g} min stereo) | file MB | decode+resample s | mel s | "
        "decode+resample+mel s | x real time | streaming path s | streaming x RT |",
        "|---|---|---|---|---|---|---|---|",
    ]
    log_mel(np.zeros(16000, np.float32))  # warm-up: MLX kernels, filter cache
    for fmt, (suffix, rate, _, _) in FORMATS.items():
        path = folder / f"bench_{minutes:g}min.{suffix}"
        write_file(path, fmt, seconds)
        t_load, audio = best_of(repeat, lambda p=path: load_audio(p))
        padded = pad_for_stream(audio)
        t_mel, mel = best_of(repeat, lambda p=padded: log_mel(p))
        t_stream, n_stream = best_of(repeat, lambda p=path: stream_path(p))
        assert n_stream == mel.shape[0], (n_stream, mel.shape)
        total = t_load + t_mel
        rows.append(
            f"| {fmt} {rate / 1000:g} kHz | {path.stat().st_size / 1e6:.1f} | {t_load:.2f} | "
            f"{t_mel:.2f} | {total:.2f} | {seconds / total:.0f}x | {t_stream:.2f} | "
            f"{seconds / t_stream:.0f}x |"
        )
        path.unlink()
    return rows


def child(mode: str, path: str) -> None:
    """Runs in a fresh interpreter: print JSON with RSS after imports and at the end."""
    log_mel(np.zeros(16000, np.float32))
    try:  # Linux: restart the peak (VmHWM) here, so imports' own transient peak is not counted
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    base = rss_mb()[0]
    t0 = time.perf_counter()
    if mode == "stream":
        n = stream_path(Path(path))
    else:
        n = log_mel(pad_for_stream(load_audio(path))).shape[0]
    elapsed = time.perf_counter() - t0
    print(json.dumps({"base": base, "peak": rss_mb()[1], "s": elapsed, "n": n}))


def memory(folder: Path, hours: float) -> list[str]:
    rows = [
        f"| {hours:g} h stereo file | file MB | mode | RSS after imports MB | peak RSS MB | "
        "peak - imports MB | wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for fmt in ("flac", "m4a aac"):
        suffix, rate, _, _ = FORMATS[fmt]
        path = folder / f"bench_{hours:g}h.{suffix}"
        write_file(path, fmt, 3600 * hours)
        for mode, label in (
            ("stream", "iter_audio 30 s + StreamingMel"),
            ("whole", "load_audio + log_mel"),
        ):
            cmd = [sys.executable, __file__, "--child", mode, str(path)]
            res = json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout)
            rows.append(
                f"| {fmt} {rate / 1000:g} kHz | {path.stat().st_size / 1e6:.0f} | {label} | "
                f"{res['base']:.0f} | {res['peak']:.0f} | {res['peak'] - res['base']:.0f} | "
                f"{res['s']:.1f} |"
            )
        path.unlink()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--part", choices=("all", "throughput", "memory"), default="all")
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench-audio-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(
        f"{platform.platform()}, {platform.processor() or platform.machine()}, "
        f"mlx {mx.__version__} on {mx.default_device()}, soxr {soxr.__version__}, "
        f"av {av.__version__}, soundfile {sf.__version__}"
    )
    try:
        if args.part in ("all", "throughput"):
            print()
            print("\n".join(throughput(folder, args.minutes, args.repeat)))
        if args.part in ("all", "memory"):
            print()
            print("\n".join(memory(folder, args.hours)))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
