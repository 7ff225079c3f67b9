"""The full-size measurements behind ``bench_stream.py --suite full`` (one model variant at a time).

Every figure comes from the real code paths: ``weights.load`` on a folder on disk,
``AudioPipeline`` for the encoder, ``StreamingSession`` for decoding and latency.
"""

from __future__ import annotations

import time

import mlx.core as mx
import mlx.nn as nn
import numpy as np
from fullsize import reset_rss_peak, rss_gb, speech_like
from mlx.utils import tree_flatten

from voxtral_mlx.checkpoint import weights
from voxtral_mlx.decode.audio_pipeline import AudioPipeline
from voxtral_mlx.decode.pieces import ParallelTranscriber
from voxtral_mlx.decode.session import StreamingSession

TOKEN = 1280  # samples per 80 ms


def bandwidth_gbs() -> tuple[float, float]:
    """(read, copy) bandwidth in GB/s. Read: the faster of a sum over 1 GiB and a 1 x 16384
    by 16384 x 16384 float32 matrix-vector product (the decoder's access pattern; on the CPU
    only BLAS uses every core). Copy: 1 GiB read + written."""
    a = mx.random.uniform(shape=(256 * 1024 * 1024,))
    w = a.reshape(16384, 16384)
    x = mx.random.uniform(shape=(1, 16384))
    mx.eval(a, x)
    best_read = best_copy = best_mv = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        mx.eval(a.sum())
        best_read = min(best_read, time.perf_counter() - t0)
        t0 = time.perf_counter()
        mx.eval(x @ w.T)
        best_mv = min(best_mv, time.perf_counter() - t0)
        t0 = time.perf_counter()
        mx.eval(a + 1)
        best_copy = min(best_copy, time.perf_counter() - t0)
    return a.nbytes / min(best_read, best_mv) / 1e9, 2 * a.nbytes / best_copy / 1e9


def decoder_bytes(model) -> int:
    """Weight bytes one decoder step reads: every decoder tensor once (the tied head reads the
    whole embedding; the embedding lookup reads one row, ignored)."""
    return sum(
        w.nbytes for k, w in tree_flatten(model.decoder.parameters()) if ".ada_norm." not in k
    )


def warm_quantized_kernels(model) -> float:
    """Run every quantized-matmul kind of ``model`` once per row-count tile; seconds taken.

    MLX's CUDA backend compiles its multi-row quantized matmul (CUTLASS, sm90) on first use,
    one module per dtype, bits, group size and row tile (<= 16, 32, 64, 128, more), 30-40 s each,
    cached on disk afterwards (MLX_PTX_CACHE_DIR). Without this a compile lands inside a
    timed stage whenever a stage meets a new row count first (a file's last encoder block,
    a batch of rows). Elsewhere this takes milliseconds.
    """
    kinds = {}
    for _, m in model.named_modules():
        if isinstance(m, nn.QuantizedLinear):
            kinds.setdefault((m.bits, m.group_size, m.mode), m)
    dtype = model.decoder.norm.weight.dtype
    t0 = time.perf_counter()
    for m in kinds.values():
        k = m.weight.shape[1] * 32 // m.bits
        # 0.32.4 on sm90: a vector kernel below 8 rows, then a tile per 16/32/64/128/256.
        for rows in (2, 8, 20, 40, 100, 200):
            mx.eval(m(mx.zeros((1, rows, k), dtype)))
    return time.perf_counter() - t0


def _encoder_live_ms(model, n: int = 50) -> float:
    pipe = AudioPipeline(model, 32, 17)
    audio = speech_like(n * 0.08 + 3.0, seed=1)
    pipe.push(audio[:32000])  # warm-up, and past the 32-token left padding
    times = []
    for k in range(n):
        chunk = audio[32000 + k * TOKEN : 32000 + (k + 1) * TOKEN]
        t0 = time.perf_counter()
        pipe.push(chunk)
        mx.eval(pipe.embeddings(pipe.available - 1, pipe.available))
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.mean(times[5:]))


def _encoder_file_ms_per_s(model, seconds: float = 30.0) -> float:
    pipe = AudioPipeline(model, 32, 17)
    audio = speech_like(seconds + 5.0, seed=2)
    pipe.push(audio[:80000])  # warm-up
    t0 = time.perf_counter()
    pipe.push(audio[80000:])
    mx.eval(pipe.embeddings(pipe.available - 1, pipe.available))
    return 1e3 * (time.perf_counter() - t0) / seconds


def _file_run(model, tok, seconds: float) -> dict:
    session = StreamingSession(model, tok)
    session.feed(speech_like(seconds, seed=3))
    t0 = time.perf_counter()
    session.step(max_tokens=0)  # the encoder over the whole file, no decoding yet
    t1 = time.perf_counter()
    n_before = len(session.tokens)
    session.step()  # decode every position whose audio is in
    t2 = time.perf_counter()
    n_steps = len(session.tokens) - n_before
    session.close()
    while not session.done:
        session.step()
    t3 = time.perf_counter()
    return {
        "encoder_s": t1 - t0,
        "decode_ms_per_token": 1e3 * (t2 - t1) / max(1, n_steps),
        "rtf": (t3 - t0) / seconds,
        "tokens": session.tokens,
    }


