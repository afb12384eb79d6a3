#!/usr/bin/env python3
"""reference_llama.py - float64 forward pass of llama.cpp's arch "llama", for numerical checks.

Written from llama.cpp's semantics, not from sci_infer's code, and kept deliberately plain:
full causal attention over the whole token sequence (no KV cache), every weight dequantized to
float64 (so for F16/BF16/Q8_0 files this is the exact model the stored values define).

    logits(model_path, tokens, all_positions=False) -> float64 (n_vocab,) or (n_tokens, n_vocab)

CLI (same output format as `sci-infer logits`: float32 little-endian, n_vocab values per
position, positions one after another):

    reference_llama.py --model M.gguf --tokens 1,300,400 --out ref.f32 [--all-positions]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_min import GGUFFile  # noqa: E402


def rmsnorm(x, w, eps):
    # llama.cpp ggml_rms_norm: x / sqrt(mean(x^2) + eps), then elementwise weight.
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope_norm(x, positions, n_rot, base):
    """llama.cpp's NORM rope (arch llama): rotate consecutive pairs (x[2i], x[2i+1]) of each head
    by angle pos * base^(-2i/n_rot). x: (n_tokens, n_heads, head_dim); dims >= n_rot untouched."""
    out = x.copy()
    i = np.arange(n_rot // 2, dtype=np.float64)
    inv_freq = base ** (-2.0 * i / n_rot)                                  # (n_rot/2,)
    ang = positions.astype(np.float64)[:, None] * inv_freq[None, :]        # (n_tokens, n_rot/2)
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]            # broadcast over heads
    x0, x1 = x[..., 0:n_rot:2], x[..., 1:n_rot:2]
    out[..., 0:n_rot:2] = x0 * cos - x1 * sin
    out[..., 1:n_rot:2] = x0 * sin + x1 * cos
    return out


def silu(x):
    return x / (1.0 + np.exp(-x))


# ---- optional emulation of llama.cpp's CPU rounding (debugging aid, off by default) ----
# llama.cpp converts a matmul's activations to the weight's "vec_dot_type" (F16 -> f16, BF16 -> bf16,
# Q8_0 -> q8_0 blocks) and keeps the KV cache in f16, so Q, K, V and the attention probabilities are
# rounded to f16.  Emulating that shrinks reference-vs-llama.cpp differences to float32 noise, which
# proves the reference computes the same function (a layout bug would not shrink).

def _f16(x):
    return x.astype(np.float16).astype(np.float64)


def _bf16(x):
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16).astype(np.uint32)   # round to nearest even
    return u.view(np.float32).astype(np.float64)


def _q8_0(x):
    b = x.astype(np.float32).reshape(-1, 32)
    d = np.abs(b).max(axis=1, keepdims=True) / 127.0
    q = np.round(b / np.where(d > 0, d, 1))                                  # AVX path: half to even
    return (_f16(d) * q).reshape(x.shape)


_ACT_ROUND = {0: lambda x: x, 1: _f16, 30: _bf16, 8: _q8_0}


class LlamaReference:
    def __init__(self, model_path, emulate_llamacpp=False):
        self.emulate = emulate_llamacpp
        self.g = g = GGUFFile(model_path)
        md = g.metadata
        arch = md.get("general.architecture")
        if arch != "llama":
            raise ValueError(f"{model_path}: architecture {arch!r}, expected 'llama'")
        self.dim = int(md["llama.embedding_length"])
        self.n_layers = int(md["llama.block_count"])
        self.n_head = int(md["llama.attention.head_count"])
        self.n_head_kv = int(md.get("llama.attention.head_count_kv", self.n_head))
        self.head_dim = int(md.get("llama.attention.key_length", self.dim // self.n_head))
        self.n_rot = int(md.get("llama.rope.dimension_count", self.head_dim))
        self.rope_base = float(md.get("llama.rope.freq_base", 10000.0))
        self.eps = float(md["llama.attention.layer_norm_rms_epsilon"])
        self.n_vocab = g.tensors["token_embd.weight"].ne[1]
        if md.get("llama.rope.scaling.type", "none") not in ("none",):
            raise ValueError("rope scaling is not implemented in the reference")

    def w(self, name):
        return self.g.array(name)

    def mm(self, h, name, w=None):
        """h @ W^T for the weight `name`; W is (out, in) after the ne reversal."""
        w = self.w(name) if w is None else w
        if self.emulate:
            h = _ACT_ROUND[self.g.tensors[name].type](h)
        return h @ w.T

    def kv_round(self, x):
        return _f16(x) if self.emulate else x

    def forward(self, tokens, all_positions=False):
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.ndim != 1 or len(tokens) == 0 or tokens.min() < 0 or tokens.max() >= self.n_vocab:
            raise ValueError(f"tokens must be 1..n ids in [0, {self.n_vocab})")
        n, hd = len(tokens), self.head_dim
        group = self.n_head // self.n_head_kv
        pos = np.arange(n)

        emb = self.w("token_embd.weight")                  # (n_vocab, dim)
        x = emb[tokens]                                    # (n, dim)
        causal = np.triu(np.ones((n, n), dtype=bool), k=1)  # True above the diagonal = masked

        for il in range(self.n_layers):
            p = f"blk.{il}."
            h = rmsnorm(x, self.w(p + "attn_norm.weight"), self.eps)
            q = self.mm(h, p + "attn_q.weight").reshape(n, self.n_head, hd)
            k = self.mm(h, p + "attn_k.weight").reshape(n, self.n_head_kv, hd)
            v = self.kv_round(self.mm(h, p + "attn_v.weight").reshape(n, self.n_head_kv, hd))
            q = self.kv_round(rope_norm(q, pos, self.n_rot, self.rope_base))
            k = self.kv_round(rope_norm(k, pos, self.n_rot, self.rope_base))

            o = np.empty((n, self.n_head, hd))
            for j in range(self.n_head):
                kv = j // group                            # GQA: query head j reads KV head j // group
                s = (q[:, j, :] @ k[:, kv, :].T) / np.sqrt(hd)
                s[causal] = -np.inf
                s -= s.max(axis=1, keepdims=True)
                a = np.exp(s)
                a /= a.sum(axis=1, keepdims=True)
                o[:, j, :] = self.kv_round(a) @ v[:, kv, :]
            x = x + self.mm(o.reshape(n, self.n_head * hd), p + "attn_output.weight")

            h = rmsnorm(x, self.w(p + "ffn_norm.weight"), self.eps)
            gate = self.mm(h, p + "ffn_gate.weight")
            up = self.mm(h, p + "ffn_up.weight")
            x = x + self.mm(silu(gate) * up, p + "ffn_down.weight")

        if not all_positions:
            x = x[-1:]
        h = rmsnorm(x, self.w("output_norm.weight"), self.eps)
        # Tied embeddings: without output.weight llama.cpp reuses token_embd.weight.
        if "output.weight" in self.g.tensors:
            logits = self.mm(h, "output.weight")
        else:
            logits = self.mm(h, "token_embd.weight", emb)
        return logits if all_positions else logits[0]


def logits(model_path, tokens, all_positions=False, emulate_llamacpp=False):
    return LlamaReference(model_path, emulate_llamacpp).forward(tokens, all_positions)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", required=True, help="comma-separated token ids (no BOS added)")
    ap.add_argument("--out", required=True, help="float32 LE output file")
    ap.add_argument("--all-positions", action="store_true", help="write every position, row after row")
    ap.add_argument("--emulate-llamacpp", action="store_true",
                    help="round activations / KV like llama.cpp on CPU (debugging aid)")
    a = ap.parse_args()
    toks = [int(t) for t in a.tokens.split(",") if t.strip()]
    lg = logits(a.model, toks, a.all_positions, a.emulate_llamacpp)
    lg.astype("<f4").tofile(a.out)
    last = lg if lg.ndim == 1 else lg[-1]
    print(f"wrote {a.out}: {lg.size} float32 ({len(toks)} tokens, last argmax {int(np.argmax(last))})")


if __name__ == "__main__":
    main()
