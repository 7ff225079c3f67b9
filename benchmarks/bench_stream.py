"""File transcription speed: tokens/s and real-time factor, tiny and full-size random weights.

Runs ``transcribe_file`` (the same StreamingSession path the CLI uses) on a synthetic wav and
prints one markdown table. Random weights of the real shape: the numbers are speed and memory
only, never accuracy. A synthetic tokenizer covers the full 131072-id vocabulary.

    python benchmarks/bench_stream.py [--sizes tiny,full] [--seconds 20] [--full-seconds 4]
                                      [--dtype float32|bfloat16]

On Linux, importing voxtral_mlx first loads the system OpenBLAS (see voxtral_mlx/env.py).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# isort: off
import voxtral_mlx  # noqa: E402,F401  (before mlx: loads OpenBLAS on Linux)
import mlx.core as mx  # noqa: E402

# isort: on
import numpy as np  # noqa: E402
from fullsize import speech_like, synthetic_tokenizer  # noqa: E402
from mlx.utils import tree_flatten, tree_map  # noqa: E402

from voxtral_mlx import env  # noqa: E402
from voxtral_mlx.checkpoint import weights  # noqa: E402
from voxtral_mlx.config import ModelConfig  # noqa: E402
from voxtral_mlx.model import VoxtralRealtime  # noqa: E402
from voxtral_mlx.testing import realtime_4b_params  # noqa: E402


def _tiny_params() -> dict:
    """The real params.json with small widths (vocab kept at 131072, as in the real model)."""
    p = realtime_4b_params()
    p.update(dim=256, n_layers=4, head_dim=64, hidden_dim=768, n_heads=4, n_kv_heads=2)
    p["multimodal"]["whisper_model_args"]["encoder_args"].update(
        dim=256, n_layers=4, head_dim=64, hidden_dim=768, n_heads=4, n_kv_heads=4
    )
    return p


TINY = _tiny_params()


def build(params: dict, dtype: mx.Dtype) -> VoxtralRealtime:
    mx.random.seed(0)
    model = VoxtralRealtime(ModelConfig.from_dict(params))
    model.update(tree_map(lambda w: w.astype(dtype), model.parameters()))
    mx.eval(model.parameters())
    return model


def run(name: str, params: dict, seconds: float, dtype: mx.Dtype, folder: Path) -> list[str]:
    import soundfile as sf  # the quick table goes through real files; the GPU suite needs neither

    from voxtral_mlx.decode.transcribe import transcribe_file

    model = build(params, dtype)
    n_params = sum(w.size for _, w in tree_flatten(model.parameters()))
    tok = synthetic_tokenizer(model.config.vocab_size)
    wav = folder / f"{name}.wav"
    sf.write(wav, speech_like(seconds), 16000, subtype="PCM_16")
    warm = folder / "warm.wav"
    sf.write(warm, speech_like(1.0), 16000, subtype="PCM_16")
    transcribe_file(warm, model, tok)  # compile/warm caches
    t0 = time.perf_counter()
    result = transcribe_file(wav, model, tok)
    wall = time.perf_counter() - t0
    n = len(result.tokens)
    return [
        name, f"{n_params / 1e6:,.1f} M", str(dtype).removeprefix("mlx.core."), f"{seconds:g} s",
        str(n), f"{wall:.2f} s", f"{n / wall:.1f}", f"{wall / seconds:.3f}", f"{seconds / wall:.2f}x",
        f"{mx.get_peak_memory() / 1e9:.2f} GB",
    ]  # fmt: skip


VARIANTS = {  # label -> (convert bits or None for the native bf16 folder, keep packed?)
    "bf16": (None, None),
    "8bit": (8, None),
    "4bit": (4, None),
    "4bit-packed": (4, False),
    "4bit-expanded": (4, True),
    "4bit-all": ("4e", None),  # encoder and adapter quantized too (--quantize-encoder)
}


def full_suite(args, dtype) -> None:
    """The issue-6 table: full size, each variant loaded from a real-size folder on disk."""
    import shutil

    import full_suite as fs
    import voxmlx_side
    from fullsize import write_checkpoint

    from voxtral_mlx.checkpoint.convert import convert

    root = Path(args.dir or tempfile.mkdtemp(prefix="voxtral-suite-"))
    native = root / "native"
    if not (native / "params.json").is_file():
        write_checkpoint(native, TINY if args.suite_size == "tiny" else None)
    tok = synthetic_tokenizer()
    read_bw, copy_bw = fs.bandwidth_gbs()
    results, conv_s = {}, {}
    for label in args.variants.split(","):
        bits, expand = VARIANTS[label]
        folder = native
        if bits:
            folder = root / f"q{bits}"
            if not (folder / "params.json").is_file():
                t0 = time.perf_counter()
                convert(native, folder, bits=int(str(bits)[0]), quantize_encoder=bits == "4e")
                conv_s[bits] = time.perf_counter() - t0
        r = fs.measure(folder, dtype, expand, tok, args.file_seconds, args.quality_seconds,
                       args.latency_chunks, args.streams)  # fmt: skip
        if results and r["quality_tokens"]:
            first = next(iter(results.values()))
            ref_toks = first["quality_tokens"]
            n = min(len(ref_toks), len(r["quality_tokens"]))
            r["free_agree"] = float(
                np.mean(np.array(ref_toks[:n]) == np.array(r["quality_tokens"][:n]))
            )
            r["tf_agree"] = fs.teacher_forced_agreement(r["model"], ref_toks, args.quality_seconds)
        del r["model"]
        mx.clear_cache()
        results[label] = r
        brief = {k: round(v, 4) for k, v in r.items() if isinstance(v, float)}
        print(f"[{label}] {brief}", file=sys.stderr, flush=True)
    vox = {}
    if args.voxmlx and voxmlx_side.available():
        mel = None
        for label in args.variants.split(","):
            bits, _ = VARIANTS[label]
            if bits == "4e":  # voxmlx has no quantized-encoder mode to compare with
                continue
            m = voxmlx_side.load(native, bits)
            if mel is None:
                from voxtral_mlx.audio.mel import log_mel, pad_for_stream

                audio = speech_like(args.voxmlx_encoder_seconds, seed=6)
                mel = np.array(log_mel(pad_for_stream(audio, 32, 17)))
            step_ms = voxmlx_side.decoder_step_ms(
                m, n_steps=args.voxmlx_steps, context=args.voxmlx_context
            )
            vox[label] = (step_ms, voxmlx_side.encoder_ms(m, mel))
            print(
                f"[voxmlx {label}] step {vox[label][0]:.2f} ms, encoder "
                f"{args.voxmlx_encoder_seconds:g} s {vox[label][1]:.1f} ms",
                file=sys.stderr,
                flush=True,
            )
            del m
            mx.clear_cache()
        ours_enc = {}
        for label in vox:
            bits, expand = VARIANTS[label]
            model, _ = weights.load(
                root / f"q{bits}" if bits else native, dtype=dtype, expand_quantized=expand
            )
            ours_enc[label] = fs.encoder_offline_ms(model, mel)
            del model
            mx.clear_cache()
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    print_suite(results, vox, ours_enc if vox else {}, conv_s, read_bw, copy_bw, args)


def print_suite(results, vox, ours_enc, conv_s, read_bw, copy_bw, args) -> None:
    print(
        f"device {mx.default_device()}, mlx {mx.__version__}, BLAS: {env.preload() or 'MLX default'}"
    )
    print(f"measured bandwidth: read {read_bw:.0f} GB/s, copy {copy_bw:.0f} GB/s; "
          f"conversion time: " + ", ".join(f"{b}-bit {s:.1f} s" for b, s in conv_s.items()))  # fmt: skip
    labels = list(results)
    rows = [
        ("load time (folder on disk, warm page cache)", lambda r: f"{r['load_s']:.2f} s"),
        ("first use: quantized-matmul kernels / whole warm-up", lambda r: f"{r['kernel_warm_s']:.1f} / {r['warmup_s']:.1f} s"),
        ("peak MLX memory after load", lambda r: f"{r['peak_mlx_load_gb']:.2f} GB"),
        ("peak MLX memory, whole run", lambda r: f"{r['peak_mlx_gb']:.2f} GB"),
        ("peak RSS, whole run", lambda r: f"{r['rss_peak_gb']:.2f} GB"),
        ("encoder per 80 ms chunk (live)", lambda r: f"{r['enc_live_ms']:.2f} ms"),
        ("encoder per second of audio (file)", lambda r: f"{r['enc_file_ms_per_s']:.2f} ms"),
        ("decoder per token (file, pipelined)", lambda r: f"{r['decode_ms_per_token']:.2f} ms"),
        (f"RTF, {args.file_seconds:g} s file (encoder + decoder)", lambda r: f"{r['rtf']:.4f} ({1 / r['rtf']:.1f}x)"),
        (f"RTF, {args.file_seconds:g} s file, {args.streams} streams side by side (CLI default)",
         lambda r: f"{r['par_rtf']:.4f} ({1 / r['par_rtf']:.1f}x)" if "par_rtf" in r else "-"),
        ("batched steps / wall ms per batched step",
         lambda r: f"{r['par_steps']} / {r['par_ms_per_step']:.2f} ms" if "par_rtf" in r else "-"),
        ("live latency chunk -> token, mean / p95", lambda r: f"{r['latency_ms']:.2f} / {r['latency_p95_ms']:.2f} ms"),
        ("decoder weight bytes per step", lambda r: f"{r['decoder_gb']:.2f} GB"),
        ("bandwidth floor per step (bytes / read BW)", lambda r: f"{1e3 * r['decoder_gb'] / read_bw:.2f} ms"),
        ("decoder step / floor", lambda r: f"{r['decode_ms_per_token'] / (1e3 * r['decoder_gb'] / read_bw):.1f}x"),
        (f"free-running greedy agreement with {labels[0]}", lambda r: f"{r['free_agree']:.1%}" if "free_agree" in r else "-"),
        (f"teacher-forced argmax agreement with {labels[0]}", lambda r: f"{r['tf_agree']:.1%}" if "tf_agree" in r else "-"),
        ("tokens compared", lambda r: str(len(r["quality_tokens"])) if r["quality_tokens"] else "-"),
    ]  # fmt: skip
    stage_names = list(results[labels[0]].get("stage_peaks_gb", {}))
    rows += [
        (f"peak MLX memory in stage '{s}'", lambda r, s=s: f"{r['stage_peaks_gb'][s]:.2f} GB")
        for s in stage_names
    ]
    print("| measure | " + " | ".join(labels) + " |")
    print("|---" * (len(labels) + 1) + "|")
    for name, fmt in rows:
        print(f"| {name} | " + " | ".join(fmt(results[k]) for k in labels) + " |")
    if vox:
        print("\n| voxmlx 0.0.2 side by side (same weights, same run) | " + " | ".join(vox) + " |")
        print("|---" * (len(vox) + 1) + "|")
        print(
            "| voxmlx decoder step | " + " | ".join(f"{v[0]:.2f} ms" for v in vox.values()) + " |"
        )
        print(
            "| ours decoder step | "
            + " | ".join(f"{results[k]['decode_ms_per_token']:.2f} ms" for k in vox)
            + " |"
        )
        print(
            "| speed-up (voxmlx / ours) | "
            + " | ".join(f"{vox[k][0] / results[k]['decode_ms_per_token']:.2f}x" for k in vox)
            + " |"
        )
        print(
            f"| voxmlx encoder, {args.voxmlx_encoder_seconds:g} s offline | "
            + " | ".join(f"{v[1]:.1f} ms" for v in vox.values())
            + " |"
        )
        print(
            f"| ours encoder, {args.voxmlx_encoder_seconds:g} s offline | "
            + " | ".join(f"{ours_enc[k]:.1f} ms" for k in vox)
            + " |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=["quick", "full"], default="quick")
    ap.add_argument(
        "--variants", default="bf16,8bit,4bit", help=f"full suite: any of {','.join(VARIANTS)}"
    )
    ap.add_argument("--file-seconds", type=float, default=60.0)
    ap.add_argument("--quality-seconds", type=float, default=42.0, help="~500 tokens; 0 to skip")
    ap.add_argument("--latency-chunks", type=int, default=100)
    ap.add_argument("--streams", type=int, default=8, help="file pieces side by side; 1: skip")
    ap.add_argument(
        "--voxmlx", action="store_true", help="also time voxmlx 0.0.2 on the same weights"
    )
    ap.add_argument("--voxmlx-steps", type=int, default=200, help="timed voxmlx decoder steps")
    ap.add_argument("--voxmlx-context", type=int, default=800, help="voxmlx KV positions")
    ap.add_argument("--voxmlx-encoder-seconds", type=float, default=10.0)
    ap.add_argument(
        "--dir", default=None, help="full suite: work folder (reused if it holds checkpoints)"
    )
    ap.add_argument("--keep", action="store_true")
    ap.add_argument(
        "--suite-size", choices=["full", "tiny"], default="full", help="tiny: smoke-test the suite"
    )
    ap.add_argument("--sizes", default="tiny,full")
    ap.add_argument("--seconds", type=float, default=20.0, help="audio length for the tiny model")
    ap.add_argument("--full-seconds", type=float, default=4.0, help="audio length for full size")
    ap.add_argument("--dtype", default=None, help="default: float32 on CPU, bfloat16 on GPU")
    args = ap.parse_args()
    on_gpu = mx.default_device() == mx.gpu
    dtype = getattr(mx, args.dtype) if args.dtype else (mx.bfloat16 if on_gpu else mx.float32)
    if args.suite == "full":
        full_suite(args, dtype)
        return

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            params = TINY if size == "tiny" else realtime_4b_params()
            seconds = args.seconds if size == "tiny" else args.full_seconds
            mx.reset_peak_memory()
            rows.append(run(size, params, seconds, dtype, Path(tmp)))
            mx.clear_cache()

    blas = env.preload() or "MLX default"
    print(f"device {mx.default_device()}, mlx {mx.__version__}, BLAS: {blas}, "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")  # fmt: skip
    head = [
        "model",
        "params",
        "dtype",
        "audio",
        "tokens",
        "wall",
        "tokens/s",
        "RTF",
        "speed",
        "peak MLX mem",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
