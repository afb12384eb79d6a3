#!/usr/bin/env python3
"""test_hf_checkpoint.py CASE --sci-infer BIN --compare-view BIN --workdir DIR

Hugging Face checkpoint directories against llama.cpp's conversion of them. Each case writes a
random checkpoint with numpy (make_hf_checkpoint.py), converts it with llama.cpp's
convert_hf_to_gguf.py (convert.py) and requires:
  - the directory's GGUF view is the converted file: same tensors (bytes; Q/K up to the
    converter's permutation), same metadata (hf_compare_view);
  - the same token ids for a set of texts, from the directory and from the converted file;
  - sci_infer's logits on the directory == on the converted file at every position, bit for bit
    (same dtypes; needs the engine's "neox" RoPE layout with the pair-order q.k of shared_notes.md);
  - within 1e-3 (F32; BF16: cosine >= 0.999) of llama.cpp on the converted file, every position;
  - tensor parallelism from the directory (--tp 2) gives the same bits as --tp 1.
errors: malformed headers, truncated files, config.json disagreeing with the tensors, broken
shard indexes: each refused with a message naming the file and the tensor or key.
Exit 0 pass, 1 fail, 77 skipped (a tool missing; the reason printed)."""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77
TEXTS = ["hello world", "The quick brown fox jumps over the lazy dog.",
         "naïve café 123\n tabs\tx ünïcödé 漢字 emoji 🙂", "  leading spaces and trailing  "]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(cmd, expect_ok=True):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if expect_ok and p.returncode != 0:
        raise RuntimeError(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-2000:]}{p.stderr[-3000:]}")
    return p


def make(work, name, *args):
    d = os.path.join(work, name)
    run([sys.executable, os.path.join(HERE, "make_hf_checkpoint.py"), d] + list(args))
    return d


def convert(d, outtype):
    out = d + ".gguf"
    run([sys.executable, os.path.join(HERE, "convert.py"), d, "--outtype", outtype, "--outfile", out])
    return out


def logits(a, model, tokens, tp=1):
    out = tempfile.mktemp(suffix=".f32", dir=a.workdir)
    mpi = [shutil.which("mpiexec") or "mpiexec", "-n", str(tp)] if tp > 1 else []
    run(mpi + [a.sci_infer, "logits", "--model", model, "--tokens", ",".join(map(str, tokens)), "--all-positions",
         "--threads", "1" if tp > 1 else "2", "--tp", str(tp), "--out", out])
    v = np.fromfile(out, "<f4")
    os.remove(out)
    return v


def tokenize(a, model, text):
    return run([a.sci_infer, "tokenize", "--model", model, "-p", text]).stdout.strip()


def compare_to_converted(a, d, gguf_path):
    p = run([a.compare_view, d, gguf_path], expect_ok=False)
    print(p.stdout.strip()[-3000:])
    check(p.returncode == 0, f"{os.path.basename(d)}: GGUF view == converted file (tensors, metadata)")
    for t in TEXTS:
        x, y = tokenize(a, d, t), tokenize(a, gguf_path, t)
        check(x == y, f"{os.path.basename(d)}: same tokens for {t!r} ({x[:60]})")
    toks = [int(t) for t in tokenize(a, gguf_path, TEXTS[1]).split(",")][:24]
    hf, gg = logits(a, d, toks), logits(a, gguf_path, toks)
    diff = float(np.max(np.abs(hf.astype(np.float64) - gg))) if hf.shape == gg.shape else float("inf")
    print(f"     logits directory vs converted GGUF, {len(toks)} positions: max|diff| {diff:.3e}")
    check(hf.tobytes() == gg.tobytes(), f"{os.path.basename(d)}: logits on the directory == on the converted GGUF, bit for bit")
    tp2 = logits(a, d, toks, tp=2)
    check(tp2.tobytes() == hf.tobytes(), f"{os.path.basename(d)}: --tp 2 from the directory == --tp 1, bit for bit")
    return toks, hf


