#!/usr/bin/env python3
"""Tests on the trained demo model (examples/train_demo_model/demo-model-f16.gguf, ~2 M params,
KJV Bible): things a random-weight model cannot show.

  greedy_llamacpp  64 greedy tokens for 10 prompts equal llama.cpp's, F32 / F16 / Q8_0 (the F32 and
                   Q8_0 files are made from the committed F16 one by make_gguf_py.convert); llama.cpp's
                   tokenization of each prompt equals sci-infer's. Run through test/peer/peer_gate.sh.
  score_shuffled   `run --task score`: held-out verses have a lower mean log-loss than the same verses
                   with their words shuffled (numpy's shuffle, an independent corruption).
  perplexity       held-out perplexity of F32 / F16 / Q8_0 within stated bounds of each other, and the
                   F32 one equal to the float64 numpy reference (reference_llama.py) on a few verses.
  reproducible     generate (sampled) outputs identical for mpiexec -n 1 --max-batch 1 --threads 1,
                   -n 2 --max-batch 5 and -n 1 --max-batch 16 --threads 2; score the same for -n 1
                   --max-batch 1 and -n 2 --max-batch 7; `verify` re-runs records bit for bit.
  dictionary_words sampled text with the demo's settings is mostly words of /usr/share/dict/words.
"""
import json
import math
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "python"))
from launcher_support import assert_same_results, main, results, sh  # noqa: E402
import make_gguf_py  # noqa: E402

RECIPE = os.path.join(ROOT, "examples", "train_demo_model")
MODEL_F16 = os.path.join(RECIPE, "demo-model-f16.gguf")
HELDOUT = os.path.join(RECIPE, "heldout.txt")
OPENINGS = os.path.join(RECIPE, "openings.txt")
DICT = "/usr/share/dict/words"
N_SCORE = 64           # held-out verses scored (of 314): enough for a stable mean, fast
DEMO_SAMPLING = ["--temperature", "0.7", "--top-k", "40", "--max-new-tokens", "48"]

# Perplexity bounds, relative to F32 (measured values in examples/train_demo_model/README.md).
PPL_REL = {"f16": 0.005, "q8_0": 0.02}


def heldout(n=N_SCORE):
    with open(HELDOUT, encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip()][:n]


def openings():
    with open(OPENINGS, encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip()]


def write_prompts(path, prompts, **datasets):
    with h5py.File(path, "w") as f:
        f.create_dataset("prompts", data=prompts, dtype=h5py.string_dtype("utf-8"))
        for k, v in datasets.items():
            f[k] = v
    return path


def model_file(c, dtype):
    """The demo model as dtype: the committed F16 file, or converted from it into the work dir."""
    if dtype == "f16":
        return MODEL_F16
    p = c.path(f"demo-{dtype}.gguf")
    if not os.path.exists(p):
        make_gguf_py.convert(MODEL_F16, p, dtype, name=f"sci-infer demo kjv-2m {dtype}")
    return p


def run(c, model, inp, out, n=1, *extra, threads=1):
    # One thread per rank by default: on a shared 2-core machine spinning threads only slow a
    # model this small down (results do not depend on the thread count; case_reproducible checks).
    return sh([c.mpiexec, "-n", n, c.bin, "run", "-m", model, "-i", inp, "-o", out, "--overwrite",
               "--progress-seconds", "60", "--threads", threads, *extra])


def score_losses(c, model, prompts, tag):
    """Per verse: (sum of -log p over its scored tokens, number of scored tokens)."""
    inp = write_prompts(c.path(f"score_{tag}.h5"), prompts)
    out = c.path(f"score_{tag}_out.h5")
    run(c, model, inp, out, 1, "--task", "score")
    r = results(out, ["logprobs", "status"])
    assert all(int(s) == 0 for s in r["status"]), (tag, r["status"])
    return [(-float(np.sum(lp.astype(np.float64))), lp.size) for lp in r["logprobs"]]


def mean_loss(per_verse):
    return sum(s for s, _ in per_verse) / sum(n for _, n in per_verse)


# ---- cases ----

def case_score_shuffled(c):
    real = heldout()
    rng = np.random.default_rng(12345)
    shuffled = []
    for line in real:
        w = line.split()
        for _ in range(10):            # a permutation that actually moves something
            p = list(rng.permutation(len(w)))
            if p != sorted(p) or len(w) < 2:
                break
        shuffled.append(" ".join(w[i] for i in p))
    a = score_losses(c, MODEL_F16, real, "real")
    b = score_losses(c, MODEL_F16, shuffled, "shuffled")
    la, lb = mean_loss(a), mean_loss(b)
    # Per verse, the total loss (same words, so nearly the same tokens) of the real order should win.
    wins = sum(x[0] < y[0] for x, y in zip(a, b))
    print(f"mean log-loss per token: held-out {la:.4f}, shuffled {lb:.4f}; real order better on {wins}/{len(a)} verses")
    assert la < lb - 0.3, f"held-out loss {la:.4f} is not clearly below the shuffled {lb:.4f}"
    assert wins >= 0.9 * len(a), f"real order better on only {wins}/{len(a)} verses"


