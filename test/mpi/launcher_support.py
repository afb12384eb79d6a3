"""Shared pieces of the launcher tests (test_*.py in this folder): running commands, a tiny
model and inputs in a work directory, comparing outputs bit for bit, interrupting a job."""
import os
import shutil
import signal
import subprocess
import time

import h5py
import numpy as np

RESULT_SETS = ["tokens", "text", "logprobs", "finish_reason", "status", "error"]


def sh(args, check=True, **kw):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def results(path, names=RESULT_SETS):
    with h5py.File(path, "r") as f:
        return {n: [np.asarray(x) for x in f["results"][n][()]] for n in names if n in f["results"]}


def assert_same_results(a, b, what):
    ra, rb = results(a), results(b)
    assert ra.keys() == rb.keys(), (what, ra.keys(), rb.keys())
    for n in ra:
        assert len(ra[n]) == len(rb[n]), (what, n)
        for i, (x, y) in enumerate(zip(ra[n], rb[n])):
            if x.dtype.kind == "f":  # bitwise, NaN-safe
                same = x.shape == y.shape and x.tobytes() == y.tobytes()
            else:
                same = np.array_equal(x, y)
            assert same, f"{what}: /results/{n}[{i}] differs: {x!r} vs {y!r}"


class Ctx:
    def __init__(self, a):
        self.bin, self.mpiexec, self.dir = a.sci_infer, a.mpiexec, a.workdir
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.model = os.path.join(self.dir, "tiny.gguf")
        sh([self.bin, "make-model", "--preset", "tiny", "--seed", "3", "--context", "256", "--out", self.model])
        self.dim = 64

    def path(self, name):
        return os.path.join(self.dir, name)

    def run(self, n, inp, out, *extra, check=True):
        return sh([self.mpiexec, "-n", n, self.bin, "run", "-m", self.model, "-i", inp, "-o", out,
                   "--progress-seconds", "1", *extra], check=check)

    def make_input(self, name, n, emb=True, **datasets):
        rng = np.random.default_rng(n)
        path = self.path(name)
        with h5py.File(path, "w") as f:
            prompts = [" ".join(["alpha", "beta", "gamma", "delta"][: 1 + i % 4]) * (1 + i % 7) for i in range(n)]
            f.create_dataset("prompts", data=prompts, dtype=h5py.string_dtype("utf-8"), chunks=(min(16, n),), compression="gzip")
            if emb:
                f["embeddings"] = (rng.standard_normal((n, 3, self.dim)) * 0.5).astype(np.float32)
                f["embedding_lengths"] = (np.arange(n) % 4).astype(np.int32)
            f["seeds"] = np.arange(n, dtype=np.uint64) + 11
            for k, v in datasets.items():
                f[k] = v
        return path


def committed_bytes(out):
    """Bytes of committed journal entries: the rank-*.bin files' sizes past their headers (16 bytes
    + the job identity, whose length is the u32 at byte 12); other files (the hash cache) do not count."""
    d = out + ".journal"
    total = 0
    for name in os.listdir(d) if os.path.isdir(d) else []:
        if not (name.startswith("rank-") and name.endswith(".bin")):
            continue
        try:
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            continue
        if len(data) >= 16:
            total += max(0, len(data) - 16 - int.from_bytes(data[12:16], "little"))
    return total


def interrupted_run(c, inp, out, gen, sig, delay, to_ranks=True):
    p = subprocess.Popen([c.mpiexec, "-n", "2", c.bin, "run", "-m", c.model, "-i", inp, "-o", out, *gen,
                          "--commit-seconds", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    # Interrupt mid-job: once some results are committed (journal files hold more than their
    # 16-byte headers), plus `delay`, whatever the machine's speed.
    deadline = time.time() + 120
    while committed_bytes(out) <= 64 and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    time.sleep(delay)
    if sig == signal.SIGKILL:  # kill everything in the job at once, as an out-of-time node would
        os.killpg(p.pid, signal.SIGKILL)
    elif to_ranks:  # as Slurm/PBS signal a job's tasks: every rank, not the launcher
        # Only this job's ranks (its output path is on their command line): other launcher tests
        # may be running the same binary at the same time under ctest -j.
        subprocess.run(["pkill", "-" + signal.Signals(sig).name[3:], "-f", "^" + c.bin + " run .*-o " + out + " "])
    else:  # mpiexec alone (an interactive Ctrl-C / kill): hydra forwards it to the ranks
        p.send_signal(sig)
    out_s, err_s = p.communicate(timeout=120)
    return p.returncode, out_s, err_s


def main(cases):
    """Runs `CASE --sci-infer BIN --mpiexec MPIEXEC --workdir DIR` with cases[CASE](Ctx)."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(cases))
    ap.add_argument("--sci-infer", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    cases[a.case](Ctx(a))
    print(f"launcher {a.case}: 1 passed, 0 failed")
