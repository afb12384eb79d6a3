#!/usr/bin/env python3
"""The job's identity: `--resume` refuses a changed job or a foreign journal (naming what changed,
leaving the output untouched), retries records that failed at run time, and `verify` names the
causes of a difference (a changed input, a changed build) and counts pending records.

    test_resume_identity.py CASE --sci-infer BIN --mpiexec MPIEXEC --workdir DIR
CASE: resume_changed_job | foreign_journal | resume_retries_failed | verify_causes | logits_tp.
"""
import hashlib
import json
import os
import shutil
import signal
import subprocess

import h5py
import numpy as np

from launcher_support import Ctx, assert_same_results, interrupted_run, main, sh

GEN = ["--max-new-tokens", "24", "--ignore-eos", "--max-batch", "4", "--temperature", "0.8", "--claim-records", "4"]


def sha256_of(path):  # independent of the engine's own hashing
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def state_of(out):
    """The output's bytes and the journal directory's files and sizes: what a refusal must not touch."""
    d = out + ".journal"
    files = sorted((f, os.path.getsize(os.path.join(d, f))) for f in os.listdir(d)) if os.path.isdir(d) else None
    return (sha256_of(out) if os.path.exists(out) else None, files)


def partial_job(c, inp, out, gen):
    rc, so, se = interrupted_run(c, inp, out, gen, signal.SIGTERM, 0.0)
    assert os.path.exists(out), f"no output after the interrupted run (rc {rc})\n{so}\n{se}"
    with h5py.File(out) as f:
        done = int((f["results/status"][()] != -1).sum())
        n = len(f["results/status"])
    assert 0 < done < n, f"the job was not interrupted part-way ({done}/{n} done, rc {rc})\n{so}\n{se}"
    assert os.path.isdir(out + ".journal"), "an interrupted job keeps its journal"
    return done


def expect_refused(c, out, args, *words, n=2):
    before = state_of(out)
    p = sh([c.mpiexec, "-n", n, c.bin, "run", "--progress-seconds", "1", *args, "--resume"], check=False)
    assert p.returncode == 2, f"expected exit 2 (refused), got {p.returncode}\n{p.stdout}\n{p.stderr}"
    for w in words:
        assert w in p.stderr, f"the refusal does not name {w!r}:\n{p.stderr}"
    assert state_of(out) == before, f"a refused --resume changed {out} or its journal"
    return p.stderr


