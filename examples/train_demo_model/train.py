#!/usr/bin/env python3
"""Trains the demo model: a ~2 M parameter Llama on the King James Bible (Debian bible-kjv-text,
public domain), with its own SentencePiece BPE tokenizer, and writes it as a llama GGUF file that
sci-infer and llama.cpp both load.

    nice python3 examples/train_demo_model/train.py --out-dir examples/train_demo_model

CPU only, 2 threads, fixed seeds: the same packages on the same CPU give the same losses (see
README.md for the recorded ones). Needs python3-torch, python3-sentencepiece, bible-kjv (the `bible`
program decodes bible-kjv-text's data file). sci-infer itself never needs torch: the tests and the
demo use the committed GGUF file.
"""
import argparse
import math
import os
import random
import subprocess
import sys
import time

import numpy as np
import sentencepiece as spm
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "python"))
import make_gguf_py  # noqa: E402  (the project's Python GGUF writer)

CFG = dict(dim=192, n_layers=4, n_head=6, n_head_kv=2, ffn=512, ctx=256, rope_base=10000.0, eps=1e-5)
VOCAB = 2048
HELD_OUT_EVERY = 100       # verse i is held out when i % 100 == 0 (never trained on)


# ---- corpus ----

def load_verses():
    """Every verse of the KJV as one line of plain text (the `bible` program prints
    '  N text' per verse and 'Book C' headers, which are dropped; except that a numbered book's
    header, '1 Samuel 3', passes for verse 1 'Samuel 3': 229 such lines. The recorded model was
    trained with them; keep this as it is to reproduce it, see README.md)."""
    out = subprocess.run(["bible", "-l0", "gen1:1-rev22:21"], capture_output=True, text=True, check=True).stdout
    verses = []
    for line in out.splitlines():
        s = line.strip()
        head, _, rest = s.partition(" ")
        if head.isdigit() and rest:
            verses.append(rest)
    return verses


# ---- model: llama.cpp's `llama` graph, written out so every choice is visible ----

def rope_tables(hd, ctx, base):
    # llama.cpp's NORM rope (arch llama): rotate consecutive pairs (x[2i], x[2i+1]) by pos * base^(-2i/hd).
    inv = base ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
    ang = torch.arange(ctx, dtype=torch.float32)[:, None] * inv[None, :]
    return torch.cos(ang), torch.sin(ang)


def apply_rope(x, cos, sin):
    # x: (B, H, T, hd)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    T = x.shape[2]
    c, s = cos[:T], sin[:T]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, hd = c["dim"], c["dim"] // c["n_head"]
        self.nh, self.nkv, self.hd = c["n_head"], c["n_head_kv"], hd
        self.attn_norm = RMSNorm(d, c["eps"])
        self.wq = nn.Linear(d, self.nh * hd, bias=False)
        self.wk = nn.Linear(d, self.nkv * hd, bias=False)
        self.wv = nn.Linear(d, self.nkv * hd, bias=False)
        self.wo = nn.Linear(self.nh * hd, d, bias=False)
        self.ffn_norm = RMSNorm(d, c["eps"])
        self.w_gate = nn.Linear(d, c["ffn"], bias=False)
        self.w_up = nn.Linear(d, c["ffn"], bias=False)
        self.w_down = nn.Linear(c["ffn"], d, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        h = self.attn_norm(x)
        q = self.wq(h).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.wk(h).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.wv(h).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        g = self.nh // self.nkv            # q head i reads kv head i // g, as llama.cpp does
        k, v = k.repeat_interleave(g, dim=1), v.repeat_interleave(g, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        x = x + self.wo((att @ v).transpose(1, 2).reshape(B, T, -1))
        h = self.ffn_norm(x)
        return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))