def case_f32_single(a):
    # F32, one file, untied, Llama 3.1 RoPE scaling (the view's rope_freqs.weight vs the converter's).
    d = make(a.workdir, "f32_single", "--dtype", "f32", "--rope", "llama3")
    g = convert(d, "f32")
    compare_to_converted(a, d, g)
    p = run([a.sci_infer, "inspect", d])
    check("model: llama" in p.stdout and "untied output, weights F32" in p.stdout, "inspect DIR describes the model")
    against_llamacpp(a, "f32_single", d, g, "f32")


def case_bf16_sharded(a):
    # BF16, three files with an index, tied output, linear RoPE scaling.
    d = make(a.workdir, "bf16_sharded", "--dtype", "bf16", "--shards", "3", "--rope", "linear", "--layers", "3", "--tied")
    g = convert(d, "bf16")
    compare_to_converted(a, d, g)
    against_llamacpp(a, "bf16_sharded", d, g, "bf16")


def against_llamacpp(a, name, d, g, dtype):
    """F32: within 1e-3 everywhere. BF16: llama.cpp rounds the activations to BF16 for its BF16
    matmuls (sci_infer keeps them F32), so there the limit is cosine >= 0.999 per position and
    the max|diff| is reported."""
    toks = [int(t) for t in tokenize(a, g, TEXTS[1]).split(",")][:24]
    hf = logits(a, d, toks).astype(np.float64)
    peer = os.environ.get("PEER_DIR", "/tmp/peer")
    out = os.path.join(a.workdir, name + ".peer.f32")
    env = dict(os.environ, NLC=os.path.join(peer, "npm", "node_modules", "node-llama-cpp"))
    cmd = ["node", os.path.join(HERE, "..", "peer", "llamacpp_logits.mjs"), "--model", g, "--tokens",
           ",".join(map(str, toks)), "--out", out, "--kv-type", "f32", "--all-positions", "--threads", "2"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"llama.cpp failed: {p.stderr[-2000:]}")
    ref = np.fromfile(out, "<f4").astype(np.float64)
    if ref.shape != hf.shape:
        check(False, f"{name}: llama.cpp gave {ref.size} logits, sci_infer {hf.size}")
        return
    diff = float(np.max(np.abs(ref - hf)))
    r, h = ref.reshape(len(toks), -1), hf.reshape(len(toks), -1)
    cos = float(np.min(np.sum(r * h, 1) / (np.linalg.norm(r, axis=1) * np.linalg.norm(h, axis=1))))
    print(f"     {name}: llama.cpp (converted GGUF) vs sci_infer (directory), {len(toks)} positions: "
          f"max|diff| {diff:.3e}, min cosine {cos:.7f}, |ref|max {np.max(np.abs(ref)):.2f}")
    if dtype == "f32":
        check(diff <= 1e-3, f"{name}: directory logits within 1e-3 of llama.cpp on the converted file, every position")
    else:
        check(cos >= 0.999, f"{name}: directory logits' cosine with llama.cpp >= 0.999 at every position")


def case_gemma2(a):
    # Gemma 2: norms stored as w - 1 (the view adds 1 as the converter does), four per layer,
    # tied output, soft-capping; SentencePiece without the dummy prefix.
    d = make(a.workdir, "gemma2", "--arch", "gemma2", "--dtype", "bf16", "--shards", "2")
    g = convert(d, "bf16")
    compare_to_converted(a, d, g)
    against_llamacpp(a, "gemma2", d, g, "bf16")


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n])
    return {k: np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], "<f4").reshape(v["shape"])
            for k, v in h.items() if k != "__metadata__"}