def _parallel_file_run(model, tok, seconds: float, streams: int) -> dict:
    """The file path the CLI takes for long files: pieces decoded side by side (parallel.py)."""
    par = ParallelTranscriber(model, tok, streams=streams, duration=seconds)
    audio = speech_like(seconds, seed=3)
    t0 = time.perf_counter()
    for s in range(0, len(audio), 160000):  # the CLI's 10 s blocks
        par.feed(audio[s : s + 160000])
    par.close()
    total = time.perf_counter() - t0
    return {"par_rtf": total / seconds, "par_steps": par.decoder.steps,
            "par_ms_per_step": 1e3 * total / max(1, par.decoder.steps)}  # fmt: skip


def _latency_ms(model, tok, n_chunks: int) -> tuple[float, float]:
    """Live, paced at real time: time from a chunk's last sample (plus the 40-sample STFT
    look-ahead) being fed to the step that emits the token for it, mean and p95 in ms."""
    session = StreamingSession(model, tok)
    audio = speech_like((n_chunks + 12) * 0.08, seed=4)
    lat = []
    fed = 0
    for k in range(1, n_chunks + 12):
        edge = k * TOKEN + 40
        t_start = time.perf_counter()
        session.feed(audio[fed:edge])
        fed = edge
        events = session.step()
        t_end = time.perf_counter()
        if k > 10 and events:  # steady state: one token per chunk
            lat.append(t_end - t_start)
        time.sleep(max(0.0, 0.08 - (time.perf_counter() - t_start)))
    return 1e3 * float(np.mean(lat)), 1e3 * float(np.percentile(lat, 95))


def measure(
    folder,
    dtype,
    expand: bool | None,
    tok,
    file_seconds: float,
    quality_seconds: float,
    latency_chunks: int,
    streams: int = 8,
) -> dict:
    mx.clear_cache()
    mx.reset_peak_memory()
    reset_rss_peak()
    t0 = time.perf_counter()
    model, cfg = weights.load(folder, dtype=dtype, expand_quantized=expand)
    load_s = time.perf_counter() - t0
    out = {
        "load_s": load_s,
        "peak_mlx_load_gb": mx.get_peak_memory() / 1e9,
        "rss_load_gb": rss_gb()[1],
        "decoder_gb": decoder_bytes(model) / 1e9,
    }
    stages: dict[str, float] = {}

    def stage(name: str) -> None:
        """Peak MLX memory since the previous stage (GB), then start a new one: shows which
        part of the run sets the whole-run peak."""
        stages[name] = mx.get_peak_memory() / 1e9
        mx.reset_peak_memory()

    stage("load")
    t0 = time.perf_counter()
    out["kernel_warm_s"] = warm_quantized_kernels(model)
    # Warm-up: MLX CUDA compiles kernels on first use, and the encoder's key length grows by
    # 4 frames a chunk up to its 750-frame window, each a new shape; without a first pass over
    # the same shapes the first variant of a run paid those compiles inside its timings
    # (docs/benchmarks.md, H200 notes).
    _file_run(model, tok, 5.0)
    _encoder_live_ms(model)
    _encoder_file_ms_per_s(model)
    # A live session meets shapes no file run does: on a fresh process its first paced pass
    # is mostly kernel compiles (docs/benchmarks.md, H200 notes).
    _latency_ms(model, tok, latency_chunks)
    out["warmup_s"] = time.perf_counter() - t0
    stage("warm-up")
    out["enc_live_ms"] = _encoder_live_ms(model)
    stage("encoder live")
    out["enc_file_ms_per_s"] = _encoder_file_ms_per_s(model)
    stage("encoder file")
    run = _file_run(model, tok, file_seconds)
    out.update(run)
    stage("file")
    if streams > 1:
        _parallel_file_run(model, tok, 20.0, streams)  # warm-up: batched shapes
        out.update(_parallel_file_run(model, tok, file_seconds, streams))
        out["streams"] = streams
        stage("file, parallel")
    out["latency_ms"], out["latency_p95_ms"] = _latency_ms(model, tok, latency_chunks)
    stage("live")
    out["quality_tokens"] = []
    if quality_seconds:
        quality = StreamingSession(model, tok)
        quality.feed(speech_like(quality_seconds, seed=5))
        quality.close()
        while not quality.done:
            quality.step()
        out["quality_tokens"] = quality.tokens
        stage("quality")
    out["stage_peaks_gb"] = stages
    out["peak_mlx_gb"] = max(stages.values())
    out["rss_peak_gb"] = rss_gb()[1]
    out["model"] = model
    return out


def teacher_forced_agreement(model, reference_tokens: list[int], seconds: float) -> float:
    """Argmax agreement when the model is fed the reference's own tokens (no error cascade)."""
    from voxtral_mlx.audio.mel import log_mel, pad_for_stream

    mel = log_mel(pad_for_stream(speech_like(seconds, seed=5), 32, 17))[None]
    mel = mel.astype(model.decoder.norm.weight.dtype)
    prompt = [1] + [32] * 38
    n = mel.shape[1] // 8
    toks = reference_tokens[: n - len(prompt)]
    logits = model(mx.array([prompt + toks]), mel, 6)
    pred = np.array(mx.argmax(logits[0, len(prompt) - 1 : len(prompt) - 1 + len(toks)], axis=-1))
    return float((pred == np.array(toks)).mean())


def encoder_offline_ms(model, mel_t128: np.ndarray) -> float:
    """Our one-shot encoder + adapter on the same mel voxmlx gets, ms (after a warm-up)."""
    mel = mx.array(mel_t128)[None].astype(model.decoder.norm.weight.dtype)
    mx.eval(model.encode(mel[:, :800]))
    t0 = time.perf_counter()
    mx.eval(model.encode(mel))
    return 1e3 * (time.perf_counter() - t0)
