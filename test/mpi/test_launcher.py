#!/usr/bin/env python3
"""End-to-end tests of `sci-infer run` under mpiexec, with real signals.

    test_launcher.py CASE --sci-infer BIN --mpiexec MPIEXEC --workdir DIR
CASE: rank_invariance | signals | bad_input | tasks | tensor_parallel. Exit 0 = pass; any failure raises.
"""
import os
import signal
import subprocess
import time

import h5py
import numpy as np

from launcher_support import Ctx, assert_same_results, committed_bytes, interrupted_run, main, sh


def case_rank_invariance(c):
    inp = c.make_input("in.h5", 48)
    gen = ["--temperature", "0.9", "--top-k", "20", "--max-new-tokens", "24", "--seed", "5", "--claim-records", "3"]
    for n in (1, 2, 4):
        c.run(n, inp, c.path(f"out{n}.h5"), *gen)
    assert_same_results(c.path("out1.h5"), c.path("out2.h5"), "-n 1 vs -n 2")
    assert_same_results(c.path("out1.h5"), c.path("out4.h5"), "-n 1 vs -n 4")
    # Different batch limits and threads on one rank: still the same bits.
    c.run(1, inp, c.path("out1b.h5"), *gen, "--max-batch", "3", "--step-tokens", "17", "--threads", "1")
    assert_same_results(c.path("out1.h5"), c.path("out1b.h5"), "batch 64 vs batch 3")
    # Every record alone through the library, from the recorded provenance.
    v = sh([c.bin, "verify", c.path("out2.h5")])
    assert "48 identical, 0 different" in v.stdout, v.stdout
    with h5py.File(c.path("out2.h5")) as f:
        st = f["results/status"][()]
        assert (st == 0).all(), st
        for a in ["version", "git_commit", "model_sha256", "model_metadata", "config", "seed", "n_ranks", "hostnames",
                  "start_time", "end_time", "task"]:
            assert "sci_infer." + a in f.attrs, a
        assert f.attrs["sci_infer.n_ranks"] == 2
    assert not os.path.exists(c.path("out2.h5") + ".journal"), "journal left behind after a complete run"


def case_signals(c):
    inp = c.make_input("in.h5", 1500, emb=False)
    gen = ["--max-new-tokens", "48", "--seed", "9", "--temperature", "0.7", "--ignore-eos", "--claim-records", "4",
           "--max-batch", "8"]
    c.run(2, inp, c.path("ref.h5"), *gen)
    cases = ((signal.SIGTERM, "sigterm", True), (signal.SIGUSR1, "sigusr1", True), (signal.SIGKILL, "sigkill", True),
             (signal.SIGTERM, "sigterm_mpiexec", False))
    for sig, name, to_ranks in cases:
        out = c.path(f"{name}.h5")
        rc, so, se = interrupted_run(c, inp, out, gen, sig, 0.3, to_ranks)
        if sig != signal.SIGKILL:
            # Every rank exits 75. MPICH's mpiexec, when it is signalled itself, sometimes
            # reports 0 whatever its ranks returned, so its code is checked only when the ranks
            # alone were signalled; the stop message is checked always.
            if to_ranks:
                assert rc == 75, f"{name}: expected exit code 75, got {rc}\n{so}\n{se}"
            assert "interrupted: rerun with --resume" in so, f"{name}: no stop message\n{so}\n{se}"
            with h5py.File(out) as f:  # a clean, readable, partial snapshot
                st = f["results/status"][()]
                done = int((st != -1).sum())
            assert 0 < done < 1500, f"{name}: {done} records done at interruption"
        elif os.path.exists(out):
            with h5py.File(out) as f:  # whatever snapshot exists is readable
                f["results/status"][()]
        c.run(2, inp, out, *gen, "--resume")
        assert_same_results(c.path("ref.h5"), out, f"resume after {name} vs uninterrupted")
        print(f"{name}: rc={rc}, resumed to an identical output")