def case_resume_changed_job(c):
    inp = c.make_input("in.h5", 300, emb=False)
    with_seed = lambda seed: GEN + ["--seed", seed]
    gen = with_seed("1")
    c.run(2, inp, c.path("ref.h5"), *gen)
    out = c.path("out.h5")
    partial_job(c, inp, out, gen)
    other = c.path("other.gguf")
    sh([c.bin, "make-model", "--preset", "tiny", "--seed", "99", "--context", "256", "--out", other])
    base = ["-i", inp, "-o", out]
    expect_refused(c, out, ["-m", c.model, *base, *with_seed("99")], "--seed: 1 recorded, 99 now")
    expect_refused(c, out, ["-m", c.model, *base, *gen, "--task", "score"], "--task: generate recorded, score now")
    expect_refused(c, out, ["-m", other, *base, *gen], "model changed")
    expect_refused(c, out, ["-m", c.model, *base, *gen, "--top-k", "5"], "--top-k: 0 recorded, 5 now")
    # The input file modified in place (one prompt): its content hash is what counts, not its name.
    shutil.copy2(inp, c.path("in.orig.h5"))
    with h5py.File(inp, "r+") as f:
        f["prompts"][7] = "a different prompt"
    expect_refused(c, out, ["-m", c.model, *base, *gen], "input file content changed (sha256")
    shutil.copy2(c.path("in.orig.h5"), inp)
    # The hashes are cached next to the journal, keyed by the file's identity on disk, so a resume
    # does not rehash a huge model: a (forged) cached hash is what the next resume sees.
    cache = os.path.join(out + ".journal", "file-hashes.txt")
    with open(cache) as f:
        saved = f.read()
    assert sha256_of(c.model) in saved and sha256_of(inp) in saved, saved
    with open(cache, "w") as f:
        f.write(saved.replace(sha256_of(inp), "f" * 64))
    expect_refused(c, out, ["-m", c.model, *base, *gen], "input file content changed", "ffffffffffffffff... now")
    with open(cache, "w") as f:
        f.write(saved)
    # Killed before its first snapshot (no output yet): the journal is the job's only record.
    os.rename(out, c.path("out.saved.h5"))
    err = expect_refused(c, out, ["-m", c.model, *base, *with_seed("99")], "--seed: 1 recorded, 99 now", "rank-")
    assert not os.path.exists(out), "a refused --resume wrote an output"
    os.rename(c.path("out.saved.h5"), out)
    # Operational options may change: another rank count, batch limit, threads, KV budget.
    operational = ["--max-new-tokens", "24", "--ignore-eos", "--temperature", "0.8", "--seed", "1",
                   "--claim-records", "3", "--max-batch", "7", "--threads", "1"]
    c.run(1, inp, out, *operational, "--kv-cache-mb", "64", "--resume")
    assert_same_results(c.path("ref.h5"), out, "resumed (unchanged job) vs uninterrupted")
    # Provenance, checked against independent values.
    with h5py.File(out) as f:
        a = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    assert a["sci_infer.input_sha256"] == sha256_of(inp), a["sci_infer.input_sha256"]
    assert a["sci_infer.model_sha256"] == sha256_of(c.model)
    assert a["sci_infer.input_path"] == os.path.realpath(inp) and a["sci_infer.model_path"] == os.path.realpath(c.model)
    parts = json.loads(a["sci_infer.job_identity_parts"])
    assert parts["--seed"] == "1" and parts["--task"] == "generate" and parts["input"] == sha256_of(inp), parts
    assert "--threads" not in parts and "--max-batch" not in parts and "--kv-cache-mb" not in parts, parts
    assert a["sci_infer.job_identity"] == hashlib.sha256(a["sci_infer.job_identity_parts"].encode()).hexdigest()
    for k in ("sci_infer.compiler", "sci_infer.compile_flags", "sci_infer.kernel_path", "sci_infer.git_commit"):
        assert a.get(k), (k, a.get(k))
    json.loads(a["sci_infer.model_metadata"])
    # A no-op --resume of the complete output with another model is refused too (it used to
    # rewrite model_path and model_sha256); so is one with another seed.
    expect_refused(c, out, ["-m", other, *base, *gen], "model changed", n=1)
    expect_refused(c, out, ["-m", c.model, *base, *with_seed("2")], "--seed: 1 recorded, 2 now", n=1)
    with h5py.File(out) as f:
        assert f.attrs["sci_infer.model_sha256"] == sha256_of(c.model)


def case_foreign_journal(c):
    inp = c.make_input("in.h5", 300, emb=False)
    # Job A (seed 5) interrupted: its journal files hold its records.
    partial_job(c, inp, c.path("a.h5"), GEN + ["--seed", "5"])
    a_files = [f for f in os.listdir(c.path("a.h5.journal")) if f.startswith("rank-") and f.endswith(".bin")]
    assert a_files
    # Job B (seed 1), complete; then one of A's journal files lands in B's journal directory.
    gen_b = GEN + ["--seed", "1"]
    c.run(2, inp, c.path("b.h5"), *gen_b)
    c.run(2, inp, c.path("b_ref.h5"), *gen_b)
    os.makedirs(c.path("b.h5.journal"))
    shutil.copy(os.path.join(c.path("a.h5.journal"), a_files[0]), c.path("b.h5.journal"))
    err = expect_refused(c, c.path("b.h5"), ["-m", c.model, "-i", inp, "-o", c.path("b.h5"), *gen_b],
                         a_files[0], "another job", "--seed: 5 there, 1 in this job")
    print(err.strip())
    # Without the foreign file, B resumes (nothing to do) and keeps its own results.
    os.remove(os.path.join(c.path("b.h5.journal"), a_files[0]))
    c.run(2, inp, c.path("b.h5"), *gen_b, "--resume")
    assert_same_results(c.path("b_ref.h5"), c.path("b.h5"), "job B after refusing A's journal")
    # And A, interrupted, resumes to its own uninterrupted result.
    c.run(2, inp, c.path("a.h5"), *GEN, "--seed", "5", "--resume")
    c.run(2, inp, c.path("a_ref.h5"), *GEN, "--seed", "5")
    assert_same_results(c.path("a_ref.h5"), c.path("a.h5"), "job A resumed")


