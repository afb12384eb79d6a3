#!/usr/bin/env python3
"""make_hf_checkpoint.py OUT_DIR [options] - a random Llama checkpoint in Hugging Face format,
written with numpy alone (safetensors is a JSON header plus raw little-endian bytes), with a tiny
SentencePiece BPE tokenizer trained by python3-sentencepiece: tokenizer.model (what llama.cpp's
converter reads) and the tokenizer.json that HF's LlamaConverter makes from it (what sci_infer
reads), so the two sides of every comparison start from the same vocabulary.

  --dtype f32|bf16   --shards N (N > 1: model-0000k-of-0000N.safetensors + index.json)
  --rope none|linear|llama3|yarn   --tied   --layers L --dim D --heads H --kv-heads K --ffn F
  --arch llama|gemma2|qwen2|qwen3|gemma3|gpt-oss
    qwen2: Q/K/V biases, a byte-level BPE tokenizer.json trained here, with the Qwen 2 Split regex
           and <|endoftext|>; no tokenizer.model.
    qwen3: Qwen3ForCausalLM: no biases, self_attn.q_norm/k_norm [head_dim], --head-dim free of
           hidden/heads, untied, the Qwen 2 style byte-level tokenizer.json.
    gemma2: four norms per layer stored as w - 1, tied, soft-capping, a SentencePiece tokenizer
           without the dummy space prefix.
    gemma3: Gemma3ForCausalLM (model_type gemma3_text): gemma2's layout plus q_norm/k_norm (w - 1),
           head_dim, query_pre_attn_scalar, sliding_window 8 with 5 local layers of 6 (layer_types
           and sliding_window_pattern), rope_theta 1e6 (global), rope_local_base_freq 1e4, linear
           scaling 8, no soft-capping; the embedding has --vocab-pad (64) rows more than the
           tokenizer (real Gemma 3: 262208 rows, 262144 pieces). --no-vocab-size omits
           config.json's vocab_size (as Gemma 3's multimodal text_config does); --rope-parameters
           writes the RoPE keys in transformers 5's per-layer-type form.
    gpt-oss: GptOssForCausalLM as openai/gpt-oss-20b's model.safetensors.index.json has it:
           attention q/k/v/o with biases, self_attn.sinks [heads], mlp.router.{weight,bias},
           MXFP4 experts (U8 *_blocks [E, rows, cols/32, 16] + *_scales [E, rows, cols/32], e8m0
           bytes) + F32 biases, untied lm_head; alternating sliding/full layers, YaRN, the o200k
           Split regex and the gpt-oss special tokens.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

SPACE = "\u2581"


def bf16_bytes(a):
    """float32 -> bfloat16 (round to nearest even) as raw little-endian bytes."""
    u = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")
    return r.tobytes()


def write_safetensors(path, tensors, dtype):
    """tensors: list of (name, array): float32 arrays are written as dtype (F32 or BF16), uint8
    arrays (MXFP4 blocks and scales) as U8. Header padded with spaces to 8 bytes (as the
    reference writer), data contiguous in list order."""
    header, blobs, off = {}, [], 0
    for name, a in tensors:
        if a.dtype == np.uint8:
            b, dt = np.ascontiguousarray(a).tobytes(), "U8"
        else:
            b = bf16_bytes(a) if dtype == "BF16" else np.ascontiguousarray(a, dtype="<f4").tobytes()
            dt = dtype
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def train_tokenizer(out_dir, vocab_size, dummy_prefix=True):
    import sentencepiece as spm
    words = []
    dict_path = "/usr/share/dict/words"
    rng = np.random.default_rng(7)
    if os.path.isfile(dict_path):
        with open(dict_path, encoding="utf-8", errors="ignore") as f:
            words = [w.strip() for w in f if w.strip().isalpha()][:20000]
    if not words:
        words = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=rng.integers(2, 9))) for _ in range(5000)]
    lines = [" ".join(rng.choice(words, size=12)) for _ in range(3000)]
    corpus = os.path.join(out_dir, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    spm.SentencePieceTrainer.train(input=corpus, model_prefix=os.path.join(out_dir, "tokenizer"), vocab_size=vocab_size,
                                   model_type="bpe", byte_fallback=True, character_coverage=1.0,
                                   unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2,
                                   add_dummy_prefix=dummy_prefix)
    os.remove(corpus)
    os.remove(os.path.join(out_dir, "tokenizer.vocab"))
    sp = spm.SentencePieceProcessor(model_file=os.path.join(out_dir, "tokenizer.model"))
    return sp


def tokenizer_json(sp, dummy_prefix=True):
    """What HF tokenizers' LlamaConverter (SentencePieceExtractor) makes of a BPE tokenizer.model."""
    n = sp.get_piece_size()
    vocab = {sp.id_to_piece(i): i for i in range(n)}
    by_score = sorted(range(n), key=lambda i: -sp.get_score(i))  # stable: ties keep id order
    merges = []
    for i in by_score:
        piece = sp.id_to_piece(i)
        local = [(piece[:k], piece[k:], sp.get_score(i)) for k in range(1, len(piece))
                 if piece[:k] in vocab and piece[k:] in vocab]
        local.sort(key=lambda x: (vocab[x[0]], vocab[x[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: -m[2])
    special = [{"id": i, "content": sp.id_to_piece(i), "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": False, "special": True} for i in (0, 1, 2)]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": special,
        "normalizer": {"type": "Sequence", "normalizers": ([{"type": "Prepend", "prepend": SPACE}] if dummy_prefix else []) +
                       [{"type": "Replace", "pattern": {"String": " "}, "content": SPACE}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [[a, b] for a, b, _ in merges]},
    }


QWEN2_REGEX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
               "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")


# The o200k (gpt-4o, gpt-oss) Split regex as tokenizer.json holds it: the "original regex from
# tokenizer.json" that llama.cpp's llama-vocab.cpp quotes under LLAMA_VOCAB_PRE_TYPE_GPT4O.
O200K_REGEX = ("[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
               "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
               "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")

# gpt-oss's special tokens in their order (o200k_harmony: <|startoftext|> = 199998 ...), the
# reserved ones included so that ids keep gpt-oss's gaps.
GPT_OSS_SPECIAL = ["<|startoftext|>", "<|endoftext|>", "<|reserved_200000|>", "<|reserved_200001|>", "<|return|>",
                   "<|constrain|>", "<|reserved_200004|>", "<|channel|>", "<|start|>", "<|end|>", "<|message|>",
                   "<|reserved_200009|>", "<|reserved_200010|>", "<|reserved_200011|>", "<|call|>"]
QWEN_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def bytes_to_unicode():
    """GPT-2's printable stand-ins for the 256 byte values (the ByteLevel alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def bytelevel_tokenizer(n_merges, special=QWEN_SPECIAL, regex=QWEN2_REGEX, normalizer={"type": "NFC"}):
    """A byte-level BPE trained here on dictionary words (greedy most-frequent pair), as a
    Qwen 2 (default) or gpt-oss style tokenizer.json: the 256 byte symbols, the merges, then the
    special tokens; the Split regex and the normalizer as given."""
    import re
    b2u = bytes_to_unicode()
    words = []
    if os.path.isfile("/usr/share/dict/words"):
        with open("/usr/share/dict/words", encoding="utf-8", errors="ignore") as f:
            words = [w.strip().lower() for w in f if w.strip().isalpha()][:3000]
    words = words or ["hello", "world", "quick", "brown", "lazy", "jumps", "over", "the"]
    counts = {}
    for w in words + ["hello", "world", "the", "quick", "brown", "fox"] * 50:
        for piece in re.findall(r" ?[a-z]+", " " + w):
            key = tuple(b2u[b] for b in piece.encode())
            counts[key] = counts.get(key, 0) + 1
    vocab = {b2u[b]: i for i, b in enumerate(sorted(b2u))}
    merges = []
    for _ in range(n_merges):
        pairs = {}
        for wd, c in counts.items():
            for x, y in zip(wd, wd[1:]):
                pairs[(x, y)] = pairs.get((x, y), 0) + c
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])
        merges.append(best)
        vocab[best[0] + best[1]] = len(vocab)
        new = {}
        for wd, c in counts.items():
            out, i = [], 0
            while i < len(wd):
                if i + 1 < len(wd) and (wd[i], wd[i + 1]) == best:
                    out.append(wd[i] + wd[i + 1])
                    i += 2
                else:
                    out.append(wd[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        counts = new
    added = [{"id": len(vocab) + k, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for k, t in enumerate(special)]
    tj = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
          "normalizer": normalizer,
          "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
              {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
              {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
          "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
          "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
          "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                    "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                    "vocab": vocab, "merges": [f"{x} {y}" for x, y in merges]}}
    return tj, len(vocab) + len(special)


def mxfp4_experts(rng, experts, rows, cols):
    """One MXFP4 expert tensor as gpt-oss stores it: U8 blocks [E, rows, cols/32, 16] of random
    FP4 (e2m1) nibbles, two per byte, and U8 e8m0 scales [E, rows, cols/32] in 118..124 (2^-9 ..
    2^-3), so that the weights stay in a sane range (e2m1 values are at most 6)."""
    blocks = rng.integers(0, 256, size=(experts, rows, cols // 32, 16), dtype=np.uint8)
    scales = rng.integers(118, 125, size=(experts, rows, cols // 32), dtype=np.uint8)
    return blocks, scales


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--rope", choices=["none", "linear", "llama3", "yarn"], default="none")
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--head-dim", type=int, default=0, help="0: dim / heads")
    ap.add_argument("--ffn", type=int, default=96)
    ap.add_argument("--vocab", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--experts", type=int, default=4)
    ap.add_argument("--experts-used", type=int, default=2)
    ap.add_argument("--sliding-window", type=int, default=8)
    ap.add_argument("--vocab-pad", type=int, default=None,
                    help="embedding (and lm_head) rows beyond the tokenizer's ids (default 64 for gemma3, else 0)")
    ap.add_argument("--no-vocab-size", action="store_true", help="config.json without vocab_size")
    ap.add_argument("--rope-parameters", action="store_true",
                    help="gemma3: RoPE as transformers 5 writes it, rope_parameters {full_attention, sliding_attention}")
    ap.add_argument("--arch", choices=["llama", "gemma2", "qwen2", "qwen3", "gemma3", "gpt-oss"], default="llama")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    gemma = a.arch in ("gemma2", "gemma3")
    gemma3 = a.arch == "gemma3"
    oss = a.arch == "gpt-oss"
    if gemma:
        a.tied = True
    qwen = a.arch == "qwen2"
    if qwen:
        a.tied = True
    if oss:
        a.tied = False
    bytelevel = a.arch in ("qwen2", "qwen3", "gpt-oss")
    if oss:
        tok_json, n_vocab = bytelevel_tokenizer(a.vocab - 256 - len(GPT_OSS_SPECIAL), GPT_OSS_SPECIAL, O200K_REGEX, None)
    elif bytelevel:
        tok_json, n_vocab = bytelevel_tokenizer(a.vocab - 259)
    else:
        sp = train_tokenizer(a.out, a.vocab, dummy_prefix=not gemma)
        n_vocab = sp.get_piece_size()
    n_rows = n_vocab + (a.vocab_pad if a.vocab_pad is not None else 64 if gemma3 else 0)  # embedding rows
    rng = np.random.default_rng(a.seed)
    hd = a.head_dim or a.dim // a.heads
    if oss and (a.dim % 32 or a.ffn % 32):
        raise SystemExit("gpt-oss: --dim and --ffn must be multiples of 32 (MXFP4 blocks)")

    def w(*shape, scale=None):
        s = scale if scale is not None else 1.0 / np.sqrt(shape[-1])
        return (rng.standard_normal(shape) * s).astype(np.float32)

    def norm(n=None):  # Gemma stores w - 1 (its RMSNorm multiplies by 1 + w)
        return ((0.0 if gemma else 1.0) + 0.1 * rng.standard_normal(n or a.dim)).astype(np.float32)

    tensors = [("model.embed_tokens.weight", w(n_rows, a.dim, scale=1.0))]
    for i in range(a.layers):
        p = f"model.layers.{i}."
        tensors += [(p + "input_layernorm.weight", norm()),
                    (p + "self_attn.q_proj.weight", w(a.heads * hd, a.dim)),
                    (p + "self_attn.k_proj.weight", w(a.kv_heads * hd, a.dim)),
                    (p + "self_attn.v_proj.weight", w(a.kv_heads * hd, a.dim)),
                    (p + "self_attn.o_proj.weight", w(a.dim, a.heads * hd))]
        if qwen or oss:
            tensors += [(p + "self_attn.q_proj.bias", w(a.heads * hd, scale=0.1)),
                        (p + "self_attn.k_proj.bias", w(a.kv_heads * hd, scale=0.1)),
                        (p + "self_attn.v_proj.bias", w(a.kv_heads * hd, scale=0.1))]
        if oss:
            tensors += [(p + "self_attn.o_proj.bias", w(a.dim, scale=0.1)),
                        (p + "self_attn.sinks", w(a.heads, scale=1.0))]
        if a.arch in ("qwen3", "gemma3"):
            tensors += [(p + "self_attn.q_norm.weight", norm(hd)), (p + "self_attn.k_norm.weight", norm(hd))]
        tensors += [
                    (p + "post_attention_layernorm.weight", norm())]
        if gemma:
            tensors += [(p + "pre_feedforward_layernorm.weight", norm()),
                        (p + "post_feedforward_layernorm.weight", norm())]
        if oss:
            e = p + "mlp.experts."
            gu_b, gu_s = mxfp4_experts(rng, a.experts, 2 * a.ffn, a.dim)  # rows: gate, up interleaved
            dn_b, dn_s = mxfp4_experts(rng, a.experts, a.dim, a.ffn)
            tensors += [(p + "mlp.router.weight", w(a.experts, a.dim)),
                        (p + "mlp.router.bias", w(a.experts, scale=0.1)),
                        (e + "gate_up_proj_blocks", gu_b), (e + "gate_up_proj_scales", gu_s),
                        (e + "gate_up_proj_bias", w(a.experts, 2 * a.ffn, scale=0.1)),
                        (e + "down_proj_blocks", dn_b), (e + "down_proj_scales", dn_s),
                        (e + "down_proj_bias", w(a.experts, a.dim, scale=0.1))]
        else:
            tensors += [
                    (p + "mlp.gate_proj.weight", w(a.ffn, a.dim)),
                    (p + "mlp.up_proj.weight", w(a.ffn, a.dim)),
                    (p + "mlp.down_proj.weight", w(a.dim, a.ffn))]
    tensors.append(("model.norm.weight", norm()))
    if not a.tied:
        tensors.append(("lm_head.weight", w(n_rows, a.dim)))
    dtype = "BF16" if a.dtype == "bf16" else "F32"
    if a.shards <= 1:
        write_safetensors(os.path.join(a.out, "model.safetensors"), tensors, dtype)
    else:
        parts = np.array_split(np.arange(len(tensors)), a.shards)
        weight_map = {}
        for k, idx in enumerate(parts):
            name = f"model-{k + 1:05d}-of-{a.shards:05d}.safetensors"
            write_safetensors(os.path.join(a.out, name), [tensors[j] for j in idx], dtype)
            for j in idx:
                weight_map[tensors[j][0]] = name
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2)
    config = {"architectures": [{"llama": "LlamaForCausalLM", "gemma2": "Gemma2ForCausalLM", "qwen2": "Qwen2ForCausalLM",
                                 "qwen3": "Qwen3ForCausalLM", "gemma3": "Gemma3ForCausalLM",
                                 "gpt-oss": "GptOssForCausalLM"}[a.arch]],
              "model_type": {"gemma3": "gemma3_text", "gpt-oss": "gpt_oss"}.get(a.arch, a.arch), "hidden_size": a.dim,
              "intermediate_size": a.ffn, "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
              "num_key_value_heads": a.kv_heads, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
              "rope_theta": 10000.0, "vocab_size": n_rows, "tie_word_embeddings": a.tied,
              "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
              "torch_dtype": "bfloat16" if a.dtype == "bf16" else "float32"}
    if gemma:
        config.update({"head_dim": hd, "query_pre_attn_scalar": hd, "attn_logit_softcapping": 50.0,
                       "final_logit_softcapping": 30.0, "sliding_window": 4096, "rms_norm_eps": 1e-6,
                       "hidden_activation": "gelu_pytorch_tanh"})
    if gemma3:
        # Gemma 3 as google/gemma-3-1b-it's config.json has it: every 6th layer global, no soft-capping.
        config.update({"attn_logit_softcapping": None, "final_logit_softcapping": None,
                       "sliding_window": a.sliding_window, "sliding_window_pattern": 6,
                       "layer_types": ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(a.layers)],
                       "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0,
                       "rope_scaling": {"rope_type": "linear", "factor": 8.0}, "pad_token_id": 0})
        if a.rope_parameters:
            for k in ("rope_theta", "rope_local_base_freq", "rope_scaling"):
                del config[k]
            config["rope_parameters"] = {"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
                                         "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}
    if a.rope == "linear":
        config["rope_scaling"] = {"rope_type": "linear", "factor": 2.0}
    elif a.rope == "llama3":
        config["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
    elif a.rope == "yarn":
        config["rope_scaling"] = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64}
    if a.no_vocab_size:
        del config["vocab_size"]

    def dump(name, obj):
        with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False)

    if bytelevel:
        ids = {t["content"]: t["id"] for t in tok_json["added_tokens"]}
        if qwen:
            config.update({"bos_token_id": n_vocab - 3, "eos_token_id": n_vocab - 3, "rms_norm_eps": 1e-6,
                           "use_sliding_window": False, "sliding_window": 4096})
            tok_cfg = {"add_bos_token": False, "bos_token": None, "eos_token": "<|endoftext|>",
                       "pad_token": "<|endoftext|>", "tokenizer_class": "Qwen2Tokenizer"}
        elif oss:
            # openai/gpt-oss-20b: eos <|return|>, pad <|endoftext|>, no bos_token_id in config.json.
            del config["bos_token_id"]
            config.update({"eos_token_id": ids["<|return|>"], "pad_token_id": ids["<|endoftext|>"], "head_dim": hd,
                           "attention_bias": True, "attention_dropout": 0.0, "num_local_experts": a.experts,
                           "num_experts_per_tok": a.experts_used, "experts_per_token": a.experts_used,
                           "layer_types": ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(a.layers)],
                           "sliding_window": a.sliding_window, "rope_theta": 150000, "initial_context_length": 64,
                           "rope_scaling": {"beta_fast": 32.0, "beta_slow": 1.0, "factor": 4.0,
                                            "original_max_position_embeddings": 64, "rope_type": "yarn", "truncate": False},
                           "swiglu_limit": 7.0, "router_aux_loss_coef": 0.9, "output_router_logits": False,
                           "quantization_config": {"modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router",
                                                                              "model.embed_tokens", "lm_head"],
                                                   "quant_method": "mxfp4"}})
            tok_cfg = {"bos_token": "<|startoftext|>", "eos_token": "<|return|>", "pad_token": "<|endoftext|>",
                       "model_max_length": 256, "tokenizer_class": "PreTrainedTokenizerFast"}
            dump("generation_config.json", {"bos_token_id": ids["<|startoftext|>"], "do_sample": True,
                                            "eos_token_id": [ids["<|return|>"], ids["<|endoftext|>"], ids["<|call|>"]],
                                            "pad_token_id": ids["<|endoftext|>"]})
        else:  # qwen3, as Qwen/Qwen3-8B: bos <|endoftext|> in config.json, eos <|im_end|>
            config.update({"bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"], "rms_norm_eps": 1e-6,
                           "head_dim": hd, "attention_bias": False, "use_sliding_window": False, "sliding_window": None,
                           "max_window_layers": a.layers})
            tok_cfg = {"add_bos_token": False, "bos_token": None, "eos_token": "<|im_end|>",
                       "pad_token": "<|endoftext|>", "tokenizer_class": "Qwen2Tokenizer"}
        dump("config.json", config)
        dump("tokenizer.json", tok_json)
        dump("tokenizer_config.json", tok_cfg)
        print(f"wrote {a.out}: {len(tensors)} tensors, vocab {n_vocab}, {a.dtype}, {a.shards} file(s)")
        return 0
    dump("config.json", config)
    with open(os.path.join(a.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(sp, dummy_prefix=not gemma), f, ensure_ascii=False)
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump({"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
                   "unk_token": "<unk>", "tokenizer_class": "LlamaTokenizer"}, f)
    with open(os.path.join(a.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 1, "eos_token_id": 2}, f)
    print(f"wrote {a.out}: {len(tensors)} tensors, vocab {n_vocab}, {a.dtype}, {a.shards} file(s)")


if __name__ == "__main__":
    sys.exit(main())
