#!/usr/bin/env python3
"""quant_models.py - whole quantized models, made by llama.cpp's own tools, against llama.cpp.

    quant_models.py --sci-infer BIN --type Q4_0|Q4_1|Q5_0|Q5_1|Q8_0|MXFP4|Q4_K_M|Q5_K_M|Q6_K \
        [--llama-quantize BIN] [--peer-dir /tmp/peer] [--workdir D] [--untied|--tied]

1. A random llama model (dim 256, 4 heads / 2 KV heads, FFN 512, 2 layers, 512 tokens: every row
   a multiple of 256, so the K-quants apply everywhere) is written in F32 by gguf-py's GGUFWriter.
2. The quantized file: gguf-py's quantize (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, MXFP4: every 2-D tensor)
   or llama.cpp's `llama-quantize` (Q4_K_M, Q5_K_M, Q6_K: its own per-tensor type choices, e.g.
   Q6_K attn_v / ffn_down in some layers and a Q6_K output next to Q4_K weights).
3. llama.cpp's dequantized F32 file: every tensor of (2) through gguf-py's dequantize (bit-exact
   to ggml's dequantize_row_*).
4. Logits at every position of a 48-token sequence: sci-infer on (2); llama.cpp (node-llama-cpp,
   F32 KV cache, test/peer/llamacpp_logits.mjs) on (2) and on (3).
5. sci-infer --gemm onednn on (2) (weights dequantized at load) vs llama.cpp on (3): F32
   agreement, max|diff| <= 2e-3 (compare_logits.py's F32 limit).
Pass: (5), and per-position cosine >= 0.999 and the same argmax at every position, for sci-infer(2) vs
llama.cpp(3) and for sci-infer(2) vs llama.cpp(2), except at near-ties: positions whose reference
top-2 gap is below 0.09 x that position's RMS logit (what a difference at the cosine limit could
flip; random-weight models have a few). llama.cpp's own quantized run against its F32 run is
printed for scale. Prints max|diff|, worst cosine and the flips of each.
Exit 0 pass, 1 fail, 77 a peer tool is missing (peer_gate.sh turns that into skip / CI failure).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import make_gguf_py  # noqa: E402  (its llama metadata and tokenizer conventions)

SKIP = 77
CFG = dict(n_vocab=512, dim=256, n_layers=2, n_head=4, n_head_kv=2, ffn=512, ctx=256, rope_base=10000.0, eps=1e-5)
PY_TYPES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "MXFP4"]
LQ_TYPES = ["Q4_K_M", "Q5_K_M", "Q6_K"]
MIN_COS = 0.999
TIE_MARGIN = 0.09
F32_ATOL = 2e-3  # compare_logits.py's limit for F32 models against llama.cpp


def random_weights(c, seed, untied):
    rng = np.random.default_rng(seed)
    r = lambda shape, s: (rng.standard_normal(shape) * s).astype(np.float32)  # noqa: E731
    hd = c["dim"] // c["n_head"]
    kvd = c["n_head_kv"] * hd
    w = {"token_embd.weight": r((c["n_vocab"], c["dim"]), 0.5)}
    for il in range(c["n_layers"]):
        p = f"blk.{il}."
        w[p + "attn_norm.weight"] = 1.0 + r(c["dim"], 0.1)
        w[p + "attn_q.weight"] = r((c["dim"], c["dim"]), c["dim"] ** -0.5)
        w[p + "attn_k.weight"] = r((kvd, c["dim"]), c["dim"] ** -0.5)
        w[p + "attn_v.weight"] = r((kvd, c["dim"]), c["dim"] ** -0.5)
        w[p + "attn_output.weight"] = r((c["dim"], c["dim"]), c["dim"] ** -0.5)
        w[p + "ffn_norm.weight"] = 1.0 + r(c["dim"], 0.1)
        w[p + "ffn_gate.weight"] = r((c["ffn"], c["dim"]), c["dim"] ** -0.5)
        w[p + "ffn_up.weight"] = r((c["ffn"], c["dim"]), c["dim"] ** -0.5)
        w[p + "ffn_down.weight"] = r((c["dim"], c["ffn"]), c["ffn"] ** -0.5)
    w["output_norm.weight"] = 1.0 + r(c["dim"], 0.1)
    if untied:
        w["output.weight"] = r((c["n_vocab"], c["dim"]), 0.5)
    return w


def metadata(c):
    V = c["n_vocab"]
    toks = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    toks += [f"\u2581t{i}" for i in range(V - len(toks))]
    ttypes = [2, 3, 3] + [6] * 256 + [1] * (V - 259)
    scores = [0.0] * 259 + [-float(i) for i in range(V - 259)]
    kvs = make_gguf_py.llama_kvs(c, "quant-test", toks, scores, ttypes)
    return [kv for kv in kvs if kv[0] not in ("general.architecture", "general.alignment")]


def write(gguf, path, kvs, tensors):
    """tensors: [(name, array, qtype or None)]: arrays as gguf.quants.quantize returns them."""
    w = gguf.GGUFWriter(path, "llama")
    for key, vtype, v in kvs:
        if vtype == 9:
            etype, items = v
            w.add_key_value(key, items, gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType(etype))
        else:
            w.add_key_value(key, v, gguf.GGUFValueType(vtype))
    for name, arr, qt in tensors:
        w.add_tensor(name, arr, raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def dequantized_copy(gguf, src, dst, kvs):
    r = gguf.GGUFReader(src)
    tensors, types = [], {}
    for t in r.tensors:
        types[t.name] = t.tensor_type.name
        data = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        tensors.append((t.name, data.reshape(tuple(reversed([int(n) for n in t.shape]))), None))
    write(gguf, dst, kvs, tensors)
    return types


def run(cmd, what, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{what} failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-2000:]}{p.stderr[-3000:]}")
    return p


def engine_logits(binary, model, tokens, out, n_vocab, gemm=None):
    run([binary, "logits", "--model", model, "--tokens", ",".join(map(str, tokens)), "--out", out,
         "--all-positions"] + (["--gemm", gemm] if gemm else []), "sci-infer logits")
    return np.fromfile(out, dtype="<f4").astype(np.float64).reshape(len(tokens), n_vocab)


def peer_logits(peer_dir, model, tokens, out, n_vocab):
    env = dict(os.environ, NLC=os.path.join(peer_dir, "npm", "node_modules", "node-llama-cpp"))
    run(["node", os.path.join(HERE, "..", "peer", "llamacpp_logits.mjs"), "--model", model, "--tokens",
         ",".join(map(str, tokens)), "--out", out, "--kv-type", "f32", "--all-positions", "--threads", "2"],
        "llama.cpp logits", env)
    got = np.fromfile(out, dtype="<f4").astype(np.float64).reshape(len(tokens), n_vocab)
    if np.isnan(got).any():
        raise RuntimeError("llama.cpp returned NaN logits (missing positions?)")
    return got


def compare(ref, got):
    cos = np.sum(ref * got, axis=1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1))
    top2 = np.sort(ref, axis=1)[:, -2:]
    gap = top2[:, 1] - top2[:, 0]
    same = ref.argmax(axis=1) == got.argmax(axis=1)
    # A near-tie: a top-2 gap that a difference at the cosine limit could close (a relative
    # error of sqrt(2 (1 - 0.999)) = 4.5% per logit, twice: 0.09 x the position's RMS logit).
    # Random-weight models have such ties; llama.cpp's quantized and F32 runs flip them too.
    near = gap < TIE_MARGIN * np.sqrt(np.mean(ref * ref, axis=1))
    flips = ~same
    return dict(max_abs=float(np.abs(ref - got).max()), cos=float(cos.min()), argmax=int(same.sum()),
                n=ref.shape[0], gap=float(gap.min()), flips=int(flips.sum()),
                flip_gap=float(gap[flips].max()) if flips.any() else 0.0,
                ok=bool(cos.min() >= MIN_COS and not np.any(flips & ~near)))


def fmt(r, ref):
    return (f"cos {r['cos']:.6f} (limit {MIN_COS}), argmax {r['argmax']}/{r['n']} same"
            + (f" (flips only at near-ties: largest flipped top-2 gap {r['flip_gap']:.2e})" if r["flips"] and r["ok"]
               else (f" ({r['flips']} flips, largest flipped top-2 gap {r['flip_gap']:.2e})" if r["flips"] else ""))
            + f", max|diff| {r['max_abs']:.3e} (min top-2 gap {r['gap']:.2e}, |ref|max {np.abs(ref).max():.2f})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sci-infer", required=True)
    ap.add_argument("--type", required=True, choices=PY_TYPES + LQ_TYPES)
    ap.add_argument("--llama-quantize", default=os.environ.get("LLAMA_QUANTIZE"))
    ap.add_argument("--peer-dir", default=os.environ.get("PEER_DIR", "/tmp/peer"))
    ap.add_argument("--workdir")
    ap.add_argument("--tied", action="store_true", help="no output.weight (default: untied)")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.peer_dir, "llama.cpp", "gguf-py"))
    try:
        import gguf  # noqa: E402
        import gguf.quants  # noqa: E402,F401
    except ImportError as e:
        print(f"SKIPPED: gguf-py not importable from {a.peer_dir}/llama.cpp/gguf-py ({e})")
        return SKIP
    if a.type in LQ_TYPES and not (a.llama_quantize and os.access(a.llama_quantize, os.X_OK)):
        print("SKIPPED: llama-quantize not available (scripts/peer_quantize_setup.sh builds it)")
        return SKIP
    if a.workdir:
        os.makedirs(a.workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix=f"qm_{a.type}_", dir=a.workdir)
    try:
        return check(a, gguf, work)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


def check(a, gguf, work):
    c = CFG
    w = random_weights(c, a.seed, untied=not a.tied)
    kvs = metadata(c)
    base = os.path.join(work, "base_f32.gguf")
    quant = os.path.join(work, f"model_{a.type}.gguf")
    deq = os.path.join(work, f"model_{a.type}_dequant_f32.gguf")
    write(gguf, base, kvs, [(n, x, None) for n, x in w.items()])
    if a.type in PY_TYPES:
        qt = gguf.GGMLQuantizationType[a.type]
        write(gguf, quant, kvs, [(n, x, None) if x.ndim == 1 else (n, gguf.quants.quantize(x, qt), qt)
                                 for n, x in w.items()])
        maker = "gguf-py quantize"
    else:
        run([a.llama_quantize, base, quant, a.type], "llama-quantize")
        maker = "llama-quantize"
    types = dequantized_copy(gguf, quant, deq, kvs)
    mix = {}
    for n, t in types.items():
        if not n.endswith("norm.weight"):
            mix.setdefault(t, []).append(n)
    print(f"{a.type} by {maker}: " + "; ".join(f"{t}: {len(ns)} tensors" for t, ns in sorted(mix.items())))
    for t, ns in sorted(mix.items()):
        if len(mix) > 1 and len(ns) <= 4:
            print(f"  {t}: {', '.join(ns)}")

    V = c["n_vocab"]
    tokens = [(1 + 37 * i + (i * i) % 11) % V for i in range(48)]
    eng = engine_logits(a.sci_infer, quant, tokens, os.path.join(work, "eng.f32"), V)
    ok = True
    refs = {}
    for what, model in (("llama.cpp on the dequantized F32 file", deq), ("llama.cpp on the same quantized file", quant)):
        ref = refs[model] = peer_logits(a.peer_dir, model, tokens, os.path.join(work, "peer.f32"), V)
        r = compare(ref, eng)
        ok &= r["ok"]
        print(f"{'PASS' if r['ok'] else 'FAIL'} sci-infer({a.type}) vs {what}: {fmt(r, ref)}")
    # The F32 backends dequantize the file at load (decode_row, the registry): on the same file
    # they must be llama.cpp's F32 run on the dequantized copy, to F32 rounding. (oneDNN does so
    # for every type; Kokkos keeps an integer path for Q8_0.)
    kok = engine_logits(a.sci_infer, quant, tokens, os.path.join(work, "eng_onednn.f32"), V, gemm="onednn")
    d = float(np.abs(kok - refs[deq]).max())
    ok &= d <= F32_ATOL
    print(f"{'PASS' if d <= F32_ATOL else 'FAIL'} sci-infer --gemm onednn ({a.type}, dequantized at load) vs llama.cpp on the"
          f" dequantized F32 file: max|diff| {d:.3e} (limit {F32_ATOL:.0e})")
    # For scale, not judged: llama.cpp's own quantized run against its own F32 run.
    print(f"info llama.cpp({a.type}) vs llama.cpp on the dequantized F32 file: {fmt(compare(refs[deq], refs[quant]), refs[deq])}")
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
