#!/usr/bin/env python3
"""compare_arch_logits.py - sci-infer vs llama.cpp at EVERY position, for any architecture.

    compare_arch_logits.py --sci-infer build/apps/launcher/sci-infer --workdir W \
        (--model M.gguf | --make "--arch qwen3 --preset tiny --head-dim 24 ...") \
        [--n-tokens 44] [--atol 1e-3]

--make's string is passed to `sci-infer make-model` (with --out added). The sequence (44 tokens
by default) crosses a 32-position KV page. llama.cpp runs with an F32 KV cache and flash
attention off (test/peer/llamacpp_logits.mjs), so both sides are F32 references of the model.
Prints the max |diff| over all positions and vocabulary, the worst cosine and the argmax
agreement. Exit 0 pass, 1 fail, 2 usage error, 77 peer missing (CTest skip; peer_gate.sh turns
it into a failure under CI=true).
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare_logits as cl  # noqa: E402
import gguf_min  # noqa: E402


def peer_all_positions(model, tokens, peer_dir, out_file, n_vocab):
    script = os.path.join(HERE, "..", "peer", "llamacpp_logits.mjs")
    env = dict(os.environ, NLC=cl.nlc_path(peer_dir))
    cmd = ["node", script, "--model", os.path.abspath(model), "--threads", "2", "--out", out_file,
           "--tokens", ",".join(map(str, tokens)), "--kv-type", "f32", "--all-positions"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"llama.cpp peer failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-3000:]}")
    out = np.fromfile(out_file, dtype="<f4").astype(np.float64)
    if out.size != n_vocab * len(tokens) or np.isnan(out).any():
        raise RuntimeError(f"llama.cpp returned {out.size} logits ({int(np.isnan(out).sum())} missing), "
                           f"expected {n_vocab} x {len(tokens)}")
    return out.reshape(len(tokens), n_vocab)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sci-infer", required=True)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model")
    src.add_argument("--make", help="arguments of sci-infer make-model (one string)")
    ap.add_argument("--n-tokens", type=int, default=44)
    ap.add_argument("--atol", type=float, default=1e-3)
    ap.add_argument("--peer-dir", default=os.environ.get("PEER_DIR", "/tmp/peer"))
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if not cl.peer_available(a.peer_dir):
        print(f"SKIPPED: llama.cpp peer not installed under {a.peer_dir}")
        return cl.SKIP
    if a.workdir:
        os.makedirs(a.workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="arch_", dir=a.workdir)
    try:
        model = a.model
        if a.make:
            model = os.path.join(work, "model.gguf")
            cl.run([a.sci_infer, "make-model"] + shlex.split(a.make) + ["--out", model], "sci-infer make-model")
        g = gguf_min.GGUFFile(model)
        n_vocab = g.tensors["token_embd.weight"].ne[1]
        arch = g.metadata.get("general.architecture") if hasattr(g, "metadata") else "?"
        del g
        # A fixed, spread-out token sequence (no BOS semantics needed: logits of raw ids).
        tokens = [(1 + 7919 * i) % n_vocab for i in range(a.n_tokens)]
        got = cl.engine_logits(a.sci_infer, model, tokens, os.path.join(work, "engine.f32"), n_vocab, True)
        ref = peer_all_positions(model, tokens, a.peer_dir, os.path.join(work, "peer.f32"), n_vocab)
        r = cl.compare(ref, got, a.atol, None)
        label = a.make or os.path.basename(model)
        print(f"sci-infer vs llama.cpp (KV f32) all {len(tokens)} positions [{arch}] {label}: {cl.fmt(r)}")
        # A real comparison: the logits must vary across positions (a constant row would hide a bug).
        spread = float(np.abs(ref - ref.mean(axis=0)).max())
        if spread < 1e-2:
            print(f"FAIL: llama.cpp's logits barely change over positions ({spread:.2e}): the test sees nothing")
            return 1
        print("RESULT:", "PASS" if r["ok"] else "FAIL")
        return 0 if r["ok"] else 1
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
