#!/usr/bin/env python3
"""`sci-infer run` with the input's optional datasets and damaged inputs (docs/hdf5-schema.md).

    test_input_datasets.py CASE --sci-infer BIN --mpiexec MPIEXEC --workdir DIR
CASE: ids_carried | per_record_sampling | input_faults. Exit 0 = pass; any failure raises.
"""
import shutil
import signal

import h5py
import numpy as np

from launcher_support import Ctx, assert_same_results, interrupted_run, main, sh

# Every whole-job refusal must end well inside this (a hang would burn an allocation).
QUICK = 60


def run(c, n, inp, out, *extra, timeout=300):
    return sh([c.mpiexec, "-n", n, c.bin, "run", "-m", c.model, "-i", inp, "-o", out, "--progress-seconds", "1",
               "--collective-timeout", "30", *extra], check=False, timeout=timeout)


def read(out, name):
    with h5py.File(out) as f:
        return f["results"][name][()]


def errors(out):
    return [e.decode() for e in read(out, "error")]


def assert_refused(p, *words):
    assert p.returncode == 2, f"expected exit 2, got {p.returncode}\n{p.stdout}\n{p.stderr}"
    for w in words:
        assert w in p.stderr, f"{w!r} not in the message:\n{p.stderr}"


def case_ids_carried(c):
    n = 40
    rng = np.random.default_rng(4)
    ids = rng.choice(10**12, size=n, replace=False).astype(np.int64)  # ids that are not the row numbers
    docs = [f"doc-{i:03d}-\u00e9" for i in rng.permutation(n)]
    weight = rng.standard_normal(n)
    inp = c.make_input("in.h5", n, emb=False, ids=ids, weight=weight)
    with h5py.File(inp, "a") as f:
        f.create_dataset("doc", data=docs, dtype=h5py.string_dtype("utf-8"))
    out = c.path("out.h5")
    p = run(c, 2, inp, out, "--max-new-tokens", "3", "--carry", "doc,/weight")
    assert p.returncode == 0, p.stderr
    with h5py.File(out) as f:
        r = f["results"]
        assert r["ids"].dtype == np.int64 and np.array_equal(r["ids"][()], ids), r["ids"][()]
        assert [x.decode() for x in r["doc"][()]] == docs
        assert r["weight"].dtype == np.float64 and r["weight"][()].tobytes() == weight.tobytes()
        assert (r["status"][()] == 0).all()
    # Without --carry only /ids comes along.
    run(c, 1, inp, c.path("ids_only.h5"), "--max-new-tokens", "3")
    with h5py.File(c.path("ids_only.h5")) as f:
        assert "ids" in f["results"] and "doc" not in f["results"] and "weight" not in f["results"]

    # Lengths that do not match, a missing name, a name the output already uses: refused at open.
    bad = c.make_input("bad_ids.h5", n, emb=False, ids=ids[:-1])
    p = run(c, 2, bad, c.path("o_bad.h5"), timeout=QUICK)
    assert_refused(p, "bad_ids.h5", "/ids", f"{n - 1} records")
    p = run(c, 2, inp, c.path("o_bad.h5"), "--carry", "nope", timeout=QUICK)
    assert_refused(p, "in.h5", "/nope")
    p = run(c, 1, inp, c.path("o_bad.h5"), "--carry", "status", timeout=QUICK)
    assert_refused(p, "in.h5", "/results/status")

    # Resume keeps them: interrupted, then resumed, equals an uninterrupted run, carried sets included.
    n = 600
    big = c.make_input("big.h5", n, emb=False, ids=np.arange(n, dtype=np.int64)[::-1] * 3)
    with h5py.File(big, "a") as f:
        f.create_dataset("doc", data=[f"d{i}" for i in range(n)], dtype=h5py.string_dtype("utf-8"))
    gen = ["--max-new-tokens", "24", "--ignore-eos", "--claim-records", "4", "--carry", "doc"]
    assert run(c, 2, big, c.path("ref.h5"), *gen).returncode == 0
    out = c.path("resumed.h5")
    rc, so, se = interrupted_run(c, big, out, gen, signal.SIGTERM, 0.2)
    print(f"interrupted run: rc={rc}")
    p = run(c, 2, big, out, *gen, "--resume")
    assert p.returncode == 0, p.stderr
    assert_same_results(c.path("ref.h5"), out, "resume vs uninterrupted")
    for name in ("ids", "doc"):
        assert np.array_equal(read(out, name), read(c.path("ref.h5"), name)), name
    assert np.array_equal(read(out, "ids"), np.arange(n)[::-1] * 3)