def case_bad_input(c):
    # Whole-file problems: stop before any work, message names file and dataset.
    bad = c.path("no_records.h5")
    with h5py.File(bad, "w") as f:
        f["seeds"] = np.arange(3, dtype=np.uint64)
    p = c.run(2, bad, c.path("o1.h5"), check=False)
    assert p.returncode != 0 and "no_records.h5" in p.stderr and "/prompts" in p.stderr, p.stderr
    assert not os.path.exists(c.path("o1.h5"))
    mism = c.make_input("mismatch.h5", 10, emb=False, max_new_tokens=np.ones(7, np.int32))
    p = c.run(1, mism, c.path("o2.h5"), check=False)
    assert p.returncode != 0 and "/max_new_tokens" in p.stderr and "mismatch.h5" in p.stderr, p.stderr
    wrong_w = c.path("wrong_width.h5")
    with h5py.File(wrong_w, "w") as f:
        f.create_dataset("prompts", data=["a", "b"], dtype=h5py.string_dtype("utf-8"))
        f["embeddings"] = np.zeros((2, 2, c.dim + 1), np.float32)
    p = c.run(1, wrong_w, c.path("o3.h5"), check=False)
    assert p.returncode != 0 and "/embeddings" in p.stderr, p.stderr
    p = c.run(1, c.path("missing.h5"), c.path("o4.h5"), check=False)
    assert p.returncode != 0 and "missing.h5" in p.stderr, p.stderr
    # Per-record problems: that record fails with a message, every other record completes.
    n = 8
    path = c.path("records.h5")
    with h5py.File(path, "w") as f:
        vl = h5py.vlen_dtype(np.int32)
        toks = f.create_dataset("tokens", (n,), dtype=vl)
        for i in range(n):
            toks[i] = np.array([1, 5 + i, 9], np.int32)
        toks[1] = np.array([1, 99999], np.int32)          # id out of range
        toks[2] = np.array([], np.int32)                   # empty record
        toks[3] = np.arange(1, 400, dtype=np.int32) % 500  # longer than the context (256)
        emb = np.zeros((n, 2, c.dim), np.float32)
        emb[4, 0, 0] = np.nan                              # NaN in the used rows
        f["embeddings"] = emb
        f["embedding_lengths"] = np.array([0, 0, 0, 0, 1, 2, 9, 0], np.int32)  # record 6: more rows than stored
    p = c.run(2, path, c.path("o5.h5"), "--max-new-tokens", "4", check=False)
    assert p.returncode == 4 and "5 of 8 records failed" in p.stderr, (p.returncode, p.stderr)  # exit_codes.hpp
    with h5py.File(c.path("o5.h5")) as f:
        st, err = f["results/status"][()], [e.decode() for e in f["results/error"][()]]
    print(list(zip(st, err)))
    for bad_i, word in ((1, "99999"), (2, "empty"), (3, "context"), (4, "NaN"), (6, "embedding")):
        assert st[bad_i] == 1, (bad_i, st, err)
        assert word.lower() in err[bad_i].lower() and str(bad_i) in err[bad_i], (bad_i, err[bad_i])
    for good in (0, 5, 7):
        assert st[good] == 0 and err[good] == "", (good, st, err)
    # The truncate-left policy makes the long record run.
    assert c.run(1, path, c.path("o6.h5"), "--max-new-tokens", "4", "--context-policy", "truncate-left",
                 check=False).returncode == 4  # the other bad records still fail
    with h5py.File(c.path("o6.h5")) as f:
        assert f["results/status"][3] == 0
    # Invalid UTF-8 in a prompt.
    bad_utf8 = c.path("utf8.h5")
    with h5py.File(bad_utf8, "w") as f:
        dt = h5py.vlen_dtype(bytes)
        f.create_dataset("prompts", data=np.array([b"ok", b"bad \xff\xfe", b"fine"], dtype=object),
                         dtype=h5py.string_dtype("utf-8"))
    assert c.run(1, bad_utf8, c.path("o7.h5"), "--max-new-tokens", "2", check=False).returncode == 4
    with h5py.File(c.path("o7.h5")) as f:
        st = f["results/status"][()]
        assert list(st) == [0, 1, 0], st
        assert "utf-8" in f["results/error"][1].decode().lower()


def case_tasks(c):
    inp = c.make_input("in.h5", 12)
    c.run(2, inp, c.path("score.h5"), "--task", "score")
    with h5py.File(c.path("score.h5")) as f:
        lp = f["results/logprobs"][()]
        assert all(len(x) > 0 and (np.asarray(x) <= 0).all() for x in lp)
    c.run(2, inp, c.path("embed.h5"), "--task", "embed", "--pooling", "mean")
    c.run(1, inp, c.path("embed1.h5"), "--task", "embed", "--pooling", "mean")
    with h5py.File(c.path("embed.h5")) as f, h5py.File(c.path("embed1.h5")) as g:
        e = f["results/embeddings"][()]
        assert e.shape == (12, c.dim) and np.isfinite(e).all()
        assert e.tobytes() == g["results/embeddings"][()].tobytes()
        assert f["results/embeddings"].attrs["pooling"] in ("mean", b"mean")
    # An existing output is not clobbered without --overwrite / --resume.
    p = c.run(1, inp, c.path("embed1.h5"), "--task", "embed", check=False)
    assert p.returncode != 0 and "--overwrite" in p.stderr


