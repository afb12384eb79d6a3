#!/usr/bin/env python3
"""make_gpt_oss_gguf.py - a small random `gpt-oss` GGUF written with llama.cpp's own gguf-py
(its key names, tensor names and MXFP4 quantizer), independent of sci_infer's model maker.

    PYTHONPATH=$PEER/llama.cpp/gguf-py make_gpt_oss_gguf.py --out m.gguf \
        [--experts f32|f16|mxfp4] [--expert-ffn 128] [--seed 1] [--vocab-only]

Shape (deliberately unusual): dim 64, 4 query heads and 2 KV heads of head_dim 24 (so
head_dim != dim / n_head), 2 layers (layer 0 sliding window of 8, layer 1 full), 4 experts of
width 128 with 2 used, YaRN rope scaling (factor 4 over 32 original positions), biases
everywhere, attention sinks, separate output matrix. Vocabulary: byte-level BPE with
tokenizer.ggml.pre = "gpt-4o" (256 byte symbols, merges learnt on llama.cpp's tokenizer test
texts across word boundaries, so that the pre-tokenizer decides the result), 512 tokens.
"""
import argparse
import collections
import glob
import os
import sys

import numpy as np

import gguf

CFG = dict(dim=64, n_head=4, n_head_kv=2, head_dim=24, n_layers=2, n_expert=4, n_used=2, ffn_exp=128,
           n_vocab=512, swa=8, ctx=4096, rope_base=10000.0, yarn_factor=4.0, yarn_orig_ctx=32, eps=1e-5)