def case_perplexity(c):
    size = os.path.getsize(MODEL_F16)
    assert size < 10 * 2**20, f"{MODEL_F16}: {size} bytes, the bundled model must stay under 10 MiB"
    prompts = heldout()
    ppl = {}
    for dt in ("f32", "f16", "q8_0"):
        ppl[dt] = math.exp(mean_loss(score_losses(c, model_file(c, dt), prompts, dt)))
    line = ", ".join(f"{k} {v:.3f}" for k, v in ppl.items())
    print(f"held-out perplexity ({len(prompts)} verses): {line}")
    for dt, rel in PPL_REL.items():
        d = abs(ppl[dt] / ppl["f32"] - 1)
        print(f"  {dt}: {100 * d:.3f}% from F32 (bound {100 * rel:.1f}%)")
        assert d <= rel, f"{dt} perplexity {ppl[dt]:.4f} is {100 * d:.3f}% from F32's {ppl['f32']:.4f} (bound {100 * rel}%)"

    # The F32 numbers themselves, against the float64 numpy reference on the first verses: the
    # per-token log-probabilities of the scored tokens (sci-infer's tokenizer gives the ids).
    import reference_llama
    f32 = model_file(c, "f32")
    worst = 0.0
    for i, text in enumerate(prompts[:4]):
        ids = [int(t) for t in sh([c.bin, "tokenize", "-m", f32, "-p", text]).stdout.strip().split(",")]
        lg = reference_llama.logits(f32, ids, all_positions=True)
        lse = np.log(np.sum(np.exp(lg - lg.max(axis=1, keepdims=True)), axis=1)) + lg.max(axis=1)
        want = np.array([lg[p, ids[p + 1]] - lse[p] for p in range(len(ids) - 1)])
        got = results(c.path("score_f32_out.h5"), ["logprobs"])["logprobs"][i].astype(np.float64)
        assert got.shape == want.shape, (i, got.shape, want.shape)
        worst = max(worst, float(np.max(np.abs(got - want))))
    print(f"  F32 logprobs vs numpy float64 reference (4 verses): max |diff| {worst:.2e} (bound 1e-3)")
    assert worst < 1e-3, worst


def sci_greedy(c, model, prompts, tag, n_new=64):
    inp = write_prompts(c.path(f"greedy_{tag}.h5"), prompts)
    out = c.path(f"greedy_{tag}_out.h5")
    run(c, model, inp, out, 1, "--task", "generate", "--temperature", "0", "--ignore-eos",
        "--max-new-tokens", n_new)
    return [[int(t) for t in x] for x in results(out, ["tokens"])["tokens"]]


def top2_gap(c, model, ids, tag):
    """sci-infer's logit gap between its top two tokens after `ids` (how near a tie the step was)."""
    f = c.path(f"gap_{tag}.f32")
    sh([c.bin, "logits", "-m", model, "--tokens", ",".join(map(str, ids)), "--out", f])
    lg = np.sort(np.fromfile(f, dtype="<f4"))
    return float(lg[-1] - lg[-2])


