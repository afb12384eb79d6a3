#!/usr/bin/env python3
"""make_arch_gguf_py.py OUT.gguf - a random-weight qwen3 model written by llama.cpp's gguf-py.

Not sci-infer's maker: llama.cpp's own GGUFWriter and its key/tensor-name constants
(gguf.MODEL_ARCH.QWEN3, gguf.TENSOR_NAMES), so a convention that the engine and its maker
got wrong together shows up against llama.cpp. Shape on purpose unusual: head_dim 20 (key_length)
with dim 48 and 6 heads (GQA ratio 3), 3 layers, untied output. Needs
PYTHONPATH=$PEER_DIR/llama.cpp/gguf-py.
"""
import sys

import numpy as np
import gguf

ARCH = gguf.MODEL_ARCH.QWEN3
N_VOCAB, DIM, N_LAYERS, N_HEADS, N_KV, HEAD_DIM, FFN, CTX = 320, 48, 3, 6, 2, 20, 96, 256


def tname(t, bid=None, suffix="weight"):
    name = gguf.TENSOR_NAMES[t]
    return (name.format(bid=bid) if bid is not None else name) + "." + suffix


def main(out):
    rng = np.random.default_rng(20261201)
    w = gguf.GGUFWriter(out, gguf.MODEL_ARCH_NAMES[ARCH])
    w.add_name("gguf-py-qwen3")
    w.add_context_length(CTX)
    w.add_embedding_length(DIM)
    w.add_block_count(N_LAYERS)
    w.add_feed_forward_length(FFN)
    w.add_head_count(N_HEADS)
    w.add_head_count_kv(N_KV)
    w.add_key_length(HEAD_DIM)
    w.add_value_length(HEAD_DIM)
    w.add_rope_freq_base(1000000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    # A SentencePiece-style vocabulary: specials, the 256 byte tokens, then plain pieces.
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tokens += [f"\u2581t{i}" for i in range(N_VOCAB - len(tokens))]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + \
        [gguf.TokenType.BYTE] * 256 + [gguf.TokenType.NORMAL] * (N_VOCAB - 259)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([float(-i) for i in range(N_VOCAB)])
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)

    def mat(n_out, n_in, std):  # numpy shape (rows, cols) = ggml (ne[1], ne[0])
        return (rng.standard_normal((n_out, n_in)) * std).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    T = gguf.MODEL_TENSOR
    q, kv = N_HEADS * HEAD_DIM, N_KV * HEAD_DIM
    w.add_tensor(tname(T.TOKEN_EMBD), mat(N_VOCAB, DIM, 2 / np.sqrt(DIM)))
    for i in range(N_LAYERS):
        w.add_tensor(tname(T.ATTN_NORM, i), norm(DIM))
        w.add_tensor(tname(T.ATTN_Q, i), mat(q, DIM, 1 / np.sqrt(DIM)))
        w.add_tensor(tname(T.ATTN_K, i), mat(kv, DIM, 1 / np.sqrt(DIM)))
        w.add_tensor(tname(T.ATTN_V, i), mat(kv, DIM, 1 / np.sqrt(DIM)))
        w.add_tensor(tname(T.ATTN_Q_NORM, i), norm(HEAD_DIM))
        w.add_tensor(tname(T.ATTN_K_NORM, i), norm(HEAD_DIM))
        w.add_tensor(tname(T.ATTN_OUT, i), mat(DIM, q, 1 / np.sqrt(q)))
        w.add_tensor(tname(T.FFN_NORM, i), norm(DIM))
        w.add_tensor(tname(T.FFN_GATE, i), mat(FFN, DIM, 1 / np.sqrt(DIM)))
        w.add_tensor(tname(T.FFN_UP, i), mat(FFN, DIM, 1 / np.sqrt(DIM)))
        w.add_tensor(tname(T.FFN_DOWN, i), mat(DIM, FFN, 1 / np.sqrt(FFN)))
    w.add_tensor(tname(T.OUTPUT_NORM), norm(DIM))
    w.add_tensor(tname(T.OUTPUT), mat(N_VOCAB, DIM, 2 / np.sqrt(DIM)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {out} (gguf-py {ARCH.name}, head_dim {HEAD_DIM})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