def byte_alphabet():
    """GPT-2's bytes_to_unicode()."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def corpus(peer):
    texts = []
    for inp in sorted(glob.glob(os.path.join(peer, "models", "ggml-vocab-*.gguf.inp"))):
        with open(inp, encoding="utf-8") as f:
            texts += [t for t in f.read().split("\n__ggml_vocab_test__\n") if t]
    return texts or ["Hello world, this is a test. Don't panic: 12345 HelloWorld ÉCOLE"]


def learn_merges(texts, n_merges):
    """Plain BPE over whole texts (no pre-tokenization): merges freely cross word boundaries."""
    alpha = byte_alphabet()
    seqs = [[alpha[b] for b in t.encode("utf-8")] for t in texts]
    merges, tokens = [], []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for s in seqs:
            pairs.update(zip(s, s[1:]))
        if not pairs:
            break
        (a, b), _ = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        merges.append(f"{a} {b}")
        tokens.append(a + b)
        for s in seqs:
            i, out = 0, []
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            s[:] = out
    return merges, tokens


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--experts", default="f32", choices=["f32", "f16", "mxfp4"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--vocab-only", action="store_true")
    ap.add_argument("--gate-up-scale", type=float, default=0.8,
                    help="std of the gate/up expert weights (0.8: the SwiGLU clamps are reached)")
    ap.add_argument("--dequantized-out", help="also write the same model with the experts dequantized to F32 "
                    "(llama.cpp's own dequantization): the reference for a quantized model")
    ap.add_argument("--expert-ffn", type=int, default=CFG["ffn_exp"],
                    help="expert width (64 with MXFP4 leaves 2 K-chunks: tp 4 then shards whole experts)")
    ap.add_argument("--peer", default=os.environ.get("PEER_DIR", "/tmp/peer") + "/llama.cpp")
    a = ap.parse_args()
    c = dict(CFG, ffn_exp=a.expert_ffn)
    rng = np.random.default_rng(a.seed)

    specials = ["<|endoftext|>", "<|return|>"]
    alpha = byte_alphabet()
    merges, merged = learn_merges(corpus(a.peer), c["n_vocab"] - 256 - len(specials))
    tokens = [alpha[b] for b in range(256)] + merged + specials
    ttypes = [1] * (len(tokens) - len(specials)) + [3] * len(specials)
    assert len(tokens) == c["n_vocab"], len(tokens)

    class Both:  # every call to both files (the second one, if any, gets F32 experts)
        def __init__(self, paths):
            self.ws = [gguf.GGUFWriter(p, "gpt-oss") for p in paths]

        def __getattr__(self, name):
            return lambda *args, **kw: [getattr(x, name)(*args, **kw) for x in self.ws]

    w = Both([a.out] + ([a.dequantized_out] if a.dequantized_out else []))
    w.add_name(f"pyrand-gpt-oss-{a.experts}")
    w.add_context_length(c["ctx"])
    w.add_embedding_length(c["dim"])
    w.add_block_count(c["n_layers"])
    w.add_feed_forward_length(c["ffn_exp"])
    w.add_head_count(c["n_head"])
    w.add_head_count_kv(c["n_head_kv"])
    w.add_key_length(c["head_dim"])
    w.add_value_length(c["head_dim"])
    w.add_rope_dimension_count(c["head_dim"])
    w.add_rope_freq_base(c["rope_base"])
    w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
    w.add_rope_scaling_factor(c["yarn_factor"])
    w.add_rope_scaling_orig_ctx_len(c["yarn_orig_ctx"])
    w.add_layer_norm_rms_eps(c["eps"])
    w.add_expert_count(c["n_expert"])
    w.add_expert_used_count(c["n_used"])
    w.add_expert_feed_forward_length(c["ffn_exp"])
    w.add_sliding_window(c["swa"])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-4o")
    w.add_token_list(tokens)
    w.add_token_types(ttypes)
    w.add_token_merges(merges)
    w.add_bos_token_id(len(tokens) - 2)
    w.add_eos_token_id(len(tokens) - 1)
    w.add_add_bos_token(False)

    if a.vocab_only:
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.close()
        return 0

    def rand(*shape, scale=0.3):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    D, H, KV, hd, E, F = c["dim"], c["n_head"], c["n_head_kv"], c["head_dim"], c["n_expert"], c["ffn_exp"]
    expert_type = {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16,
                   "mxfp4": gguf.GGMLQuantizationType.MXFP4}[a.experts]

    def add_expert(name, x):
        q = gguf.quants.quantize(x, expert_type)
        w.ws[0].add_tensor(name, q, raw_dtype=expert_type)  # the shape follows from the bytes
        if len(w.ws) > 1:
            w.ws[1].add_tensor(name, gguf.quants.dequantize(q, expert_type).astype(np.float32).reshape(x.shape))

    # numpy shapes are (..., rows, K); GGUF ne is the reverse.
    w.add_tensor("token_embd.weight", rand(c["n_vocab"], D, scale=1.0))
    for il in range(c["n_layers"]):
        p = f"blk.{il}."
        w.add_tensor(p + "attn_norm.weight", (1.0 + rand(D, scale=0.1)))
        w.add_tensor(p + "attn_q.weight", rand(H * hd, D))
        w.add_tensor(p + "attn_q.bias", rand(H * hd, scale=0.1))
        w.add_tensor(p + "attn_k.weight", rand(KV * hd, D))
        w.add_tensor(p + "attn_k.bias", rand(KV * hd, scale=0.1))
        w.add_tensor(p + "attn_v.weight", rand(KV * hd, D))
        w.add_tensor(p + "attn_v.bias", rand(KV * hd, scale=0.1))
        w.add_tensor(p + "attn_output.weight", rand(D, H * hd, scale=0.2))
        w.add_tensor(p + "attn_output.bias", rand(D, scale=0.1))
        w.add_tensor(p + "attn_sinks.weight", rand(H, scale=1.0))
        w.add_tensor(p + "post_attention_norm.weight", (1.0 + rand(D, scale=0.1)))
        w.add_tensor(p + "ffn_gate_inp.weight", rand(E, D, scale=0.5))
        w.add_tensor(p + "ffn_gate_inp.bias", rand(E, scale=0.2))
        # Gate/up large enough that the SwiGLU clamps (|x| > 7) are reached.
        add_expert(p + "ffn_gate_exps.weight", rand(E, F, D, scale=a.gate_up_scale))
        w.add_tensor(p + "ffn_gate_exps.bias", rand(E, F, scale=0.5))
        add_expert(p + "ffn_up_exps.weight", rand(E, F, D, scale=a.gate_up_scale))
        w.add_tensor(p + "ffn_up_exps.bias", rand(E, F, scale=0.5))
        add_expert(p + "ffn_down_exps.weight", rand(E, D, F, scale=0.1))
        w.add_tensor(p + "ffn_down_exps.bias", rand(E, D, scale=0.1))
    w.add_tensor("output_norm.weight", (1.0 + rand(D, scale=0.1)))
    w.add_tensor("output.weight", rand(c["n_vocab"], D, scale=0.5))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    sys.exit(main())
