"""Model safety through the launcher: hostile metadata refused quickly with the key named,
non-finite weights that fail the records they reach (never status 0 with NaN results), and a
--kv-cache-mb budget whose records fit the same way at every --tp (issues 14 item 9, 15)."""
import math
import shutil
import struct
import time

import h5py
import numpy as np

from launcher_support import assert_same_results, main, sh

# Exit codes (apps/launcher/exit_codes.hpp): a job with failed records ends 4 (kExitRecordsFailed)
# once that is wired into `run`; 0 before. Either way the file holds every record with its status.
JOB_DONE = (0, 4)
KV_BLOCK = 32  # positions per KV-cache page (lib/kernels/ops.hpp kKvBlock)


# ---- a minimal GGUF reader (spec: ggml docs/gguf.md), independent of the C++ one ----------------
FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def gguf_layout(path):
    """Returns ({key: (type, value offset)}, {tensor: (ggml type, ne, absolute data offset)})."""
    b = open(path, "rb").read()
    assert b[:4] == b"GGUF"
    n_t, n_kv = struct.unpack_from("<QQ", b, 8)
    pos = 24

    def string(pos):
        n, = struct.unpack_from("<Q", b, pos)
        return b[pos + 8:pos + 8 + n].decode(), pos + 8 + n

    def skip(t, pos):
        if t == 8:
            return string(pos)[1]
        if t == 9:
            et, n = struct.unpack_from("<IQ", b, pos)
            pos += 12
            if et in FIXED:
                return pos + n * FIXED[et]
            for _ in range(n):
                pos = skip(et, pos)
            return pos
        return pos + FIXED[t]

    kv = {}
    for _ in range(n_kv):
        key, pos = string(pos)
        t, = struct.unpack_from("<I", b, pos)
        kv[key] = (t, pos + 4)
        pos = skip(t, pos + 4)
    align = struct.unpack_from("<I", b, kv["general.alignment"][1])[0] if "general.alignment" in kv else 32
    infos = []
    for _ in range(n_t):
        name, pos = string(pos)
        nd, = struct.unpack_from("<I", b, pos)
        ne = struct.unpack_from(f"<{nd}Q", b, pos + 4)
        typ, off = struct.unpack_from("<IQ", b, pos + 4 + 8 * nd)
        pos += 4 + 8 * nd + 12
        infos.append((name, typ, ne, off))
    data = (pos + align - 1) // align * align
    return kv, {name: (typ, ne, data + off) for name, typ, ne, off in infos}


def patched(src, dst, edits):
    """Copies src to dst with edits = [(absolute offset, bytes)]."""
    b = bytearray(open(src, "rb").read())
    for off, x in edits:
        b[off:off + len(x)] = x
    open(dst, "wb").write(b)
    return dst


def f32_at(path, tensor, element):
    _, tensors = gguf_layout(path)
    typ, ne, off = tensors[tensor]
    assert typ == 0, (tensor, typ)  # F32
    return off + 4 * element


def tokens_of(c, model, prompt):
    out = sh([c.bin, "tokenize", "-m", model, "-p", prompt]).stdout.strip()
    return [int(x) for x in out.split(",")] if out else []


def prompts_of(inp):
    with h5py.File(inp, "r") as f:
        return [p.decode() if isinstance(p, bytes) else p for p in f["prompts"][()]]


def status_error(path):
    with h5py.File(path, "r") as f:
        return list(f["results/status"][()]), [e.decode() if isinstance(e, bytes) else e for e in f["results/error"][()]]


def check_no_silent_garbage(path):
    """No record may have status 0 with a NaN or Inf among its results."""
    with h5py.File(path, "r") as f:
        st = f["results/status"][()]
        for name in ("logprobs", "embeddings"):
            if name not in f["results"]:
                continue
            for i, v in enumerate(f["results"][name][()]):
                v = np.asarray(v, dtype=np.float64)
                assert st[i] != 0 or np.isfinite(v).all(), f"record {i}: status 0 with non-finite {name} {v}"
        assert set(np.unique(st)) <= {0, 2}, st


# ---- cases ----------------------------------------------------------------------------------

