"""Does ``mx.compile`` cut the host time of the server's bank calls? (issue 21)

python benchmarks/lab/compile_lab.py [--size small|full] [--rows 16,64] [--slots 1024]

The model is built in memory with random weights (bfloat16, projections fused as a loaded
model's are; no checkpoint on disk). For each row count, one FrontBank encoder call (4 conv
frames a row through the encoder layers over RowRings, the final norm and the adapter) and
one DecoderBank step (every layer over a LaneBank of ``--slots`` positions a row), each
written four ways:

- ``ops``: as the banks run them (the encoder op by op; the decoder's layer halves compiled);
- ``halves``: each layer's work before and after its KV write and attention compiled;
- ``layer``: each whole layer compiled, its KV write and attention inside;
- ``all``: the whole call (every layer) one compiled function: for the encoder, the front
  bank's own ``encode_rows`` (its slots and additive mask inside the graph).

Each figure: host ms (building the graph and queueing it, ``async_eval``) / total ms (until
the device is done), medians of 10 runs after 3 warm ones; and the largest difference from
``ops`` of the call's output (the same maths: 0 unless compiled kernels round differently),
and the peak memory above the start (a KV buffer copied instead of written in place shows).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def once(mx, fn) -> tuple[float, float, object]:
    """(host s to build and queue, s until the device is done, the output) of one call of
    ``fn`` (which returns the arrays to evaluate), the device idle before it."""
    mx.synchronize()
    t = time.perf_counter()
    out = fn()
    mx.async_eval(out)
    h = time.perf_counter()
    mx.synchronize()
    return h - t, time.perf_counter() - t, out


def timed(mx, fn, runs: int = 10) -> tuple[float, float, object, float]:
    """(host ms, total ms, the last output, peak MB above the start) of ``fn`` (which returns
    the arrays to evaluate)."""
    host, total = [], []
    mx.synchronize()
    start = mx.get_active_memory()
    mx.reset_peak_memory()
    out = None
    for i in range(runs + 3):
        h, t, out = once(mx, fn)
        if i >= 3:
            host.append(h)
            total.append(t)
    peak = (mx.get_peak_memory() - start) / 2**20
    return 1000 * statistics.median(host), 1000 * statistics.median(total), out, peak


def encoder_variants(mx, enc, adapter):
    """name -> fn(x, rings, layers) giving the call's embeddings (rings updated in place);
    "all" is the front bank's own ``encode_rows``."""
    from voxtral_mlx.model.encoder_rows import encode_rows

    eps = enc.args.norm_eps

    def pre_fn(layer):
        def pre(x, offset):
            return layer.attention.project(mx.fast.rms_norm(x, layer.attention_norm.weight, eps),
                                           offset)  # fmt: skip

        return pre

    def post_fn(layer):
        def post(x, attn):
            h = x + layer.attention.output(attn)
            return h + layer.feed_forward(mx.fast.rms_norm(h, layer.ffn_norm.weight, eps))

        return post

    def attend(layer, q, k, v, kbuf, vbuf, index, mask):
        kidx = mx.broadcast_to(index, k.shape[:3] + (k.shape[3],))
        vidx = mx.broadcast_to(index, v.shape[:3] + (v.shape[3],))
        kbuf = mx.put_along_axis(kbuf, kidx, k, axis=2)
        vbuf = mx.put_along_axis(vbuf, vidx, v, axis=2)
        out = mx.fast.scaled_dot_product_attention(q, kbuf, vbuf, scale=layer.attention.scale,
                                                   mask=mask)  # fmt: skip
        return out, kbuf, vbuf

    pres = [mx.compile(pre_fn(layer)) for layer in enc.layers]
    posts = [mx.compile(post_fn(layer)) for layer in enc.layers]

    def whole_layer(layer):
        pre, post = pre_fn(layer), post_fn(layer)

        def run(x, offset, index, mask, kbuf, vbuf):
            q, k, v = pre(x, offset)
            out, kbuf, vbuf = attend(layer, q, k, v, kbuf, vbuf, index, mask)
            return post(x, out), kbuf, vbuf

        return run

    layers_c = [mx.compile(whole_layer(layer)) for layer in enc.layers]
    L = len(enc.layers)

    def ops(x, rings, layers):
        return adapter(enc.transformer(x, layers))

    def halves(x, rings, layers):
        first = layers[0]
        for i, layer in enumerate(enc.layers):
            q, k, v = pres[i](x, first.offset)
            out, rings.ks[i], rings.vs[i] = attend(layer, q, k, v, rings.ks[i], rings.vs[i],
                                                   first._index, first._mask)  # fmt: skip
            x = posts[i](x, out)
        return adapter(enc.norm(x))

    def layer(x, rings, layers):
        first = layers[0]
        for i in range(L):
            x, rings.ks[i], rings.vs[i] = layers_c[i](x, first.offset, first._index, first._mask,
                                                      rings.ks[i], rings.vs[i])  # fmt: skip
        return adapter(enc.norm(x))

    def all_(x, rings, layers):  # what the front bank runs (its plan again, in the graph)
        n = x.shape[1]
        active = [True] * x.shape[0]
        rings.offsets = [o - n for o in rings.offsets]  # ``layers`` moved them on already
        return adapter(encode_rows(enc, rings, x, active))

    return {"ops": ops, "halves": halves, "layer": layer, "all": all_}


