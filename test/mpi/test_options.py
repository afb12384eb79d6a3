#!/usr/bin/env python3
"""`sci-infer run` options: --config job files, range checks before any work, exit codes.

    test_options.py CASE --sci-infer BIN --mpiexec MPIEXEC --workdir DIR
CASE: config_file | bad_options | failed_records_exit. Exit 0 = pass; any failure raises.
Expected values come from what the test wrote (the job file, the input) and docs/exit-codes.md.
"""
import os
import time

import h5py
import numpy as np

from launcher_support import Ctx, assert_same_results, main, sh

EXIT_REFUSED, EXIT_RECORDS_FAILED = 2, 4  # docs/exit-codes.md


def attrs(path):
    with h5py.File(path, "r") as f:
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}


def statuses(path):
    with h5py.File(path, "r") as f:
        return f["results/status"][()], [e.decode() for e in f["results/error"][()]]


def write(c, name, text):
    path = c.path(name)
    with open(path, "w") as f:
        f.write(text)
    return path


def refused(p, *words):
    """A refusal: exit 2 with every word on stderr."""
    assert p.returncode == EXIT_REFUSED, (p.returncode, p.stdout, p.stderr)
    for w in words:
        assert w in p.stderr, (w, p.stderr)


def case_config_file(c):
    inp = c.make_input("in.h5", 6, emb=False)
    out = c.path("from_file.h5")
    job = write(c, "job.toml", f'# a job file\nmodel = "{c.model}"\ninput = "{inp}"\noutput = "{out}"\n'
                               'task = "score"\nseed = 3\n')
    sh([c.mpiexec, "-n", 2, c.bin, "run", "--config", job])
    a = attrs(out)
    assert a["sci_infer.task"] == "score" and a["sci_infer.seed"] == 3, (a["sci_infer.task"], a["sci_infer.seed"])
    st, _ = statuses(out)
    assert (st == 0).all(), st
    # The same job from the command line: the same bits.
    c.run(1, inp, c.path("from_cli.h5"), "--task", "score", "--seed", "3")
    assert_same_results(out, c.path("from_cli.h5"), "--config job vs command line")
    # verify rebuilds the job from the recorded configuration, through the same parser.
    v = sh([c.bin, "verify", out])
    assert "6 identical, 0 different" in v.stdout, v.stdout

    # A [run] section, underscores for dashes, a flag; the command line wins over the file.
    sec = write(c, "section.toml", f'[run]\nmodel = "{c.model}"\ninput = "{inp}"\ntask = "score"\nseed = 3\n'
                                   'max_new_tokens = 5\nignore-eos = true\n')
    out2 = c.path("override.h5")
    c.run(1, inp, out2, "--config", sec, "--task", "generate", "--seed", "9")
    a = attrs(out2)
    assert a["sci_infer.task"] == "generate" and a["sci_infer.seed"] == 9, (a["sci_infer.task"], a["sci_infer.seed"])
    with h5py.File(out2, "r") as f:
        lengths = [len(t) for t in f["results/tokens"][()]]
    assert lengths == [5] * 6, lengths  # max_new_tokens = 5 and ignore-eos from the file
    assert "max-new-tokens=5" in a["sci_infer.config"] and "ignore-eos=true" in a["sci_infer.config"]

    # INI syntax (; comments) for *.ini.
    ini = write(c, "job.ini", f'; an INI job\n[run]\nmodel = {c.model}\ntask = score\nseed = 3\n')
    c.run(1, inp, c.path("ini.h5"), "--config", ini)
    assert_same_results(out, c.path("ini.h5"), "INI job vs TOML job")

    # Refusals: exit 2, naming the file (and the key), before any output exists.
    bad_out = c.path("never.h5")
    base = [c.mpiexec, "-n", 2, c.bin, "run", "-m", c.model, "-i", inp, "-o", bad_out]
    refused(sh(base + ["--config", c.path("nonexistent.toml")], check=False), "nonexistent.toml")
    refused(sh(base + ["--config", c.dir], check=False), c.dir)
    for name, text, words in [
        ("unknown.toml", "seed = 3\nsede = 4\n", ["unknown.toml", "sede"]),
        ("section.toml", "[generate]\nseed = 3\n", ["section.toml", "generate.seed"]),
        ("value.toml", "top_p = 2\n", ["value.toml", "--top-p", "(0, 1]"]),
        ("twice.toml", "seed = 3\n[run]\nseed = 4\n", ["twice.toml", "seed", "twice"]),
        ("nested.toml", f'config = "{job}"\n', ["nested.toml", "config"]),
    ]:
        refused(sh(base + ["--config", write(c, name, text)], check=False), *words)
    # Required options may come from the file, but must come from somewhere.
    refused(sh([c.bin, "run", "--config", write(c, "partial.toml", f'model = "{c.model}"\n')], check=False),
            "--input", "required")
    assert not os.path.exists(bad_out), "a refused job created its output"