def case_hostile_metadata(c):
    # The tiny model (~430 KB) claiming 2^30 layers, or a 2^30 context: refused (layers) or run
    # within the KV budget (context), quickly and with bounded memory.
    kv, _ = gguf_layout(c.model)
    t, off = kv["llama.block_count"]
    assert t == 4, t  # UINT32
    bad = patched(c.model, c.path("layers.gguf"), [(off, struct.pack("<I", 1 << 30))])
    t0 = time.time()
    p = sh(["prlimit", f"--as={2 << 30}", c.bin, "inspect", bad], check=False)
    assert time.time() - t0 < 10, "inspect took too long"
    assert p.returncode == 2 and "llama.block_count = 1073741824" in p.stderr, (p.returncode, p.stderr)
    p = sh(["prlimit", f"--as={2 << 30}", c.bin, "run", "-m", bad, "-i", c.make_input("in.h5", 4, emb=False), "-o",
            c.path("layers.h5")], check=False)
    assert p.returncode != 0 and "llama.block_count = 1073741824" in p.stderr, (p.returncode, p.stderr)
    t, off = kv["llama.context_length"]
    ctx = patched(c.model, c.path("ctx.gguf"), [(off, struct.pack("<I", 1 << 30))])
    # Before: a 64 x 2^25-entry page table (8 GiB) outside --kv-cache-mb. Now: bounded by the budget.
    p = sh(["prlimit", f"--as={3 << 30}", c.mpiexec, "-n", 1, c.bin, "run", "-m", ctx, "-i", c.path("in.h5"), "-o",
            c.path("ctx.h5"), "--kv-cache-mb", 4, "--max-new-tokens", 4], check=False)
    assert p.returncode in JOB_DONE, (p.returncode, p.stderr)
    assert status_error(c.path("ctx.h5"))[0] == [0] * 4


def case_nonfinite_weights(c):
    # Untied, so a NaN in one embedding row poisons only the records whose inputs use that token.
    model = c.path("untied.gguf")
    sh([c.bin, "make-model", "--preset", "tiny", "--seed", "3", "--context", "256", "--untied", "--out", model])
    inp = c.make_input("in.h5", 24, emb=False)
    prompts = prompts_of(inp)
    toks = [tokens_of(c, model, p) for p in prompts]
    bad_token = tokens_of(c, model, "gamma")[1]  # in some prompts, not in "alpha" or "alpha beta"
    assert bad_token not in tokens_of(c, model, "alpha beta"), bad_token
    dim = 64
    nan_emb = patched(model, c.path("nan_emb.gguf"),
                      [(f32_at(model, "token_embd.weight", bad_token * dim + 5), struct.pack("<f", math.nan))])
    # Scoring uses the logits of every position but the last: exactly the records with the token there fail.
    p = sh([c.mpiexec, "-n", 2, c.bin, "run", "-m", nan_emb, "-i", inp, "-o", c.path("score.h5"), "--task", "score"],
           check=False)
    assert p.returncode in JOB_DONE, (p.returncode, p.stderr)
    check_no_silent_garbage(c.path("score.h5"))
    st, err = status_error(c.path("score.h5"))
    expect_fail = [bad_token in t[:-1] for t in toks]
    assert any(expect_fail) and not all(expect_fail), expect_fail
    for i, fail in enumerate(expect_fail):
        if fail:
            pos = toks[i].index(bad_token)
            assert st[i] == 2 and f"non-finite logits at position {pos}" in err[i], (i, st[i], err[i])
        else:
            assert st[i] == 0, (i, st[i], err[i])
    # Generation: every record whose prompt holds the token fails; none passes with NaN log-probs.
    p = sh([c.mpiexec, "-n", 2, c.bin, "run", "-m", nan_emb, "-i", inp, "-o", c.path("gen.h5"), "--max-new-tokens", 6],
           check=False)
    assert p.returncode in JOB_DONE, (p.returncode, p.stderr)
    check_no_silent_garbage(c.path("gen.h5"))
    st, err = status_error(c.path("gen.h5"))
    for i, t in enumerate(toks):
        if bad_token in t:
            assert st[i] == 2 and "non-finite logits" in err[i], (i, st[i], err[i])
    # A NaN in an FFN matrix reaches every record.
    nan_ffn = patched(model, c.path("nan_ffn.gguf"),
                      [(f32_at(model, "blk.1.ffn_down.weight", 1000), struct.pack("<f", math.inf))])
    p = sh([c.mpiexec, "-n", 2, c.bin, "run", "-m", nan_ffn, "-i", inp, "-o", c.path("ffn.h5"), "--max-new-tokens", 4],
           check=False)
    assert p.returncode in JOB_DONE, (p.returncode, p.stderr)
    check_no_silent_garbage(c.path("ffn.h5"))
    st, err = status_error(c.path("ffn.h5"))
    assert st == [2] * len(prompts), st
    assert all("non-finite logits at position" in e for e in err), err
    # inspect --check-finite names the tensor and element; the clean model passes.
    p = sh([c.bin, "inspect", "--check-finite", nan_ffn], check=False)
    # blk.1.ffn_down.weight is [ffn 128, dim 64]: element 1000 = column 1000 % 128, row 1000 // 128.
    assert p.returncode == 2 and "tensor 'blk.1.ffn_down.weight' element [104, 7] (flat index 1000) is Inf" in p.stderr, \
        (p.returncode, p.stderr)
    p = sh([c.bin, "inspect", "--check-finite", nan_emb], check=False)
    assert p.returncode == 2 and f"tensor 'token_embd.weight' element [5, {bad_token}]" in p.stderr, p.stderr
    p = sh([c.bin, "inspect", "--check-finite", model])
    assert "every value of the 21 tensors is finite" in p.stdout, p.stdout