def case_resume_retries_failed(c):
    # Records 1 and 4 need 200 prompt + 8 new positions = 7 KV pages of 32; a 0.1 MiB budget holds 6
    # pages of this model (2 layers x 2 KV heads x 16 dims x K,V x 4 bytes x 32 positions = 16 KiB).
    path = c.path("kv.h5")
    long_records = [1, 4]
    with h5py.File(path, "w") as f:
        toks = f.create_dataset("tokens", (6,), dtype=h5py.vlen_dtype(np.int32))
        for i in range(6):
            toks[i] = ((np.arange(200 if i in long_records else 10) * 7 + i) % 500 + 1).astype(np.int32)
    gen = ["--max-new-tokens", "8", "--seed", "3"]
    out = c.path("out.h5")
    p = c.run(2, path, out, *gen, "--kv-cache-mb", "0.1", check=False)
    assert p.returncode in (0, 4), (p.returncode, p.stderr)  # 4: complete, some records failed
    with h5py.File(out) as f:
        st = f["results/status"][()]
        err = [e.decode() for e in f["results/error"][()]]
    assert [i for i in range(6) if st[i] == 2] == long_records, (st, err)
    assert all("KV-cache" in err[i] for i in long_records), err
    # Raising the budget (operational) and resuming recomputes exactly the failed records.
    p = c.run(2, path, out, *gen, "--kv-cache-mb", "1", "--resume")
    assert "(4 already done)" in p.stdout, p.stdout
    c.run(2, path, c.path("ref.h5"), *gen, "--kv-cache-mb", "1")
    assert_same_results(c.path("ref.h5"), out, "failed records retried on resume vs a job with the larger budget")
    with h5py.File(out) as f:
        assert (f["results/status"][()] == 0).all()


def case_verify_causes(c):
    # A job run from its own directory with relative paths; the directory then moves.
    job1 = c.path("job1")
    os.makedirs(job1)
    shutil.copy(c.model, os.path.join(job1, "m.gguf"))
    inp = c.make_input("in.h5", 12)
    shutil.copy(inp, os.path.join(job1, "in.h5"))
    sh([c.mpiexec, "-n", 2, c.bin, "run", "-m", "m.gguf", "-i", "in.h5", "-o", "out.h5", "--max-new-tokens", "6",
        "--seed", "2"], cwd=job1)
    job2 = c.path("job2")
    os.rename(job1, job2)
    out = os.path.join(job2, "out.h5")
    v = sh([c.bin, "verify", out])  # absolute recorded paths are gone; found relative to the output
    assert "12 identical, 0 different" in v.stdout, v.stdout
    # The input changed after the job: verify names the input, not 'DIFFERENT' records.
    job_in = os.path.join(job2, "in.h5")
    shutil.copy2(job_in, c.path("in.saved.h5"))
    with h5py.File(job_in, "r+") as f:
        f["prompts"][0] = "changed after the job ran"
    p = sh([c.bin, "verify", out], check=False)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "the input file changed since the job ran" in p.stderr and "in.h5" in p.stderr, p.stderr
    assert sha256_of(c.path("in.saved.h5")) in p.stderr and "DIFFERENT" not in p.stdout, (p.stdout, p.stderr)
    # --input points at a moved copy (still hash-checked).
    p = sh([c.bin, "verify", out, "--input", c.path("in.saved.h5")])
    assert "12 identical, 0 different" in p.stdout, p.stdout
    # Pending records in an output that claims to be complete: reported, and not exit 0.
    gutted = os.path.join(job2, "gutted.h5")
    shutil.copy(out, gutted)
    with h5py.File(gutted, "r+") as f:
        f["results/status"][3] = -1
    p = sh([c.bin, "verify", gutted, "--input", c.path("in.saved.h5")], check=False)
    assert "11 identical, 0 different" in p.stdout and "1 records pending (not computed)" in p.stdout, p.stdout
    assert p.returncode != 0, (p.returncode, p.stdout, p.stderr)
    # The same output of an unfinished job (its journal directory is there): pending is normal.
    os.makedirs(gutted + ".journal")
    p = sh([c.bin, "verify", gutted, "--input", c.path("in.saved.h5")])
    assert "1 records pending (not computed)" in p.stdout, p.stdout
    shutil.rmtree(gutted + ".journal")
    # Every record pending: nothing was checked, so not exit 0.
    with h5py.File(gutted, "r+") as f:
        f["results/status"][:] = -1
    p = sh([c.bin, "verify", gutted, "--input", c.path("in.saved.h5")], check=False)
    assert p.returncode != 0 and "12 records pending" in p.stdout, (p.returncode, p.stdout, p.stderr)
    # A record that differs while the output says another build wrote it: the build is named.
    other_build = os.path.join(job2, "other_build.h5")
    shutil.copy(out, other_build)
    with h5py.File(other_build, "r+") as f:
        f.attrs["sci_infer.git_commit"] = "0123456789ab"
        t = f["results/tokens"]
        first = np.array(t[0])
        first[0] = (first[0] + 1) % 500
        t[0] = first
    p = sh([c.bin, "verify", other_build, "--input", c.path("in.saved.h5")], check=False)
    assert p.returncode == 1 and "1 different" in p.stdout, (p.returncode, p.stdout, p.stderr)
    assert "the build changed" in p.stderr and "0123456789ab" in p.stderr, p.stderr
    # The model metadata is real JSON whatever the model's name holds (a quote, a backslash).
    with open(c.model, "rb") as f:
        gguf = f.read()
    assert gguf.count(b"sci_infer-tiny") >= 1
    quoted = c.path("quoted.gguf")
    with open(quoted, "wb") as f:
        f.write(gguf.replace(b"sci_infer-tiny", b'sci"infer\\tiny', 1))  # same length: 14 bytes
    sh([c.mpiexec, "-n", 1, c.bin, "run", "-m", quoted, "-i", c.path("in.saved.h5"), "-o", c.path("q.h5"),
        "--max-new-tokens", "1"])
    with h5py.File(c.path("q.h5")) as f:
        meta = json.loads(f.attrs["sci_infer.model_metadata"])
    assert meta["name"] == 'sci"infer\\tiny' and meta["dim"] == c.dim, meta