def case_tensor_parallel(c):
    # A GQA model whose 2 KV heads are split at tp 2 and replicated at tp 4.
    model = c.path("gqa.gguf")
    sh([c.bin, "make-model", "--preset", "tiny", "--dim", "256", "--heads", "8", "--kv-heads", "2", "--ffn", "512",
        "--seed", "4", "--context", "256", "--out", model])
    c.model, c.dim = model, 256
    inp = c.make_input("in.h5", 40)  # mixed lengths, embedding rows before some prompts
    gen = ["--temperature", "0.9", "--top-k", "20", "--max-new-tokens", "20", "--seed", "5", "--claim-records", "3",
           "--threads", "1"]
    for tp in (1, 2, 4):
        out = c.run(4, inp, c.path(f"tp{tp}.h5"), *gen, "--tp", tp)
        assert f"x tp {tp} (deterministic" in out.stdout, out.stdout
    assert_same_results(c.path("tp1.h5"), c.path("tp2.h5"), "tp1 x dp4 vs tp2 x dp2")
    assert_same_results(c.path("tp1.h5"), c.path("tp4.h5"), "tp1 x dp4 vs tp4 x dp1")
    other = c.path("other.gguf")
    sh([c.bin, "make-model", "--preset", "tiny", "--dim", "256", "--heads", "8", "--kv-heads", "2", "--ffn", "512",
        "--seed", "99", "--context", "256", "--out", other])
    # Per-rank shard files (`sci-infer shard`) give the same bits; a wrong layout is named.
    for tp in (2, 4):
        so = sh([c.bin, "shard", model, "--tp", tp, "-o", c.path("shards")]).stdout
        assert f"gqa.tp{tp}.rank{tp - 1}.gguf" in so, so
        pattern = c.path(f"shards/gqa.tp{tp}.rank{{tp_rank}}.gguf")
        sh([c.mpiexec, "-n", 4, c.bin, "run", "-m", pattern, "-i", inp, "-o", c.path(f"shard{tp}.h5"), *gen, "--tp", tp])
        assert_same_results(c.path("tp1.h5"), c.path(f"shard{tp}.h5"), f"tp1 full model vs tp{tp} shard files")
    # verify reruns a tp 4 job on shard files with the original model, on one rank.
    v = sh([c.bin, "verify", c.path("shard4.h5"), "--model", model, "--sample", 10])
    assert "10 identical, 0 different" in v.stdout, v.stdout
    p = sh([c.bin, "verify", c.path("shard4.h5"), "--model", other], check=False)
    assert p.returncode != 0 and "not the model of this output" in p.stderr, p.stderr
    p = sh([c.mpiexec, "-n", 2, c.bin, "run", "-m", c.path("shards/gqa.tp2.rank0.gguf"), "-i", inp, "-o",
            c.path("e0.h5"), "--tp", 2], check=False)
    assert p.returncode != 0 and "opened the shard file of rank 0 of 2" in p.stderr, p.stderr
    # Scoring (log-probabilities of every prompt token) too.
    c.run(4, inp, c.path("score1.h5"), "--task", "score", "--threads", "1")
    c.run(4, inp, c.path("score4.h5"), "--task", "score", "--threads", "1", "--tp", 4)
    assert_same_results(c.path("score1.h5"), c.path("score4.h5"), "score tp1 vs tp4")
    # Errors that say what is wrong, before any work.
    p = c.run(4, inp, c.path("e1.h5"), "--tp", 3, check=False)
    assert p.returncode != 0 and "--tp 3 must divide the number of ranks (4)" in p.stderr, p.stderr
    six = c.path("six_heads.gguf")
    sh([c.bin, "make-model", "--preset", "tiny", "--dim", "96", "--heads", "6", "--kv-heads", "2", "--ffn", "128",
        "--out", six])
    p = sh([c.mpiexec, "-n", 4, c.bin, "run", "-m", six, "-i", c.make_input("in96.h5", 4, emb=False), "-o",
            c.path("e2.h5"), "--tp", 4], check=False)
    assert p.returncode != 0 and "does not divide the 6 attention heads" in p.stderr, p.stderr
    common = ["run", "-i", inp, "-o", c.path("e3.h5"), "--tp", "2"]
    p = sh([c.mpiexec, "-n", 1, c.bin, *common, "-m", model, ":", "-n", 1, c.bin, *common, "-m", other], check=False)
    assert p.returncode != 0 and "model files differ between ranks" in p.stderr, p.stderr
    # A rank that stops responding: the others end within the timeout, with a message, and the
    # committed results are resumable to the same output.
    big = c.make_input("big.h5", 600, emb=False)
    job = [c.mpiexec, "-n", 4, c.bin, "run", "-m", model, "-i", big, "-o", c.path("hang.h5"), *gen, "--tp", 2,
           "--collective-timeout", 3, "--commit-seconds", 0.2]
    p = subprocess.Popen([str(a) for a in job], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    deadline = time.time() + 60
    while committed_bytes(c.path("hang.h5")) <= 64 and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    ranks = subprocess.run(["pgrep", "-f", "^" + c.bin + " run -m " + model], capture_output=True, text=True)
    victim = int(ranks.stdout.split()[-1])
    t0 = time.time()
    os.kill(victim, signal.SIGSTOP)
    so, se = p.communicate(timeout=60)
    took = time.time() - t0
    assert p.returncode != 0 and "no progress for" in se and "--collective-timeout" in se, (p.returncode, se)
    assert took < 30, f"the job took {took:.0f} s to end after a rank hung"
    ref = c.run(2, big, c.path("big_ref.h5"), *gen)
    c.run(4, big, c.path("hang.h5"), *gen, "--tp", 2, "--resume")
    assert_same_results(c.path("big_ref.h5"), c.path("hang.h5"), "resume after a hung rank (tp 2) vs tp 1")
    print(f"hung rank: job ended after {took:.1f} s; resumed to an identical output")


if __name__ == "__main__":
    main({n[5:]: f for n, f in dict(globals()).items() if n.startswith("case_")})