BAD_OPTIONS = [  # (arguments, what stderr must name)
    (["--temperature", "-1"], "--temperature"), (["--temperature", "nan"], "--temperature"),
    (["--top-p", "2"], "--top-p"), (["--top-p", "0"], "--top-p"), (["--top-k", "-3"], "--top-k"),
    (["--max-new-tokens", "-1"], "--max-new-tokens"), (["--stop-tokens", "99999,abc"], "--stop-tokens"),
    (["--stop-tokens", "5,99999"], "outside the vocabulary"),
    (["--claim-records", "0"], "--claim-records"), (["--commit-seconds", "0"], "--commit-seconds"),
    (["--commit-seconds", "inf"], "--commit-seconds"), (["--progress-seconds", "0"], "--progress-seconds"),
    (["--collective-timeout", "-1"], "--collective-timeout"), (["--collective-timeout", "nan"], "--collective-timeout"),
    (["--max-batch", "0"], "--max-batch"), (["--step-tokens", "0"], "--step-tokens"), (["--tp", "0"], "--tp"),
    (["--kv-cache-mb", "-5"], "--kv-cache-mb"), (["--kv-cache-mb", "nan"], "--kv-cache-mb"),
    (["--kv-cache-mb", "1e12"], "--kv-cache-mb"), (["--threads", "100000"], "--threads"),
    (["--threads", "-1"], "--threads"), (["--seed", "-1"], "--seed"), (["--task", "train"], "--task"),
]


def case_bad_options(c):
    inp = c.make_input("in.h5", 4, emb=False)
    out = c.path("never.h5")
    for args, name in BAD_OPTIONS:
        t0 = time.time()
        p = c.run(2, inp, out, *args, check=False)
        took = time.time() - t0
        refused(p, name)
        assert took < 20, f"{args}: refused only after {took:.1f} s"
        assert not os.path.exists(out) and not os.path.exists(out + ".journal"), f"{args}: output created"
    # The same ranges hold for a value from a job file...
    job = write(c, "job.toml", "temperature = -1\n")
    refused(c.run(1, inp, out, "--config", job, check=False), "--temperature", "job.toml")
    # ...and for the thread count the library takes from the environment (libgomp crashed on it).
    p = sh([c.mpiexec, "-n", 1, "-env", "OMP_NUM_THREADS", "100000", c.bin, "run", "-m", c.model, "-i", inp,
            "-o", out], check=False)
    refused(p, "threads", "OMP_NUM_THREADS")
    assert not os.path.exists(out)
    # bench runs one process: it has no tensor parallelism to offer (logits/generate do, under mpiexec).
    p = sh([c.bin, "bench", "-m", c.model, "--tp", "2"], check=False)
    refused(p, "--tp")
    # A CLI11 parse error is 2 as well (not CLI11's own 109).
    refused(c.run(1, inp, out, "--no-such-option", check=False), "--no-such-option")
    h = sh([c.bin, "run", "--help"])
    assert "Exit codes:" in h.stdout and "  4   complete, but some records failed" in h.stdout, h.stdout


def case_failed_records_exit(c):
    n = 6
    path = c.path("records.h5")
    with h5py.File(path, "w") as f:
        toks = f.create_dataset("tokens", (n,), dtype=h5py.vlen_dtype(np.int32))
        for i in range(n):
            toks[i] = np.array([1, 5 + i, 9], np.int32)
        toks[2] = np.array([1, 99999], np.int32)  # id outside the 512-token vocabulary
    out = c.path("out.h5")
    p = c.run(2, path, out, "--max-new-tokens", "3", check=False)
    assert p.returncode == EXIT_RECORDS_FAILED, (p.returncode, p.stdout, p.stderr)
    assert "1 of 6 records failed" in p.stderr, p.stderr
    st, err = statuses(out)
    assert list(st) == [0, 0, 1, 0, 0, 0], st  # complete: every record has its final status
    assert "99999" in err[2] and all(e == "" for i, e in enumerate(err) if i != 2), err
    assert not os.path.exists(out + ".journal"), "journal left behind after a complete run"
    # A no-op --resume of the complete output still reports the failed record it holds.
    p = c.run(1, path, out, "--max-new-tokens", "3", "--resume", check=False)
    assert p.returncode == EXIT_RECORDS_FAILED and "1 of 6 records failed" in p.stderr, (p.returncode, p.stderr)
    # Without the bad record: 0.
    with h5py.File(path, "a") as f:
        f["tokens"][2] = np.array([1, 7, 9], np.int32)
    c.run(2, path, c.path("good.h5"), "--max-new-tokens", "3")


if __name__ == "__main__":
    main({n[5:]: f for n, f in dict(globals()).items() if n.startswith("case_")})