class Llama(nn.Module):
    def __init__(self, c, vocab):
        super().__init__()
        self.c = c
        self.tok = nn.Embedding(vocab, c["dim"])
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["n_layers"]))
        self.norm = RMSNorm(c["dim"], c["eps"])
        cos, sin = rope_tables(c["dim"] // c["n_head"], c["ctx"], c["rope_base"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)
        nn.init.normal_(self.tok.weight, std=0.02)
        for b in self.blocks:   # scaled residual projections (GPT-2 style) for a stable start
            nn.init.normal_(b.wo.weight, std=0.02 / math.sqrt(2 * c["n_layers"]))
            nn.init.normal_(b.w_down.weight, std=0.02 / math.sqrt(2 * c["n_layers"]))

    def forward(self, idx):
        x = self.tok(idx)
        for b in self.blocks:
            x = b(x, self.cos, self.sin)
        return self.norm(x) @ self.tok.weight.T     # tied output (no output.weight in the GGUF)

    def gguf_weights(self):
        """numpy (out, in) arrays under llama.cpp's tensor names."""
        W = {"token_embd.weight": self.tok.weight}
        for i, b in enumerate(self.blocks):
            p = f"blk.{i}."
            W.update({p + "attn_norm.weight": b.attn_norm.weight, p + "attn_q.weight": b.wq.weight,
                      p + "attn_k.weight": b.wk.weight, p + "attn_v.weight": b.wv.weight,
                      p + "attn_output.weight": b.wo.weight, p + "ffn_norm.weight": b.ffn_norm.weight,
                      p + "ffn_gate.weight": b.w_gate.weight, p + "ffn_up.weight": b.w_up.weight,
                      p + "ffn_down.weight": b.w_down.weight})
        W["output_norm.weight"] = self.norm.weight
        return {k: v.detach().double().numpy() for k, v in W.items()}


# ---- tokenizer ----

def train_tokenizer(train_text_path, prefix, seed):
    spm.set_random_generator_seed(seed)
    spm.SentencePieceTrainer.train(
        input=train_text_path, model_prefix=prefix, vocab_size=VOCAB, model_type="bpe",
        byte_fallback=True, character_coverage=1.0, num_threads=1,
        # No normalization and no whitespace squeezing: llama.cpp's SPM tokenizer does neither,
        # so the text the tokenizer was trained on is tokenized the same way by both.
        normalization_rule_name="identity", remove_extra_whitespaces=False,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2)
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


def gguf_vocab(sp):
    toks, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        toks.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        # GGUF token_type = SentencePiece piece type: 1 normal, 2 unknown, 3 control, 6 byte.
        types.append(2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 6 if sp.is_byte(i) else 1)
    return toks, scores, types


# ---- training ----

def batches(ids, ctx, bs, gen):
    """Random windows of ctx+1 tokens from the token stream."""
    n = len(ids) - ctx - 1
    while True:
        starts = torch.randint(0, n, (bs,), generator=gen)
        w = torch.stack([ids[s:s + ctx + 1] for s in starts.tolist()])
        yield w[:, :-1], w[:, 1:]


def stream(sp, lines):
    # Each verse is one document: BOS + text + EOS, as sci-infer feeds a prompt (BOS + text).
    out = []
    for l in lines:
        out += [1] + sp.encode(l) + [2]
    return torch.tensor(out, dtype=torch.long)


@torch.no_grad()
def eval_loss(model, ids, ctx):
    model.eval()
    tot, n = 0.0, 0
    for s in range(0, len(ids) - 1, ctx):
        w = ids[s:s + ctx + 1]
        if len(w) < 2:
            break
        logits = model(w[None, :-1])
        tot += F.cross_entropy(logits[0], w[1:], reduction="sum").item()
        n += len(w) - 1
    model.train()
    return tot / n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=HERE)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--max-minutes", type=float, default=0, help="stop early after this wall time (0 = no limit)")
    ap.add_argument("--stop-after", type=int, default=0,
                    help="stop after this many steps, schedule unchanged (reproduces a run the time limit cut)")
    a = ap.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    np.random.seed(a.seed)
    t0 = time.time()

    verses = load_verses()
    train = [v for i, v in enumerate(verses) if i % HELD_OUT_EVERY]
    held = [v for i, v in enumerate(verses) if i % HELD_OUT_EVERY == 0]
    os.makedirs(a.out_dir, exist_ok=True)
    work = os.path.join(a.out_dir, "work")
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "train.txt"), "w") as f:
        f.write("\n".join(train) + "\n")
    with open(os.path.join(a.out_dir, "heldout.txt"), "w") as f:
        f.write("\n".join(held) + "\n")
    sp = train_tokenizer(os.path.join(work, "train.txt"), os.path.join(work, "tokenizer"), a.seed)
    tr_ids, ho_ids = stream(sp, train), stream(sp, held)
    print(f"{len(verses)} verses ({len(held)} held out), {len(tr_ids)} training tokens, vocab {VOCAB}", flush=True)

    model = Llama(CFG, VOCAB)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters, {CFG}", flush=True)
    decay = [p for p in model.parameters() if p.ndim == 2]
    other = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(a.seed)
    it = batches(tr_ids, CFG["ctx"], a.batch, gen)
    warm = 50
    ema = None
    steps_done = 0
    for step in range(a.steps):
        # Linear warm-up, then cosine decay to 10% of the peak rate.
        lr = a.lr * min(1.0, (step + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / a.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = next(it)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        steps_done = step + 1
        if step % 25 == 0 or step == a.steps - 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  (ema {ema:.4f})  lr {lr:.2e}  "
                  f"{time.time() - t0:.0f}s", flush=True)
        if a.stop_after and steps_done >= a.stop_after:
            break
        if a.max_minutes and time.time() - t0 > a.max_minutes * 60:
            print(f"stopping at the time limit after {steps_done} steps", flush=True)
            break

    final = loss.item()
    ho = eval_loss(model, ho_ids, CFG["ctx"])
    print(f"final training loss {final:.4f} (last batch), ema {ema:.4f}; held-out loss {ho:.4f} "
          f"(perplexity {math.exp(ho):.2f}); {steps_done} steps, {time.time() - t0:.0f}s", flush=True)

    toks, scores, types = gguf_vocab(sp)
    kvs = make_gguf_py.llama_kvs(CFG, "sci-infer demo kjv-2m", toks, scores, types)
    tensors, _ = make_gguf_py.encode_tensors(model.gguf_weights(), make_gguf_py.DTYPES["f16"])
    out = os.path.join(a.out_dir, "demo-model-f16.gguf")
    make_gguf_py.write_gguf(out, kvs, tensors)
    torch.save(model.state_dict(), os.path.join(work, "model.pt"))
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