def case_logits_tp(c):
    # `logits --tp N` (and generate) under mpiexec -n N: the same bits as one rank, which
    # reference numpy float32 is too loose to check; the single-rank engine is the reference
    # whose numerics the llama.cpp and numpy tests cover.
    model = c.path("gqa.gguf")
    sh([c.bin, "make-model", "--preset", "tiny", "--dim", "256", "--heads", "8", "--kv-heads", "2", "--ffn", "512",
        "--seed", "4", "--context", "256", "--out", model])
    toks = "1,5,9,33,120"
    sh([c.bin, "logits", "-m", model, "--tokens", toks, "--all-positions", "-o", c.path("l1.bin")])
    sh([c.mpiexec, "-n", 2, c.bin, "logits", "-m", model, "--tokens", toks, "--all-positions", "-o", c.path("l2.bin"),
        "--tp", 2])
    one, two = (np.fromfile(c.path(f), dtype="<f4") for f in ("l1.bin", "l2.bin"))
    assert one.shape == (5 * 512,) and np.isfinite(one).all(), one.shape
    assert one.tobytes() == two.tobytes(), "logits --tp 2 differ from one rank"
    gen = ["generate", "-m", model, "--tokens", "1,5,9", "-n", 8, "--temperature", 0.9, "--seed", 3, "--show-tokens"]
    run_bytes = lambda args: subprocess.run([str(x) for x in args], capture_output=True, check=True).stdout
    g1 = run_bytes([c.bin, *gen])  # bytes: random weights make text that is not UTF-8
    g2 = run_bytes([c.mpiexec, "-n", 2, c.bin, *gen, "--tp", 2])
    assert g1 == g2 and len(g1.strip().splitlines()[-1].split(b",")) == 8, (g1, g2)
    p = sh([c.mpiexec, "-n", 3, c.bin, "logits", "-m", model, "--tokens", toks, "-o", c.path("l3.bin"), "--tp", 2],
           check=False)
    assert p.returncode == 2 and "mpiexec -n 2" in p.stderr, (p.returncode, p.stderr)


if __name__ == "__main__":
    main({n[5:]: f for n, f in dict(globals()).items() if n.startswith("case_")})
