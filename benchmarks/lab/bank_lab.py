"""What one call of the server's banks costs, stage by stage and op by op (issue 21).

python benchmarks/lab/bank_lab.py [--size small|full] [--rows 16,64]

The model is built in memory with random weights (bfloat16; no checkpoint on disk). For each
row count: one FrontBank call's stages (the mel of one token a row, the conv stem, the encoder
over RowRings with the adapter), then the ops of one encoder layer's cache at that shape, and
of one decoder layer's LaneBank: the scatter of the new keys (``put_along_axis``), the same
write as a ``where`` over the whole buffer, and attention with a boolean mask, an additive
mask, none, and "grouped" (one query a row: the query heads of a kv head passed as that head's
queries, over the same additive mask, which MLX CUDA computes in a fused kernel). Each figure: the median of 10 timed runs (after 3 warm ones) in ms, the work
evaluated each time (ops per layer are run as many times as there are layers).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def timed(fn, runs: int = 10) -> float:
    import mlx.core as mx

    for _ in range(3):
        mx.eval(fn())
    mx.synchronize()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        mx.eval(fn())
        mx.synchronize()
        out.append(time.perf_counter() - t)
    return 1000 * statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=["small", "full"], default="small")
    ap.add_argument("--rows", default="16,64")
    args = ap.parse_args()

    # isort: off
    import voxtral_mlx  # noqa: F401  (first: on Linux it loads OpenBLAS before mlx.core)
    import mlx.core as mx
    from fullsize import random_model

    # isort: on
    from voxtral_mlx.audio.mel import FRAMES_PER_TOKEN, HOP_LENGTH, segments_to_log_mel
    from voxtral_mlx.decode.audio_pipeline import LIVE_BLOCK
    from voxtral_mlx.model.encoder import ConvStemState
    from voxtral_mlx.model.encoder_ring import RowRings
    from voxtral_mlx.model.lane_bank import LaneBank

    model = random_model(args.size)
    enc, dec = model.encoder, model.decoder
    ea, dt = enc.args, mx.bfloat16
    mels = ea.audio_encoding_args.num_mel_bins
    print(f"device {mx.default_device()}, mlx {mx.__version__}, {args.size}, bfloat16")
    print("| rows | mel | conv | encoder+adapter | enc write: scatter / where | "
          "enc attention: bool / additive / no mask | dec write: scatter / where | "
          "dec attention: bool / additive / no mask / grouped |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for rows in (int(x) for x in args.rows.split(",")):
        n = FRAMES_PER_TOKEN // 2  # encoder frames of one token
        segs = mx.random.normal((rows, HOP_LENGTH * (FRAMES_PER_TOKEN + 2))) * 0.1
        t_mel = timed(lambda segs=segs: segments_to_log_mel(segs, FRAMES_PER_TOKEN, mels))
        mel = segments_to_log_mel(segs, FRAMES_PER_TOKEN, mels).astype(dt)
        state = enc.new_conv_state(rows, dt)

        def conv(state=state, mel=mel):
            return enc.conv_stem_step(mel, ConvStemState(state.buf1, state.buf2))

        t_conv = timed(conv)
        x = conv()
        rings = RowRings(len(enc.layers), 1, ea.sliding_window, LIVE_BLOCK, ea.kv_heads,
                         ea.head_dim, dt)  # fmt: skip
        rings.grow(rows)
        active = [True] * rows

        def encode(x=x, rings=rings, active=active, n=n):
            return [model.adapter(enc.transformer(x, rings.layers(active, n)))] + rings.ks

        t_enc = timed(encode)
        L = len(enc.layers)
        write, attend = _layer_ops(mx, rows, ea.kv_heads, ea.n_heads, rings.slots + 1, n,
                                   ea.head_dim, dt)  # fmt: skip
        e = [timed(lambda f=f, L=L: [f() for _ in range(L)]) for f in write + attend[:3]]
        bank = LaneBank.of(dec)
        bank.grow(rows, 1024)
        write, attend = _layer_ops(mx, rows, dec.cfg.n_kv_heads, dec.cfg.n_heads, bank.slots, 1,
                                   dec.cfg.head_dim, dt)  # fmt: skip
        D = len(dec.layers)
        d = [timed(lambda f=f, D=D: [f() for _ in range(D)]) for f in write + attend]
        print(f"| {rows} | {t_mel:.1f} | {t_conv:.1f} | {t_enc:.1f} | {e[0]:.1f} / {e[1]:.1f} | "
              f"{e[2]:.1f} / {e[3]:.1f} / {e[4]:.1f} | {d[0]:.1f} / {d[1]:.1f} | "
              f"{d[2]:.1f} / {d[3]:.1f} / {d[4]:.1f} / {d[5]:.1f} |", flush=True)  # fmt: skip


def _layer_ops(mx, rows, kv_heads, heads, slots, n, head_dim, dt):
    """Closures over one layer's cache: ([scatter write, where write], [bool-masked,
    additive-masked, unmasked attention]); the writes keep the buffer (in place if MLX can)."""
    buf = {"k": mx.zeros((rows, kv_heads, slots, head_dim), dt)}
    new = mx.random.normal((rows, kv_heads, n, head_dim)).astype(dt)
    slot = mx.remainder(mx.arange(rows)[:, None] * 7 + mx.arange(n), slots - 1)
    index = mx.broadcast_to(slot[:, None, :, None], new.shape)
    hit = mx.arange(slots)[None, None, :] == slot[:, :, None]  # [rows, n, slots]
    q = mx.random.normal((rows, heads, n, head_dim)).astype(dt)
    keep = mx.random.uniform(shape=(rows, 1, n, slots)) < 0.9
    add = mx.where(keep, 0.0, -mx.inf).astype(dt)
    mx.eval(buf["k"], new, index, hit, q, keep, add)

    def scatter():
        buf["k"] = mx.put_along_axis(buf["k"], index, new, axis=2)
        return buf["k"]

    def where():  # one token a row (n == 1) as a broadcast select over the buffer
        sel = hit[:, None, 0, :, None]
        buf["k"] = mx.where(sel, new[:, :, :1], buf["k"])
        return buf["k"]

    k = buf["k"]

    def attention(mask):
        return lambda: mx.fast.scaled_dot_product_attention(q, k, k, scale=0.1, mask=mask)

    def grouped():  # one query a row: its heads of a kv head as that head's queries
        qg = q.reshape(rows, kv_heads, (heads // kv_heads) * n, head_dim)
        out = mx.fast.scaled_dot_product_attention(qg, k, k, scale=0.1, mask=add)
        return out.reshape(q.shape)

    return [scatter, where], [attention(keep), attention(add), attention(None), grouped]


if __name__ == "__main__":
    main()
