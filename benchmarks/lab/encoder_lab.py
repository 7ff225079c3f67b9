"""Where one live stream's encoder time goes, stage by stage (issue 21).

python benchmarks/lab/encoder_lab.py [--size tiny|small|full] [--bits 4|16] [--seconds 20]
                                     [--chunk-ms 40,80] [--dir DIR]

One ``AudioPipeline`` gets ``--seconds`` of speech-like audio in chunks of each size, twice
(the second pass is the warm one; a third runs on a thread of its own, as in the server). Each stage is evaluated and timed on its own: the mel, the
conv stem, the transformer with the adapter. Printed: ms per push of each stage, per quarter of
the audio (a stage whose cost grows with the stream shows it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def one_pass(model, audio, chunk: int) -> list[tuple[float, float, float]]:
    import mlx.core as mx

    from voxtral_mlx.decode.audio_pipeline import AudioPipeline

    pipe = AudioPipeline(model, 32, 17, 4)
    enc, times = model.encoder, []
    for s in range(0, len(audio), chunk):
        t0 = time.perf_counter()
        pipe.real_samples += chunk
        mel = pipe.mel.feed(audio[s : s + chunk])
        mx.eval(mel)
        t1 = time.perf_counter()
        conv = mx.zeros((1, 0, enc.args.dim), pipe.dtype)
        if mel.shape[0]:
            conv = enc.conv_stem_step(mel[None].astype(pipe.dtype), pipe.conv_state)
        pending = mx.concatenate([pipe._conv_pending, conv], axis=1)
        mx.eval(pending, pipe.conv_state.buf1, pipe.conv_state.buf2)
        t2 = time.perf_counter()
        usable = pending.shape[1] - pending.shape[1] % pipe.factor
        if usable:
            emb = model.adapter(enc.transformer(pending[:, :usable], pipe.enc_cache))
            mx.eval(emb)
        pipe._conv_pending = pending[:, usable:]
        t3 = time.perf_counter()
        times.append((t1 - t0, t2 - t1, t3 - t2))
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=["tiny", "small", "full"], default="small")
    ap.add_argument("--bits", type=int, choices=[4, 16], default=4)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--chunk-ms", default="40,80")
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()

    # isort: off
    import voxtral_mlx  # noqa: F401  (first: on Linux it loads OpenBLAS before mlx.core)
    import mlx.core as mx
    from bench_files import model_folder
    from fullsize import speech_like

    # isort: on
    from voxtral_mlx.checkpoint import weights

    root = Path(args.dir or tempfile.mkdtemp(prefix="voxtral-enc-"))
    root.mkdir(parents=True, exist_ok=True)
    folder, _ = model_folder(args, root)
    model = weights.load(folder, dtype=weights.default_dtype())[0]
    audio = speech_like(args.seconds)
    print(f"device {mx.default_device()}, mlx {mx.__version__}, {args.size} ({folder.name})")
    print("| chunk | pass | quarter | pushes | mel / conv / transformer ms per push |")
    print("|---|---|---|---|---|")
    for chunk_ms in (float(x) for x in args.chunk_ms.split(",")):
        chunk = int(chunk_ms * 16)
        for name in ("cold", "warm", "warm, thread"):
            if name.endswith("thread"):  # as the server's MLX thread runs it
                box: list = []
                worker = threading.Thread(
                    target=lambda b=box, c=chunk: b.append(one_pass(model, audio, c))
                )
                worker.start()
                worker.join()
                times = box[0]
            else:
                times = one_pass(model, audio, chunk)
            q = len(times) // 4
            for k in range(4):
                part = times[k * q : (k + 1) * q]
                mean = [1000 * sum(t[i] for t in part) / len(part) for i in range(3)]
                print(f"| {chunk_ms:.0f} ms | {name} | {k + 1} | {len(part)} | "
                      f"{mean[0]:.2f} / {mean[1]:.2f} / {mean[2]:.2f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
