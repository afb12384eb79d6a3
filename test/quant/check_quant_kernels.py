#!/usr/bin/env python3
"""check_quant_kernels.py - sci_infer's dequantization and integer GEMM of every registered type,
judged by independent references (vectors generated here, at test time; nothing committed):

  dequant: random blocks of each type (random bytes, with finite random scale fields)
           -> `quant_probe dequant` must equal gguf-py's numpy dequantize bit for bit.
  gemm:    fused weights of random blocks (mixed types in one weight, as Q4_K_M files have)
           -> `quant_probe gemm` must match float64 numpy on the gguf-py-dequantized weights
           and the activations quantized as the documented scheme says (Q8_0/Q8_1: int8 per 32
           values with d = max|x|/127, Q8_K: per 256; F32 parts: x itself), within the float32
           rounding of a block-ordered FMA chain: |y - ref| <= 4e-6 * sum|w x| (a wrong nibble
           order, scale or min errs by ~sum|w x| itself). The probe itself checks bitwise batch-
           and thread-invariance. K-chunks 1, 2 and 4; a K-chunk that is not a whole number of
           blocks must be refused with a message naming the tensor.

    check_quant_kernels.py --probe build/test/quant_probe --gguf-py $PEER_DIR/llama.cpp/gguf-py
Exit 0 pass, 1 fail.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

ACT = {"F32": "F32", "F16": "F32", "BF16": "F32", "Q4_0": "Q8_0", "Q5_0": "Q8_0", "Q8_0": "Q8_0",
       "MXFP4": "Q8_0", "Q4_1": "Q8_1", "Q5_1": "Q8_1", "Q4_K": "Q8_K", "Q5_K": "Q8_K", "Q6_K": "Q8_K"}
# fp16 scale fields (byte offsets) per block, and the E8M0 exponent of MXFP4.
HALF_FIELDS = {"Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0], "Q4_K": [0, 2],
               "Q5_K": [0, 2], "Q6_K": [208]}


def random_row_bytes(gq, tname, n, rng):
    """Bytes of one row of n elements of type tname: random quants, sane scales."""
    qt = gq.GGMLQuantizationType[tname]
    block, nbytes = gq.GGML_QUANT_SIZES[qt]
    if tname == "F32":
        return rng.standard_normal(n).astype("<f4").view(np.uint8)
    if tname == "F16":
        return rng.standard_normal(n).astype("<f2").view(np.uint8)
    if tname == "BF16":
        u = rng.standard_normal(n).astype("<f4").view("<u4")
        return (u >> 16).astype("<u2").view(np.uint8)
    b = rng.integers(0, 256, size=(n // block, nbytes), dtype=np.uint8)
    if tname == "MXFP4":
        b[:, 0] = rng.integers(118, 131, size=n // block)
    for off in HALF_FIELDS.get(tname, []):
        h = (rng.uniform(0.2, 1.0, n // block) * (0.05 if off == 0 else 0.02)).astype("<f2")
        b[:, off:off + 2] = h.view(np.uint8).reshape(-1, 2)
    return b.reshape(-1)


def gguf_dequant(gq, tname, row, n):
    qt = gq.GGMLQuantizationType[tname]
    return np.asarray(gq.quants.dequantize(row.reshape(1, -1), qt), dtype=np.float32).reshape(n)


def quantize_acts(x, act):
    """The documented activation scheme, in numpy float32: returns the values the integers stand for."""
    if act == "F32":
        return x.astype(np.float64)
    B = 256 if act == "Q8_K" else 32
    blk = x.astype(np.float32).reshape(x.shape[0], -1, B)
    amax = np.abs(blk).max(axis=2, keepdims=True)
    d = (amax / np.float32(127.0)).astype(np.float32)
    inv = np.where(d != 0, np.float32(1.0) / np.where(d != 0, d, np.float32(1)), np.float32(0)).astype(np.float32)
    q = np.clip(np.rint((blk * inv).astype(np.float32)), -127, 127)
    return (q.astype(np.float64) * d.astype(np.float64)).reshape(x.shape)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", required=True)
    ap.add_argument("--gguf-py", required=True)
    a = ap.parse_args()
    sys.path.insert(0, a.gguf_py)
    import gguf  # noqa: E402
    import gguf.quants  # noqa: E402,F401

    rng = np.random.default_rng(11)
    ok = True
    work = tempfile.mkdtemp(prefix="quant_")
    p = lambda name: os.path.join(work, name)  # noqa: E731
    types = list(ACT)

    # ---- dequantization, bit for bit ----
    for t in types:
        n = 256 * 24
        row = random_row_bytes(gguf, t, n, rng)
        row.tofile(p("in.bin"))
        r = run([a.probe, "dequant", t, str(n), p("in.bin"), p("out.bin")])
        if r.returncode != 0:
            print(f"FAIL dequant {t}: probe exit {r.returncode}: {r.stderr.strip()}")
            ok = False
            continue
        got = np.fromfile(p("out.bin"), dtype="<f4")
        ref = gguf_dequant(gguf, t, row, n)
        same = np.array_equal(got.view("<u4"), ref.view("<u4"))
        bad = int(np.sum(got.view("<u4") != ref.view("<u4")))
        print(f"{'PASS' if same else 'FAIL'} dequant {t:5s}: {n} values vs gguf-py, {bad} differ in bits"
              f" (max|diff| {float(np.max(np.abs(got - ref))):.3e})")
        ok &= same

    # ---- integer GEMM vs float64 numpy ----
    K, M = 512, 20   # M > kMaxDotRows (16): two row tiles
    cases = [[t] for t in types] + [["Q4_K", "Q4_K", "Q6_K"], ["Q5_0", "Q8_0", "F16", "MXFP4", "Q4_1"],
                                    ["Q6_K", "Q5_K", "Q5_1", "BF16"]]
    x = rng.standard_normal((M, K)).astype(np.float32)
    x.tofile(p("x.bin"))
    for parts in cases:
        nouts = [5 + i for i in range(len(parts))]
        rows, wdeq, xdeq = [], [], []
        for t, nn in zip(parts, nouts):
            for _ in range(nn):
                row = random_row_bytes(gguf, t, K, rng)
                rows.append(row)
                wdeq.append(gguf_dequant(gguf, t, row, K).astype(np.float64))
                xdeq.append(quantize_acts(x, ACT[t]))
        np.concatenate(rows).tofile(p("w.bin"))
        W = np.stack(wdeq)                       # (N, K)
        ref = np.stack([xdeq[j] @ W[j] for j in range(W.shape[0])], axis=1)  # (M, N)
        scale = np.stack([np.abs(xdeq[j]) @ np.abs(W[j]) for j in range(W.shape[0])], axis=1)
        for chunks in (1, 2, 4):
            label = f"gemm {'|'.join(parts)} K={K} M={M} chunks={chunks}"
            r = run([a.probe, "gemm", ",".join(parts), ",".join(map(str, nouts)), str(K), str(M), str(chunks), "3",
                     p("w.bin"), p("x.bin"), p("y.bin")])
            whole = all(K // chunks % (256 if ACT[t] == "Q8_K" else 1) == 0 for t in parts)
            if not whole:   # 128-column chunks of a 256-block type: must be refused, naming the part
                refused = r.returncode == 3 and "cannot be reduced over" in r.stderr and "part" in r.stderr
                print(f"{'PASS' if refused else 'FAIL'} {label}: refused ({r.stderr.strip()[:160]})")
                ok &= refused
                continue
            if r.returncode != 0:
                print(f"FAIL {label}: probe exit {r.returncode}: {r.stderr.strip()}")
                ok = False
                continue
            y = np.fromfile(p("y.bin"), dtype="<f4").reshape(M, -1).astype(np.float64)
            err = np.abs(y - ref)
            rel = float(np.max(err / scale))
            good = bool(np.all(err <= 4e-6 * scale))
            print(f"{'PASS' if good else 'FAIL'} {label}: max|diff| {err.max():.3e}, max |diff|/sum|wx| {rel:.2e}"
                  f" (limit 4e-6); batch/thread invariance checked by the probe")
            ok &= good
    # ---- the tuned kernels (VNNI Q8_0, fixed-order float panels) and the registry's kernels give
    #      a part the same bits: the same Q8_0 / F16 rows alone and fused with a Q4_0 part ----
    for t in ("Q8_0", "F16", "BF16"):
        own = np.concatenate([random_row_bytes(gguf, t, K, rng) for _ in range(6)])
        extra = np.concatenate([random_row_bytes(gguf, "Q4_0", K, rng) for _ in range(3)])
        outs = []
        for parts, nouts, w in (([t], [6], own), ([t, "Q4_0"], [6, 3], np.concatenate([own, extra]))):
            w.tofile(p("w.bin"))
            r = run([a.probe, "gemm", ",".join(parts), ",".join(map(str, nouts)), str(K), str(M), "2", "2",
                     p("w.bin"), p("x.bin"), p("y.bin")])
            if r.returncode != 0:
                print(f"FAIL same-bits {t}: probe exit {r.returncode}: {r.stderr.strip()}")
                ok = False
                break
            outs.append(np.fromfile(p("y.bin"), dtype="<u4").reshape(M, -1)[:, :6])
        else:
            same = np.array_equal(outs[0], outs[1])
            print(f"{'PASS' if same else 'FAIL'} {t} rows: tuned kernel alone and registry kernel in a mixed fused"
                  f" weight give {'the same' if same else 'DIFFERENT'} bits")
            ok &= same
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