def case_greedy_llamacpp(c):
    peer = os.environ.get("PEER_DIR", "/tmp/peer")
    nlc = os.path.join(peer, "npm", "node_modules", "node-llama-cpp")
    if not (shutil.which("node") and os.path.isfile(os.path.join(nlc, "dist", "index.js"))):
        print(f"SKIPPED: llama.cpp peer not installed under {peer}")
        sys.exit(77)
    prompts = openings()[:10]
    assert len(prompts) == 10, OPENINGS
    pj = c.path("prompts.json")
    with open(pj, "w") as f:
        json.dump(prompts, f)
    # Bound: F32 and F16 must match on all 10 prompts. Q8_0 too, except where the step at which the two
    # first differ is a near-tie (sci-infer's top-2 logit gap there below Q8_GAP): llama.cpp quantizes
    # the activations to 8 bits for Q8_0 matmuls and sci-infer does not, which moves logits by up to ~0.1.
    Q8_GAP = 0.1
    summary = {}
    for dt in ("f32", "f16", "q8_0"):
        m = model_file(c, dt)
        ours = sci_greedy(c, m, prompts, dt)
        gj = c.path(f"llamacpp_{dt}.json")
        p = subprocess.run(["node", os.path.join(ROOT, "test", "peer", "llamacpp_greedy.mjs"), "--model", m,
                            "--prompts", pj, "--out", gj, "--n", "64", "--kv-type", "f32", "--threads", "1"],
                           env=dict(os.environ, NLC=nlc), capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, f"llama.cpp greedy failed: {p.stderr[-2000:]}"
        with open(gj) as f:
            theirs = json.load(f)
        same, notes = 0, []
        for i, (text, o, t) in enumerate(zip(prompts, ours, theirs)):
            ids = [int(x) for x in sh([c.bin, "tokenize", "-m", m, "-p", text]).stdout.strip().split(",")]
            assert ids == t["prompt_tokens"], f"{dt} prompt {i}: tokenization differs: {ids} vs llama.cpp {t['prompt_tokens']}"
            assert len(o) == 64 and len(t["tokens"]) == 64, (dt, i, len(o), len(t["tokens"]))
            if o == t["tokens"]:
                same += 1
                continue
            k = next(j for j in range(64) if o[j] != t["tokens"][j])
            gap = top2_gap(c, m, ids + o[:k], f"{dt}_{i}")
            notes.append((i, k, gap))
            print(f"  {dt} prompt {i}: first divergence at generated token {k} "
                  f"(sci-infer {o[k]}, llama.cpp {t['tokens'][k]}), sci-infer top-2 logit gap there {gap:.4f}")
        summary[dt] = same
        print(f"{dt}: {same}/10 prompts give identical 64-token greedy text")
        if dt in ("f32", "f16"):
            assert same == 10, f"{dt}: only {same}/10 identical: {notes}"
        else:
            bad = [n for n in notes if n[2] >= Q8_GAP]
            assert not bad, f"q8_0: divergence at a step that is no near-tie (gap >= {Q8_GAP}): {bad}"
    print("greedy parity with llama.cpp:", json.dumps(summary))


def case_reproducible(c):
    prompts = openings()
    inp = write_prompts(c.path("repro.h5"), prompts, seeds=np.arange(len(prompts), dtype=np.uint64) + 5)
    outs = []
    # (ranks, --max-batch, --threads); one thread for one-at-a-time decoding: two threads spin on a busy machine.
    configs = ((1, 1, 1), (2, 5, 1), (1, 16, 2))
    for n, mb, th in configs:
        o = c.path(f"repro_n{n}_b{mb}_t{th}.h5")
        run(c, MODEL_F16, inp, o, n, "--task", "generate", *DEMO_SAMPLING, "--max-batch", mb, "--seed", 9, threads=th)
        outs.append(o)
    for cfg, o in zip(configs[1:], outs[1:]):
        assert_same_results(outs[0], o, "generate -n 1 --max-batch 1 --threads 1 vs -n %d --max-batch %d --threads %d" % cfg)
    # Different seeds per record must give different texts (the comparison above is not vacuous).
    texts = results(outs[0], ["text"])["text"]
    assert len({bytes(t) if not isinstance(t, (str, bytes)) else t for t in map(lambda x: x.item(), texts)}) > 1
    sh([c.bin, "verify", outs[1], "--sample", "4", "--threads", "1"])
    sinp = write_prompts(c.path("repro_score.h5"), heldout(24))
    so = []
    for n, mb in ((1, 1), (2, 7)):
        o = c.path(f"repro_score_n{n}.h5")
        run(c, MODEL_F16, sinp, o, n, "--task", "score", "--max-batch", mb)
        so.append(o)
    assert_same_results(so[0], so[1], "score -n 1 --max-batch 1 vs -n 2 --max-batch 7")
    print("generate and score identical across ranks and batch sizes; verify passed")


def dictionary_fraction(texts, words_path=DICT):
    """Fraction of the words (letter runs) in texts that /usr/share/dict/words lists, compared
    lower-case, with a trailing possessive 's dropped."""
    with open(words_path, encoding="utf-8", errors="replace") as f:
        words = {w.strip().lower() for w in f}
    toks = [w.lower() for t in texts for w in re.findall(r"[A-Za-z]+(?:'[A-Za-z]+)?", t)]
    toks = [w[:-2] if w.endswith("'s") else w for w in toks]
    return sum(w in words for w in toks) / max(1, len(toks)), len(toks)


def case_dictionary_words(c):
    if not os.path.isfile(DICT):
        print(f"SKIPPED: {DICT} missing (Debian wamerican; scripts/deps.sh installs it)")
        sys.exit(77)
    prompts = openings()
    inp = write_prompts(c.path("dict.h5"), prompts)
    out = c.path("dict_out.h5")
    run(c, MODEL_F16, inp, out, 1, "--task", "generate", *DEMO_SAMPLING, "--seed", 42)
    texts = [t.decode() if isinstance(t, bytes) else str(t) for t in (x.item() for x in results(out, ["text"])["text"])]
    frac, n = dictionary_fraction(texts)
    print(f"{n} generated words, {100 * frac:.1f}% in {DICT} (bound 80%)")
    # Control: the bound separates English from noise: random letters score low.
    rng = np.random.default_rng(0)
    noise = [" ".join("".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), rng.integers(3, 8))) for _ in range(50))]
    nf, _ = dictionary_fraction(noise)
    assert nf < 0.5, nf
    assert n >= 100, f"only {n} words generated"
    assert frac >= 0.8, f"only {100 * frac:.1f}% of the generated words are dictionary words: {texts[:3]}"


if __name__ == "__main__":
    main({n[5:]: f for n, f in dict(globals()).items() if n.startswith("case_")})