def case_per_record_sampling(c):
    n = 12
    inp = c.make_input("plain.h5", n, emb=False)
    gen = ["--max-new-tokens", "8", "--ignore-eos", "--seed", "5"]
    # What each override must reproduce, from the command line alone.
    assert run(c, 1, inp, c.path("greedy.h5"), *gen, "--temperature", "0").returncode == 0
    assert run(c, 1, inp, c.path("hot.h5"), *gen, "--temperature", "0.9", "--top-p", "0.95").returncode == 0
    greedy, hot = read(c.path("greedy.h5"), "tokens"), read(c.path("hot.h5"), "tokens")
    assert any(not np.array_equal(g, h) for g, h in zip(greedy, hot)), "sampling at 0.9 looks greedy"

    temp = np.full(n, 0.9, np.float32)
    top_p = np.full(n, 0.95, np.float32)
    top_k = np.zeros(n, np.int32)
    stop = [np.array([], np.int32) for _ in range(n)]
    temp[0] = 0.0                 # greedy by its own temperature
    top_k[1] = 1                  # greedy by top-k 1, whatever the temperature
    stop[2] = np.array([hot[2][4]], np.int32)     # tokens they are known to meet: stop there
    temp[3] = 0.0
    stop[3] = np.array([greedy[3][4]], np.int32)
    temp[4] = -1.0                # the bad ones: each fails its own record only
    temp[5] = np.nan
    top_p[6] = 0.0
    top_p[7] = 1.5
    top_k[8] = -3
    stop[9] = np.array([3, 99999], np.int32)
    path = c.path("per_record.h5")
    shutil.copy(inp, path)
    with h5py.File(path, "a") as f:
        f["temperature"] = temp
        f["top_p"] = top_p
        f["top_k"] = top_k
        st = f.create_dataset("stop_tokens", (n,), dtype=h5py.vlen_dtype(np.int32))
        for i in range(n):
            st[i] = stop[i]
    out = c.path("out.h5")
    # The command line asks for greedy: the datasets must override it for their records.
    p = run(c, 2, path, out, *gen, "--temperature", "0")
    assert p.returncode in (0, 4), p.stderr
    status, err, toks, finish = read(out, "status"), errors(out), read(out, "tokens"), read(out, "finish_reason")
    print(list(zip(status, err)))
    for i, ds in ((4, "/temperature"), (5, "/temperature"), (6, "/top_p"), (7, "/top_p"), (8, "/top_k"),
                  (9, "/stop_tokens")):
        assert status[i] == 1, (i, status[i], err[i])
        assert "per_record.h5" in err[i] and f"{ds}[{i}]" in err[i], (i, err[i])
    assert "99999" in err[9] and "vocabulary" in err[9], err[9]
    for i in (0, 1, 2, 3, 10, 11):
        assert status[i] == 0 and err[i] == "", (i, status[i], err[i])
    assert np.array_equal(toks[0], greedy[0]), (toks[0], greedy[0])
    assert np.array_equal(toks[1], greedy[1]), (toks[1], greedy[1])
    for i in (10, 11):           # temperature 0.9, top-p 0.95 from the datasets, as hot.h5 from the options
        assert np.array_equal(toks[i], hot[i]), (i, toks[i], hot[i])
    # Records 2 (sampled) and 3 (greedy) stop at the first occurrence of their stop token.
    for i, full in ((2, hot[2]), (3, greedy[3])):
        first = list(full).index(int(stop[i][0]))
        assert finish[i] == b"stop" and len(toks[i]) <= first + 1, (i, finish[i], toks[i], full)
        assert np.array_equal(toks[i][:first], full[:first]), (i, toks[i], full)


