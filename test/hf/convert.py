#!/usr/bin/env python3
"""convert.py [--bpe-pre NAME] ARGS... - runs llama.cpp's convert_hf_to_gguf.py (under
$PEER_DIR/llama.cpp) with Debian's python3-torch 1.13, which predates the float8 dtypes the
converter names in its dtype tables: they get stand-in objects that no real tensor dtype equals
(our checkpoints hold none), and test/hf/stub provides the transformers names it imports.

One step is stood in, and only with --bpe-pre: the converter reads a byte-level BPE vocabulary
(Qwen 2/3, gpt-oss: `_set_vocab_gpt2`) through HF transformers' AutoTokenizer, which Debian lacks.
`TextModel.get_vocab_base` (the one function that calls AutoTokenizer) is replaced by
`vocab_from_tokenizer_json` below, which returns what it returns for these tokenizer.json files:
the tokens by id up to config.json's vocab_size ([PADi] UNUSED where no token has the id), added
tokens CONTROL when `special` or looking special (the converter's own does_token_look_special),
else USER_DEFINED, the rest NORMAL; and as the pre-tokenizer name the NAME given (the converter
derives it from a hash of AutoTokenizer's output on a check text; the test names the one that
tokenizer.json's Split regex stands for: "qwen2", "gpt-4o"). Everything else -- merges, bos/eos/pad
ids, add_bos (gguf.SpecialVocab), hyper-parameters, every tensor, gpt-oss's MXFP4 repack -- is the
converter's own code. Nothing else is changed."""
import json
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
peer = os.path.join(os.environ.get("PEER_DIR", "/tmp/peer"), "llama.cpp")
sys.path[:0] = [os.path.join(HERE, "stub"), peer, os.path.join(peer, "gguf-py")]

import torch  # noqa: E402

for name in ("float8_e4m3fn", "float8_e5m2", "float8_e8m0fnu", "uint16", "uint32", "uint64"):
    if not hasattr(torch, name):
        setattr(torch, name, type(name, (), {})())  # a unique, never-matching stand-in

args = sys.argv[1:]
bpe_pre = None
if "--bpe-pre" in args:
    k = args.index("--bpe-pre")
    bpe_pre = args[k + 1]
    del args[k:k + 2]

if bpe_pre is not None:
    import gguf  # noqa: E402
    from conversion import base  # noqa: E402

    def vocab_from_tokenizer_json(self):
        with open(self.dir_model / "tokenizer.json", encoding="utf-8") as f:
            tj = json.load(f)
        vocab = dict(tj["model"]["vocab"])
        added = {t["content"]: t for t in tj.get("added_tokens", [])}
        for t in added.values():
            vocab[t["content"]] = t["id"]  # AutoTokenizer's .vocab includes the added tokens
        vocab_size = self.hparams.get("vocab_size", len(vocab))
        assert max(vocab.values()) < vocab_size
        reverse = {i: t for t, i in vocab.items()}
        tokens, toktypes = [], []
        for i in range(vocab_size):
            if i not in reverse:
                tokens.append(f"[PAD{i}]")
                toktypes.append(gguf.TokenType.UNUSED)
                continue
            token = reverse[i]
            if token in added:
                # (the converter re-encodes non-normalized added tokens through AutoTokenizer; for
                # these tokens, ASCII text that byte-level BPE maps to itself, that is the identity)
                if added[token].get("special") or self.does_token_look_special(token):
                    toktypes.append(gguf.TokenType.CONTROL)
                else:
                    token = token.replace("\u2581", " ")
                    toktypes.append(gguf.TokenType.USER_DEFINED)
            else:
                toktypes.append(gguf.TokenType.NORMAL)
            tokens.append(token)
        return tokens, toktypes, bpe_pre

    base.TextModel.get_vocab_base = vocab_from_tokenizer_json

script = os.path.join(peer, "convert_hf_to_gguf.py")
sys.argv = [script] + args
runpy.run_path(script, run_name="__main__")