def case_kv_budget_tp(c):
    # A GQA model whose 2 KV heads are split at tp 2: before, each rank's budget held twice the
    # pages, so records refused at tp 1 ran at tp 2 and verify (tp 1) called them DIFFERENT.
    model = c.path("gqa.gguf")
    sh([c.bin, "make-model", "--preset", "tiny", "--dim", "256", "--heads", "8", "--kv-heads", "2", "--ffn", "512",
        "--seed", "4", "--context", "256", "--out", model])
    c.model, c.dim = model, 256
    inp = c.make_input("in.h5", 24)
    # Whole model: 2 layers x (K, V) x 32 positions x 2 KV heads x 32 dims x 4 bytes = 32 KiB a page.
    page_bytes = 2 * 2 * KV_BLOCK * 2 * 32 * 4
    budget_mb = 0.1875  # 192 KiB: 6 pages of the whole model
    pages = int(budget_mb * 1024 * 1024) // page_bytes
    assert pages == 6
    max_new = 150
    with h5py.File(inp, "r") as f:
        emb_len = list(f["embedding_lengths"][()])
    # Which records fit follows from the input alone: prompt tokens + embedding rows + max_new.
    need = [math.ceil(min(len(tokens_of(c, model, p)) + e + max_new, 256) / KV_BLOCK)
            for p, e in zip(prompts_of(inp), emb_len)]
    expect_fail = [n > pages for n in need]
    assert any(expect_fail) and not all(expect_fail), need
    gen = ["--kv-cache-mb", budget_mb, "--max-new-tokens", max_new, "--temperature", "0.9", "--top-k", "20",
           "--seed", "5", "--threads", "1", "--claim-records", "3"]
    for tp in (1, 2):
        p = c.run(2, inp, c.path(f"tp{tp}.h5"), *gen, "--tp", tp, check=False)
        assert p.returncode in JOB_DONE, (tp, p.returncode, p.stderr)
        st, err = status_error(c.path(f"tp{tp}.h5"))
        for i, fail in enumerate(expect_fail):
            if fail:
                assert st[i] == 2 and f"needs {need[i]} KV-cache pages but the cache has {pages}" in err[i], \
                    (tp, i, st[i], err[i])
            else:
                assert st[i] == 0, (tp, i, st[i], err[i])
    assert_same_results(c.path("tp1.h5"), c.path("tp2.h5"), "tp 1 vs tp 2 under the same --kv-cache-mb")
    v = sh([c.bin, "verify", c.path("tp2.h5")], check=False)
    assert v.returncode == 0 and "24 identical, 0 different" in v.stdout, (v.returncode, v.stdout, v.stderr)


if __name__ == "__main__":
    main({n[5:]: f for n, f in dict(globals()).items() if n.startswith("case_")})
