"""Full-size model check without the real weights: parameter count, load time, peak memory.

Builds Voxtral Mini 4B Realtime at its real shape with random weights, writes them to disk as a
real-size native-layout checkpoint (``params.json`` + ``consolidated.safetensors``, bf16, one
tensor in memory at a time), then times ``weights.load`` on that folder and runs one short
forward pass to show the loaded model works.

    python benchmarks/bench_model.py [--dir DIR] [--dtype bfloat16] [--keep]

Prints a markdown table. Timings are for this machine only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import mlx.core as mx  # noqa: E402
from fullsize import write_checkpoint  # noqa: E402
from mlx.utils import tree_flatten  # noqa: E402

from voxtral_mlx.checkpoint import weights  # noqa: E402
from voxtral_mlx.config import ModelConfig  # noqa: E402
from voxtral_mlx.model import VoxtralRealtime  # noqa: E402
from voxtral_mlx.testing import realtime_4b_params  # noqa: E402


def rss_peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux


def count(model: VoxtralRealtime) -> dict[str, int]:
    sizes = {"encoder": 0, "adapter": 0, "decoder": 0}
    for name, w in tree_flatten(model.parameters()):
        sizes[name.split(".")[0]] += w.size
    sizes["total"] = sum(sizes.values())
    return sizes


def forward_check(model: VoxtralRealtime) -> tuple[float, float]:
    """Encoder on 10 s of audio (one shot) and the mean of 20 single-token decoder steps (ms)."""
    mel = mx.random.normal((1, 1000, 128)).astype(model.decoder.tok_embeddings.weight.dtype)
    mx.eval(model.encode(mel[:, :80]))  # warm-up
    t0 = time.perf_counter()
    audio = model.encode(mel)
    mx.eval(audio)
    enc_ms = (time.perf_counter() - t0) * 1e3
    dec = model.decoder
    gains, cache = dec.ffn_gains(6), dec.make_cache()
    mx.eval(dec(dec.embed(mx.array([[1] + [32] * 38])) + audio[:, :39], gains, cache))
    token = mx.array([[32]])
    times = []
    for p in range(39, 64):
        t0 = time.perf_counter()
        logits = dec(dec.embed(token) + audio[:, p : p + 1], gains, cache)
        token = mx.argmax(logits[:, -1], axis=-1)[None]
        mx.eval(token)
        times.append(time.perf_counter() - t0)
    return enc_ms, sum(times[5:]) / len(times[5:]) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--dir", type=Path, default=None, help="where to write the checkpoint (default: a temp dir)"
    )
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    ap.add_argument("--keep", action="store_true", help="keep the written checkpoint")
    ap.add_argument("--no-forward", action="store_true")
    args = ap.parse_args()
    dtype = getattr(mx, args.dtype)

    folder = args.dir or Path(tempfile.mkdtemp(prefix="voxtral-full-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str]] = [
        ("device", f"{mx.default_device()} ({platform.machine()}), mlx {mx.__version__}")
    ]
    try:
        sizes = count(VoxtralRealtime(ModelConfig.from_dict(realtime_4b_params())))
        rows += [(f"parameters: {k}", f"{v / 1e6:,.1f} M") for k, v in sizes.items()]
        write_s, nbytes = write_checkpoint(folder)
        rows += [
            (
                "checkpoint written (bf16, native layout)",
                f"{nbytes / 1e9:.2f} GB in {write_s:.1f} s",
            )
        ]
        gc.collect()
        mx.clear_cache()
        mx.reset_peak_memory()
        rss_before = rss_peak_gb()

        t0 = time.perf_counter()
        model, _ = weights.load(folder, dtype=dtype)
        load_s = time.perf_counter() - t0
        rows += [
            (f"weights.load -> {args.dtype} (page cache warm)", f"{load_s:.2f} s"),
            ("peak MLX memory after load", f"{mx.get_peak_memory() / 1e9:.2f} GB"),
            ("peak process RSS (whole run)", f"{max(rss_before, rss_peak_gb()):.2f} GB"),
        ]
        if not args.no_forward:
            enc_ms, step_ms = forward_check(model)
            rows += [
                ("encoder, 10 s of audio in one call", f"{enc_ms:.1f} ms"),
                ("decoder step (unoptimised loop, mean of 20)", f"{step_ms:.2f} ms"),
                ("peak MLX memory incl. forward", f"{mx.get_peak_memory() / 1e9:.2f} GB"),
            ]
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    print("| measure | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