def case_input_faults(c):
    n = 64
    # (a) A filter this HDF5 does not have (h5py's lzf, filter 32000): refused at open, exit 2.
    lzf = c.make_input("lzf.h5", n, emb=False)
    with h5py.File(lzf, "a") as f:
        del f["seeds"]
        f.create_dataset("seeds", data=np.arange(n, dtype=np.uint64), chunks=(16,), compression="lzf")
    for ranks in (1, 2):
        p = run(c, ranks, lzf, c.path("o_lzf.h5"), timeout=QUICK)
        assert_refused(p, "lzf.h5", "/seeds", "32000")

    # (b) Absurd shapes declared by a few KB of metadata: refused at open naming the dataset.
    absurd = c.make_input("absurd.h5", 4, emb=False)
    with h5py.File(absurd, "a") as f:
        f.create_dataset("embeddings", shape=(4, 10**9, c.dim), dtype=np.float32, chunks=(1, 1024, c.dim))
    p = run(c, 2, absurd, c.path("o_absurd.h5"), timeout=QUICK)
    assert_refused(p, "absurd.h5", "/embeddings", "[4, 1000000000, 64]")
    many = c.path("many.h5")
    with h5py.File(many, "w") as f:
        f.create_dataset("prompts", shape=(10**13,), dtype=h5py.string_dtype("utf-8"), chunks=(4096,))
    p = run(c, 2, many, c.path("o_many.h5"), timeout=QUICK)
    assert_refused(p, "many.h5", "/prompts", "10000000000000 records")

    # (c) A damaged gzip chunk read mid-run (its metadata is intact, so open succeeds): its
    # records fail with status 1 naming file, dataset and record; every other record is as in
    # a run on the intact file.
    gen = ["--max-new-tokens", "4", "--claim-records", "8"]
    clean = c.make_input("clean.h5", n, emb=False)
    with h5py.File(clean, "a") as f:
        del f["seeds"]
        f.create_dataset("seeds", data=np.arange(n, dtype=np.uint64) * 7 + 1, chunks=(16,), compression="gzip")
    assert run(c, 2, clean, c.path("ref.h5"), *gen).returncode == 0
    ref_status, ref_tokens = read(c.path("ref.h5"), "status"), read(c.path("ref.h5"), "tokens")
    assert (ref_status == 0).all()
    for dataset, chunk in (("prompts", 1), ("seeds", 2)):
        bad = c.path(f"damaged_{dataset}.h5")
        shutil.copy(clean, bad)
        with h5py.File(bad) as f:
            info = f[dataset].id.get_chunk_info(chunk)
        with open(bad, "r+b") as fh:
            fh.seek(info.byte_offset + 2)
            raw = bytearray(fh.read(info.size - 2))
            fh.seek(info.byte_offset + 2)
            fh.write(bytes(b ^ 0x5A for b in raw))
        out = c.path(f"o_{dataset}.h5")
        p = run(c, 2, bad, out, *gen, timeout=120)
        assert p.returncode in (0, 4), f"{dataset}: exit {p.returncode}\n{p.stderr}"
        status, err, toks = read(out, "status"), errors(out), read(out, "tokens")
        lo, hi = 16 * chunk, 16 * chunk + 16
        for i in range(n):
            if lo <= i < hi:
                assert status[i] == 1, (dataset, i, status[i], err[i])
                assert f"damaged_{dataset}.h5: /{dataset}[{i}]: cannot read" in err[i], (dataset, i, err[i])
            else:
                assert status[i] == 0 and np.array_equal(toks[i], ref_tokens[i]), (dataset, i, status[i], err[i])
        print(f"{dataset}: chunk {chunk} damaged -> records {lo}-{hi - 1} failed, the other {n - 16} as intact")


if __name__ == "__main__":
    main({n[5:]: f for n, f in dict(globals()).items() if n.startswith("case_")})