def write_qwen2_gguf(d, out):
    """The GGUF llama.cpp expects for this Qwen 2 checkpoint, written here with gguf-py from the
    checkpoint's arrays (names from gguf-py's tensor map), independently of sci_infer."""
    sys.path.insert(0, os.path.join(os.environ.get("PEER_DIR", "/tmp/peer"), "llama.cpp", "gguf-py"))
    import gguf
    cfg = json.load(open(os.path.join(d, "config.json")))
    tj = json.load(open(os.path.join(d, "tokenizer.json"), encoding="utf-8"))
    w = gguf.GGUFWriter(out, "qwen2")
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_rope_freq_base(cfg["rope_theta"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    n = cfg["vocab_size"]
    tokens, types = [""] * n, [gguf.TokenType.NORMAL] * n
    for t, i in tj["model"]["vocab"].items():
        tokens[i] = t
    for t in tj["added_tokens"]:
        tokens[t["id"]], types[t["id"]] = t["content"], gguf.TokenType.CONTROL
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(tj["model"]["merges"])
    w.add_eos_token_id(cfg["eos_token_id"])
    w.add_bos_token_id(cfg["bos_token_id"])
    w.add_add_bos_token(False)
    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, cfg["num_hidden_layers"])
    for name, arr in read_safetensors(os.path.join(d, "model.safetensors")).items():
        new = tmap.get_name(name, try_suffixes=(".weight", ".bias"))
        w.add_tensor(new, np.ascontiguousarray(arr, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


def case_qwen2(a):
    # Qwen 2: Q/K/V biases, NEOX RoPE as stored, a byte-level BPE tokenizer.json (Split regex ->
    # pre "qwen2", NFC, ByteLevel post-processor: no BOS). No converter here (it needs HF
    # transformers for BPE vocabularies): the reference GGUF is written with gguf-py.
    d = make(a.workdir, "qwen2", "--arch", "qwen2", "--dtype", "f32")
    g = write_qwen2_gguf(d, d + ".gguf")
    compare_to_converted(a, d, g)
    toks = tokenize(a, d, "hello world, the quick brown fox 123")
    check(toks.split(",")[-3:] == ["49", "50", "51"] and not toks.startswith("400"),
          f"qwen2: digits split one by one, no BOS ({toks})")
    against_llamacpp(a, "qwen2", d, g, "f32")


def case_run_verify(a):
    # A batch job from a directory (2 ranks), its provenance, `verify`; then one weight byte of a
    # shard changed: verify must name the changed model (directory hash over every file).
    import h5py
    d = make(a.workdir, "run_verify", "--dtype", "f32", "--shards", "2", "--layers", "1")
    inp, out = os.path.join(a.workdir, "in.h5"), os.path.join(a.workdir, "out.h5")
    with h5py.File(inp, "w") as f:
        f.create_dataset("prompts", data=["hello world", "the quick brown fox"], dtype=h5py.string_dtype("utf-8"))
    run([shutil.which("mpiexec") or "mpiexec", "-n", "2", a.sci_infer, "run", "-m", d, "-i", inp, "-o", out,
         "--task", "generate", "--max-new-tokens", "4", "--seed", "1", "--threads", "1"])
    with h5py.File(out, "r") as f:
        fp = f.attrs.get("sci_infer.model_fingerprint")
        sha = f.attrs.get("sci_infer.model_sha256")
    fp = fp.decode() if isinstance(fp, bytes) else str(fp)
    sha = sha.decode() if isinstance(sha, bytes) else str(sha)
    import hashlib
    lines = "".join(f"{n} {hashlib.sha256(open(os.path.join(d, n), 'rb').read()).hexdigest()}\n"
                    for n in sorted(os.listdir(d)) if not n.startswith(".") and os.path.isfile(os.path.join(d, n)))
    check(sha == hashlib.sha256(lines.encode()).hexdigest(), "model_sha256 of the directory = SHA-256 of its 'name sha256' lines")
    check(len(fp) == 64, f"model_fingerprint recorded ({fp[:16]}...)")
    p = run([a.sci_infer, "verify", out, "--sample", "2"], expect_ok=False)
    check(p.returncode == 0 and "2 identical" in p.stdout + p.stderr, "verify reruns the records from the directory bit for bit")
    shard = os.path.join(d, "model-00002-of-00002.safetensors")
    raw = bytearray(open(shard, "rb").read())
    raw[-3] ^= 0x40
    open(shard, "wb").write(bytes(raw))
    p = run([a.sci_infer, "verify", out, "--sample", "2"], expect_ok=False)
    check(p.returncode != 0 and "differs from the recorded" in p.stdout + p.stderr,
          f"verify names the changed model file content (rc {p.returncode}: {(p.stdout + p.stderr).strip()[-160:]})")


# ---- errors ----

def safetensors_bytes(header, data=b"", pad=True):
    h = json.dumps(header).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def expect_error(a, d, what, *needles):
    p = run([a.sci_infer, "inspect", d], expect_ok=False)
    msg = (p.stdout + p.stderr).strip().splitlines()
    last = msg[-1] if msg else ""
    ok = p.returncode != 0 and all(n in p.stdout + p.stderr for n in needles)
    check(ok, f"{what}: refused naming {needles} (rc {p.returncode}: {last[:200]})")


def case_errors(a):
    base = make(a.workdir, "err_base", "--dtype", "f32", "--layers", "1", "--shards", "2")
    n = 0

    def variant(name):
        nonlocal n
        n += 1
        d = os.path.join(a.workdir, f"err_{n}_{name}")
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(base, d)
        return d

    shard1 = "model-00001-of-00002.safetensors"
    shard2 = "model-00002-of-00002.safetensors"
    raw = open(os.path.join(base, shard1), "rb").read()
    hlen = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + hlen])
    data = raw[8 + hlen:]
    first = next(k for k in header if k != "__metadata__")

    d = variant("truncated")
    open(os.path.join(d, shard1), "wb").write(raw[:-100])
    expect_error(a, d, "truncated safetensors file", shard1, "extend past the end")

    d = variant("absurd_header_length")
    open(os.path.join(d, shard1), "wb").write(struct.pack("<Q", 1 << 40) + raw[8:])
    expect_error(a, d, "absurd header length", shard1, "header length")

    d = variant("not_json")
    open(os.path.join(d, shard1), "wb").write(struct.pack("<Q", 16) + b"{not json at all" + data)
    expect_error(a, d, "header not JSON", shard1, "not valid JSON")

    d = variant("overlap")
    h = json.loads(json.dumps(header))
    names = sorted((k for k in h if k != "__metadata__"), key=lambda k: h[k]["data_offsets"][0])
    b0, e0 = h[names[1]]["data_offsets"]
    h[names[1]]["data_offsets"] = [b0 - 4, e0 - 4]
    open(os.path.join(d, shard1), "wb").write(safetensors_bytes(h, data))
    expect_error(a, d, "overlapping tensors", shard1, "overlap", names[1])

    d = variant("shape_vs_offsets")
    h = json.loads(json.dumps(header))
    h[first]["shape"] = [h[first]["shape"][0] + 1] + h[first]["shape"][1:]
    open(os.path.join(d, shard1), "wb").write(safetensors_bytes(h, data))
    expect_error(a, d, "shape disagreeing with data_offsets", shard1, first)

    d = variant("bad_dtype")
    h = json.loads(json.dumps(header))
    h[first]["dtype"] = "F33"
    open(os.path.join(d, shard1), "wb").write(safetensors_bytes(h, data))
    expect_error(a, d, "unknown dtype", shard1, first, "F33")

    d = variant("int_dtype")
    h = json.loads(json.dumps(header))
    h[first]["dtype"] = "I32"
    open(os.path.join(d, shard1), "wb").write(safetensors_bytes(h, data))
    expect_error(a, d, "unsupported dtype", shard1, first, "I32")

    d = variant("duplicate_key")
    txt = json.dumps(header)
    dup = '{"' + first + '": ' + json.dumps(header[first]) + ", " + txt[1:]
    open(os.path.join(d, shard1), "wb").write(safetensors_bytes(json.loads(txt), data)[:0] +
                                              struct.pack("<Q", len(dup)) + dup.encode() + data)
    expect_error(a, d, "duplicate tensor name in a header", shard1, first, "twice")

    d = variant("tensor_in_two_files")
    raw2 = open(os.path.join(base, shard2), "rb").read()
    h2len = struct.unpack("<Q", raw2[:8])[0]
    h2 = json.loads(raw2[8:8 + h2len])
    data2 = raw2[8 + h2len:]
    size = header[first]["data_offsets"][1] - header[first]["data_offsets"][0]
    h2[first] = dict(header[first], data_offsets=[len(data2), len(data2) + size])
    open(os.path.join(d, shard2), "wb").write(safetensors_bytes(h2, data2 + b"\0" * size))
    expect_error(a, d, "tensor in two shard files", first, shard1, shard2)

    d = variant("index_missing_tensor")
    idx = json.load(open(os.path.join(d, "model.safetensors.index.json")))
    idx["weight_map"]["model.layers.0.extra.weight"] = shard2
    json.dump(idx, open(os.path.join(d, "model.safetensors.index.json"), "w"))
    expect_error(a, d, "index names a tensor its file lacks", "model.layers.0.extra.weight", shard2)

    d = variant("config_hidden")
    cfg = json.load(open(os.path.join(d, "config.json")))
    cfg["hidden_size"] = 48
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    expect_error(a, d, "config.json hidden_size disagreeing with the tensors", "config.json", "hidden_size", "model.embed_tokens.weight")

    d = variant("config_heads")
    cfg = json.load(open(os.path.join(d, "config.json")))
    cfg["num_key_value_heads"] = 4
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    expect_error(a, d, "config.json num_key_value_heads disagreeing", "config.json", "num_key_value_heads", "k_proj")

    d = variant("config_layers")
    cfg = json.load(open(os.path.join(d, "config.json")))
    cfg["num_hidden_layers"] = 2
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    expect_error(a, d, "config.json num_hidden_layers disagreeing", "config.json", "num_hidden_layers")

    d = variant("config_vocab")
    cfg = json.load(open(os.path.join(d, "config.json")))
    cfg["vocab_size"] += 1
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    expect_error(a, d, "config.json vocab_size disagreeing", "config.json", "vocab_size")

    d = variant("no_tokenizer")
    os.remove(os.path.join(d, "tokenizer.json"))
    expect_error(a, d, "tokenizer.json missing", "tokenizer.json")

    d = variant("unknown_arch")
    cfg = json.load(open(os.path.join(d, "config.json")))
    cfg["architectures"] = ["FalconForCausalLM"]
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    expect_error(a, d, "unsupported architecture", "config.json", "FalconForCausalLM")

    d = variant("unknown_pretokenizer")
    tj = json.load(open(os.path.join(d, "tokenizer.json"), encoding="utf-8"))
    tj["pre_tokenizer"] = {"type": "Whitespace"}
    json.dump(tj, open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8"))
    expect_error(a, d, "unsupported tokenizer component", "tokenizer.json", "Whitespace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--sci-infer", required=True)
    ap.add_argument("--compare-view", required=True)
    ap.add_argument("--workdir", default=tempfile.gettempdir())
    a = ap.parse_args()
    for mod, pkg in (("sentencepiece", "python3-sentencepiece"), ("torch", "python3-torch"), ("tqdm", "python3-tqdm")):
        try:
            __import__(mod)
        except ImportError:
            print(f"SKIPPED: {pkg} is not installed (scripts/deps.sh installs it)")
            return SKIP
    a.workdir = tempfile.mkdtemp(prefix=f"hf_{a.case}_", dir=a.workdir)
    try:
        globals()["case_" + a.case](a)
    except RuntimeError as e:
        print(f"FAIL {e}")
        return 1
    finally:
        shutil.rmtree(a.workdir, ignore_errors=True)
    print(f"{len(failures)} failure(s)" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