def decoder_variants(mx, dec, stepper):
    halves_ = stepper._halves
    L = len(halves_)
    scales = [layer.attention.scale for layer in dec.layers]

    def attend(bank_kv, i, q, k, v, index, mask, kbuf, vbuf):
        kidx = mx.broadcast_to(index, k.shape)
        kbuf = mx.put_along_axis(kbuf, kidx, k, axis=2)
        vbuf = mx.put_along_axis(vbuf, kidx, v, axis=2)
        rows, heads, _, dim = q.shape
        grouped = q.reshape(rows, bank_kv, heads // bank_kv, dim)
        out = mx.fast.scaled_dot_product_attention(grouped, kbuf, vbuf, scale=scales[i], mask=mask)
        return out.reshape(q.shape), kbuf, vbuf

    kv = dec.cfg.n_kv_heads

    def one_layer(i):
        pre, post = halves_[i]

        def run(x, offset, index, mask, kbuf, vbuf):
            q, k, v = pre(x, offset)
            out, kbuf, vbuf = attend(kv, i, q, k, v, index, mask, kbuf, vbuf)
            return post(x, out), kbuf, vbuf

        return run

    plain = [one_layer(i) for i in range(L)]
    layers_c = [mx.compile(f) for f in plain]

    def everything(x, offset, index, mask, *bufs):
        ks, vs = list(bufs[:L]), list(bufs[L:])
        for i, run in enumerate(plain):
            x, ks[i], vs[i] = run(x, offset, index, mask, ks[i], vs[i])
        return (stepper._head(x), *ks, *vs)

    everything_c = mx.compile(everything)

    def ops(x, bank):
        return stepper.step_bank(bank, x, [True] * bank.rows)

    def layer(x, bank):
        offset, index, mask = bank.plan()
        for i in range(L):
            x, bank.ks[i], bank.vs[i] = layers_c[i](x, offset, index, mask, bank.ks[i], bank.vs[i])
        bank.advance([True] * bank.rows)
        return stepper._head(x)

    def all_(x, bank):
        offset, index, mask = bank.plan()
        out = everything_c(x, offset, index, mask, *bank.ks, *bank.vs)
        bank.ks, bank.vs = list(out[1 : 1 + L]), list(out[1 + L :])
        bank.advance([True] * bank.rows)
        return out[0]

    return {"ops": ops, "halves": ops, "layer": layer, "all": all_}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=["small", "full"], default="small")
    ap.add_argument("--rows", default="16,64")
    ap.add_argument("--slots", type=int, default=1024)
    args = ap.parse_args()

    # isort: off
    import voxtral_mlx  # noqa: F401  (first: on Linux it loads OpenBLAS before mlx.core)
    import mlx.core as mx
    from fullsize import random_model

    # isort: on
    from voxtral_mlx.decode.audio_pipeline import LIVE_BLOCK
    from voxtral_mlx.model.encoder_ring import RowRings
    from voxtral_mlx.model.fast_step import FastStepper
    from voxtral_mlx.model.lane_bank import LaneBank

    model = random_model(args.size)
    enc, dec, ea = model.encoder, model.decoder, model.encoder.args
    dt = mx.bfloat16
    names = ["ops", "halves", "layer", "all"]
    print(f"device {mx.default_device()}, mlx {mx.__version__}, {args.size}, bfloat16, fused")
    print("| rows | call | " + " | ".join(f"{n}: host / total ms (diff)" for n in names) + " |")
    print("|---|---|" + "---|" * len(names))
    stepper = FastStepper.for_delay(dec, 6)
    for rows in (int(r) for r in args.rows.split(",")):
        n = 4
        x = (mx.random.normal((rows, n, ea.dim)) * 0.5).astype(dt)
        variants = encoder_variants(mx, enc, model.adapter)
        cells, ref = [], None
        for name in names:
            rings = RowRings(len(enc.layers), 1, ea.sliding_window, LIVE_BLOCK, ea.kv_heads,
                             ea.head_dim, dt)  # fmt: skip
            rings.grow(rows)
            active = [True] * rows

            def call(fn=variants[name], rings=rings, active=active, x=x, n=n, rows=rows):
                rings.offsets = [37] * rows  # the same positions every run
                return [fn(x, rings, rings.layers(active, n))] + rings.ks + rings.vs

            host, total, out, peak = timed(mx, call)
            emb = out[0].astype(mx.float32)
            ref = emb if ref is None else ref
            diff = mx.max(mx.abs(emb - ref)).item()
            cells.append(f"{host:.1f} / {total:.1f} ({diff:.2g}; +{peak:.0f} MB)")
        print(f"| {rows} | encoder | " + " | ".join(cells) + " |", flush=True)

        xd = (mx.random.normal((rows, 1, dec.cfg.dim)) * 0.5).astype(dt)
        variants = decoder_variants(mx, dec, stepper)
        cells, ref = [], None
        for name in names:
            bank = LaneBank.of(dec)
            bank.grow(rows, args.slots)

            def step(fn=variants[name], bank=bank, xd=xd, rows=rows):
                bank.pos = [args.slots // 2] * rows
                return [fn(xd, bank)] + bank.ks + bank.vs

            host, total, out, peak = timed(mx, step)
            tok = out[0]
            ref = tok if ref is None else ref
            same = mx.mean((tok == ref).astype(mx.float32)).item()
            cells.append(f"{host:.1f} / {total:.1f} ({100 * same:.0f} % same; +{peak:.0f} MB)")
        print(f"| {rows} | decoder | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
