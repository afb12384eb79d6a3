#!/usr/bin/env python3
"""Fault injection: one rank's failure must reach the whole job (issue 15).

    test_faults.py CASE --sci-infer BIN --mpiexec MPIEXEC --workdir DIR

Faults come from test/fault/fault_shim.c (LD_PRELOAD; found next to this build's tests or via
SCI_FAULT_SHIM) or from a small tmpfs (mounted when this runs as root; a case that cannot mount
one skips, saying why). Every faulty run must: end within LIMIT_S, leave no process of the job
behind, name the real cause on stderr, exit with the documented code (docs/exit-codes.md), and
(where resumable) `--resume` afterwards must give output identical to an uninterrupted run.
"""
import hashlib
import os
import re
import signal
import socket
import stat
import subprocess
import time

import h5py
import numpy as np

from launcher_support import Ctx, assert_same_results, committed_bytes, main, sh

LIMIT_S = 30          # issue 15: every fault ends in under 30 s
STOP_BOUND_S = 10     # SIGTERM to exit, documented in docs/architecture.md (Failures and preemption)
EXIT_REFUSED, EXIT_RUN_FAILED, EXIT_INTERRUPTED = 2, 5, 75
OPTIONS = {"max-new-tokens": 12, "seed": 4, "temperature": 0.8, "claim-records": 3, "max-batch": 4}


def gen(**changes):
    """The job's options: OPTIONS with `changes` (max_batch=8 -> --max-batch 8; None drops one)."""
    o = dict(OPTIONS, **{k.replace("_", "-"): v for k, v in changes.items()})
    return [a for k, v in o.items() if v is not None for a in (["--" + k] if v is True else ["--" + k, str(v)])]


GEN = gen()


def shim_path(bin_path):
    if os.environ.get("SCI_FAULT_SHIM"):
        return os.environ["SCI_FAULT_SHIM"]
    d = os.path.dirname(os.path.abspath(bin_path))
    while d != "/":  # <build>/apps/launcher/sci-infer -> <build>/test/libsci_fault_shim.so
        p = os.path.join(d, "test", "libsci_fault_shim.so")
        if os.path.exists(p):
            return p
        d = os.path.dirname(d)
    raise AssertionError(f"libsci_fault_shim.so not found above {bin_path} (build target sci_fault_shim)")


def job_pids(c, out, tag=r"\S+"):
    """Processes of the job writing `out` (its path and `tag` are on their command line)."""
    pattern = "^" + c.bin + " run .*-o " + out + " --progress-seconds " + tag + "( |$)"
    p = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return [int(x) for x in p.stdout.split()]


def assert_no_leftovers(c, out, what, tag=r"\S+"):
    deadline = time.time() + 3
    while job_pids(c, out, tag) and time.time() < deadline:
        time.sleep(0.05)
    left = job_pids(c, out, tag)
    if left:
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"{what}: processes of the job left behind: {left}")


def start(c, inp, out, extra, fault=None, n=2, tag="1", model=None):
    """Starts a job; `tag` (its --progress-seconds) tells its processes from another job's."""
    env = dict(os.environ)
    if fault:
        env["LD_PRELOAD"] = shim_path(c.bin)
        env["SCI_FAULT_LOG"] = c.path("fault.log")
        for k, v in fault.items():
            env["SCI_FAULT_" + k.upper()] = str(v)
    args = [c.mpiexec, "-n", str(n), c.bin, "run", "-m", model or c.model, "-i", inp, "-o", out,
            "--progress-seconds", tag, *extra]
    return subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)


def finish(c, p, out, what, limit=LIMIT_S, tag=r"\S+"):
    t0 = time.time()
    try:
        so, se = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        so, se = p.communicate()
        raise AssertionError(f"{what}: still running after {limit} s (a hang)\n{so}\n{se}")
    assert_no_leftovers(c, out, what, tag)
    return p.returncode, so, se, time.time() - t0


def faulty(c, inp, out, extra, fault, what):
    """A run with `fault` injected; asserts the fault really fired."""
    log = c.path("fault.log")
    if os.path.exists(log):
        os.remove(log)
    t0 = time.time()
    rc, so, se, _ = finish(c, start(c, inp, out, extra, fault), out, what)
    fired = open(log).read() if os.path.exists(log) else ""
    assert fired, f"{what}: the injected fault never fired (shim log empty): the case tested nothing\n{so}\n{se}"
    print(f"{what}: rc={rc} in {time.time() - t0:.1f} s; fault: {fired.splitlines()[0]}")
    return rc, so, se


def expect(rc, se, code, needles, what):
    assert rc == code, f"{what}: exit code {rc}, expected {code}\n{se}"
    for n in needles:
        assert re.search(n, se), f"{what}: stderr does not name {n!r}:\n{se}"


def resume_matches(c, inp, out, ref, what, extra=GEN):
    c.run(2, inp, out, *extra, "--resume")
    assert_same_results(ref, out, f"{what}: resumed vs uninterrupted")
    assert not os.path.exists(out + ".journal"), f"{what}: journal left after the completed resume"
    print(f"{what}: --resume gave output identical to the uninterrupted run")


def reference(c, inp, extra=GEN):
    ref = c.path("ref.h5")
    c.run(2, inp, ref, *extra)
    return ref


def chunked_input(c, name, n):
    """Prompts in chunks of 2 records: every claim reads the file (HDF5 caches read chunks)."""
    path = c.path(name)
    with h5py.File(path, "w") as f:
        f.create_dataset("prompts", data=[" ".join(["alpha", "beta", "gamma"][: 1 + i % 3]) * (1 + i % 5)
                                          for i in range(n)], dtype=h5py.string_dtype("utf-8"), chunks=(2,))
        f.create_dataset("seeds", data=np.arange(n, dtype=np.uint64) + 11, chunks=(2,))
    return path


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ---- journal: fsync EIO on rank 1, write ENOSPC on rank 0 -------------------------------------
def case_journal_faults(c):
    inp = c.make_input("in.h5", 60, emb=False)
    ref = reference(c, inp)
    opts = gen(commit_seconds=0.02)
    for name, fault, needles in (
            ("fsync EIO rank 1", dict(call="fsync", rank=1, errno="EIO", path=".journal/rank-1", after=0),
             [r"rank 1 of 2", r"\.journal/rank-1-\S+\.bin: journal fsync failed: Input/output error"]),
            ("write ENOSPC rank 0", dict(call="write", rank=0, errno="ENOSPC", path=".journal/rank-0", after=1),
             [r"rank 0 of 2", r"\.journal/rank-0-\S+\.bin: journal write failed: No space left on device"])):
        out = c.path(f"out_{fault['call']}.h5")
        rc, so, se = faulty(c, inp, out, opts, fault, name)
        expect(rc, se, EXIT_RUN_FAILED, needles + ["--resume"], name)
        assert os.path.isdir(out + ".journal"), f"{name}: the journal must be kept for --resume"
        resume_matches(c, inp, out, ref, name)


# ---- snapshot: ENOSPC (final and periodic), rename EIO -----------------------------------------
def case_snapshot_faults(c):
    inp = c.make_input("in.h5", 60, emb=False)
    ref = reference(c, inp)
    for name, extra, fault, needles in (
            ("final snapshot ENOSPC", ["--commit-seconds", "1000"],
             dict(call="pwrite", rank=0, errno="ENOSPC", path=".h5.tmp-"), [r"No space left on device", r"final snapshot"]),
            ("periodic snapshot ENOSPC", ["--commit-seconds", "0.02"],
             dict(call="pwrite", rank=0, errno="ENOSPC", path=".h5.tmp-"), [r"No space left on device", r"snapshot"]),
            ("snapshot fsync EIO", ["--commit-seconds", "1000"],
             dict(call="fsync", rank=0, errno="EIO", path=".h5.tmp-"), [r"fsync failed: Input/output error"]),
            ("snapshot rename EIO", ["--commit-seconds", "1000"],
             dict(call="rename", rank=0, errno="EIO", path="out_"), [r"cannot rename \S+\.tmp-\d+ over it: Input/output error"])):
        out = c.path("out_" + name.split()[0] + "_" + fault["call"] + ".h5")
        rc, so, se = faulty(c, inp, out, GEN + extra, fault, name)
        expect(rc, se, EXIT_RUN_FAILED, needles + [re.escape(os.path.basename(out))], name)
        assert os.path.isdir(out + ".journal"), f"{name}: the journal must be kept for --resume"
        temps = [f for f in os.listdir(c.dir) if ".tmp-" in f]
        assert not temps, f"{name}: snapshot temporaries left behind: {temps}"
        resume_matches(c, inp, out, ref, name)


# ---- a real full file system (tmpfs) -----------------------------------------------------------
def mount_tmpfs(c, name, size, ro=False):
    mnt = c.path(name)
    os.makedirs(mnt, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}" + (",ro" if ro else ""), "tmpfs", mnt],
                       capture_output=True, text=True)
    if p.returncode != 0:
        print(f"SKIPPED: cannot mount a tmpfs here ({p.stderr.strip() or 'mount exited ' + str(p.returncode)}); "
              "this case needs root and mount rights")
        return None
    return mnt


def case_tmpfs_enospc(c):
    inp = c.make_input("in.h5", 300, emb=False)
    opts = gen(max_new_tokens=24, commit_seconds=0.02)
    mnt = mount_tmpfs(c, "small_fs", "96k")
    if not mnt:
        return
    try:
        ref = reference(c, inp, opts)
        out = os.path.join(mnt, "out.h5")
        rc, so, se, dt = finish(c, start(c, inp, out, opts), out, "tmpfs ENOSPC")
        print(f"tmpfs ENOSPC: rc={rc} in {dt:.1f} s")
        expect(rc, se, EXIT_RUN_FAILED, [r"No space left on device", re.escape(out), "--resume"], "tmpfs ENOSPC")
        assert os.path.isdir(out + ".journal"), "tmpfs ENOSPC: the journal must be kept for --resume"
        sh(["mount", "-o", "remount,size=16m", mnt])  # the user frees space, then resumes
        resume_matches(c, inp, out, ref, "tmpfs ENOSPC", opts)
    finally:
        subprocess.run(["umount", "-l", mnt])


def case_readonly_output(c):
    inp = c.make_input("in.h5", 10, emb=False)
    mnt = mount_tmpfs(c, "ro_fs", "1m", ro=True)
    if not mnt:
        return
    try:
        for mode in ([], ["--overwrite"], ["--resume"]):
            out = os.path.join(mnt, "out.h5")
            rc, so, se, dt = finish(c, start(c, inp, out, GEN + mode), out, f"read-only output {mode}")
            expect(rc, se, EXIT_REFUSED, [r"Read-only file system", re.escape(out)], f"read-only output {mode}")
            print(f"read-only output {mode}: refused (rc 2) in {dt:.1f} s")
    finally:
        subprocess.run(["umount", "-l", mnt])


# ---- a foreign rank's exception: input read fails on rank 1 (ENOMEM) ---------------------------
def case_input_read_fault(c):
    inp = chunked_input(c, "in.h5", 200)
    ref = reference(c, inp)
    out = c.path("out.h5")
    what = "input read ENOMEM rank 1"
    rc, so, se = faulty(c, inp, out, GEN + ["--commit-seconds", "0.02"],
                        dict(call="pread", rank=1, errno="ENOMEM", path="in.h5", after=12), what)
    cause = [r"in\.h5", r"/(prompts|seeds)\[\d+", r"Cannot allocate memory"]
    if rc == 4:  # an input reader that turns unreadable records into failed records (status 2)
        with h5py.File(out) as f:
            st, err = f["results/status"][()], [e.decode() for e in f["results/error"][()]]
        bad = [e for s_, e in zip(st, err) if s_ != 0]
        assert bad and all(re.search(n, bad[0]) for n in cause), f"{what}: failed records do not name the cause: {bad[:2]}"
        print(f"{what}: {len(bad)} records failed (exit 4), naming the cause")
        if (st[st != 0] == 2).all():  # runtime failures: --resume computes them again
            resume_matches(c, inp, out, ref, what)
        return
    expect(rc, se, EXIT_RUN_FAILED, [r"rank 1 of 2"] + cause, what)
    assert "\n," not in se, "messages must be one line each"
    resume_matches(c, inp, out, ref, what)


# ---- one job per output -----------------------------------------------------------------------
def case_locked_output(c):
    inp = c.make_input("in.h5", 80, emb=False)
    ref = reference(c, inp)
    out = c.path("out.h5")
    # Job A, slowed by a slow journal file system (each fsync +150 ms) so that it runs for seconds.
    a = start(c, inp, out, GEN + ["--commit-seconds", "0.01"], dict(call="fsync", path=".journal", delay_ms=150))
    deadline = time.time() + LIMIT_S
    while not os.path.exists(out + ".lock") and time.time() < deadline and a.poll() is None:
        time.sleep(0.02)
    assert os.path.exists(out + ".lock"), "job A never took its lock"
    for mode in (["--overwrite"], ["--resume"], []):
        rc, so, se, dt = finish(c, start(c, inp, out, GEN + mode, tag="7"), out, f"second job {mode}", tag="7")
        expect(rc, se, EXIT_REFUSED, [r"in use by another job", "host " + re.escape(socket.gethostname()), r"pid \d+"],
               f"second job {mode}")
        pid = int(re.search(r"pid (\d+)", se).group(1))
        cmd = open(f"/proc/{pid}/cmdline").read().replace("\0", " ") if os.path.exists(f"/proc/{pid}") else ""
        assert out in cmd and " run " in cmd, f"second job {mode}: pid {pid} named as holder is not job A ({cmd!r})"
        assert a.poll() is None, f"second job {mode}: job A ended before the check; the case tested nothing"
        print(f"second job {mode}: refused (rc 2) in {dt:.1f} s, naming job A (pid {pid})")
    rc, so, se, _ = finish(c, a, out, "job A")
    assert rc == 0, f"job A: rc {rc}\n{se}"
    assert_same_results(ref, out, "job A's output after two refused jobs")
    assert not os.path.exists(out + ".lock"), "job A left its lock file"
    # A job killed outright leaves the lock file but no lock: the next job goes ahead.
    open(out + ".lock", "w").write("host gone pid 1\n")
    c.run(2, inp, out, *GEN, "--overwrite")
    assert_same_results(ref, out, "a stale lock file does not block")


# ---- outputs that must never be replaced ------------------------------------------------------
def case_protected_paths(c):
    inp = c.make_input("in.h5", 10, emb=False)
    fifo = c.path("a_fifo")
    os.mkfifo(fifo)
    node = c.path("null_like")  # a character device like /dev/null (1,3), in the work directory
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    link = c.path("link_to_device")
    os.symlink(node, link)
    hard = c.path("hard_link_to_input.h5")
    os.link(inp, hard)
    foreign = c.path("foreign.h5")
    with h5py.File(foreign, "w") as f:
        f["results/status"] = np.zeros(10, np.int32)  # looks like an output, but not sci-infer's
    os.makedirs(c.path("a_dir"))
    cases = [(inp, "input", r"is the job's input"), (hard, "hard link to the input", r"is the job's input"),
             (c.model, "model", r"is the job's model"), (fifo, "fifo", r"is a fifo"),
             (link, "symlink to a char device", r"is a character device"), (c.path("a_dir"), "directory", r"is a directory"),
             (foreign, "foreign HDF5 file", r"not an output of sci-infer")]
    before = {p: (os.lstat(p).st_mode, digest(p) if os.path.isfile(p) and not os.path.islink(p) else None)
              for p, _, _ in cases}
    for path, what, needle in cases:
        for mode in (["--overwrite"], ["--resume"]):
            rc, so, se, dt = finish(c, start(c, inp, path, GEN + mode), path, f"-o {what} {mode}")
            expect(rc, se, EXIT_REFUSED, [needle, re.escape(os.path.basename(path))], f"-o {what} {mode}")
            assert not os.path.exists(path + ".journal"), f"-o {what} {mode}: a journal directory was created"
            assert not os.path.exists(path + ".lock"), f"-o {what} {mode}: its lock file was left"
        mode_now = os.lstat(path).st_mode
        assert mode_now == before[path][0], f"-o {what}: the file type changed"
        if before[path][1]:
            assert digest(path) == before[path][1], f"-o {what}: the file was modified"
        print(f"-o {what}: refused (rc 2), untouched")
    assert stat.S_ISCHR(os.stat(link).st_mode) and stat.S_ISFIFO(os.stat(fifo).st_mode)


# ---- a failed --resume removes only what it created -------------------------------------------
def case_failed_resume(c):
    inp = c.make_input("in.h5", 40, emb=False)
    ref = reference(c, inp)
    out = c.path("out.h5")
    c.run(2, inp, out, *GEN)
    before = digest(out)
    short = c.make_input("short.h5", 20, emb=False)  # the output holds records the input lacks
    rc, so, se, _ = finish(c, start(c, short, out, GEN + ["--resume"]), out, "resume with another input")
    expect(rc, se, EXIT_REFUSED, [r"out\.h5"], "resume with another input")
    assert not os.path.exists(out + ".journal"), "a failed --resume left a journal directory behind"
    assert digest(out) == before, "a failed --resume changed the output"
    c.run(2, inp, out, *GEN, "--resume")  # not refused with "output exists" or anything else
    assert_same_results(ref, out, "resume after a failed resume")
    # A journal that was there before the failed resume (an interrupted job) is kept.
    out2 = c.path("out2.h5")
    rc, so, se = faulty(c, inp, out2, GEN + ["--commit-seconds", "0.02"],
                        dict(call="fsync", rank=1, path=".journal/rank-1", after=0), "interrupted by EIO")
    assert rc == EXIT_RUN_FAILED and os.path.isdir(out2 + ".journal"), se
    kept = committed_bytes(out2)
    rc, so, se, _ = finish(c, start(c, inp, out2, GEN + ["--resume"], model=c.path("missing.gguf")), out2,
                           "resume with a missing model")
    expect(rc, se, EXIT_REFUSED, [r"missing\.gguf"], "resume with a missing model")
    assert committed_bytes(out2) == kept, "a failed --resume removed or changed an earlier job's journal"
    resume_matches(c, inp, out2, ref, "resume after a failed resume of an interrupted job")


# ---- SIGTERM: bounded stop latency ------------------------------------------------------------
def case_stop_latency(c):
    inp = c.make_input("in.h5", 400, emb=False)
    opts = gen(max_new_tokens=32, ignore_eos=True, commit_seconds=0.2, max_batch=8)
    ref = reference(c, inp, opts)
    out = c.path("out.h5")
    p = start(c, inp, out, opts)
    deadline = time.time() + LIMIT_S
    while committed_bytes(out) <= 64 and time.time() < deadline and p.poll() is None:
        time.sleep(0.02)
    assert p.poll() is None, "the job ended before it could be signalled"
    t0 = time.time()
    for pid in job_pids(c, out):  # as Slurm/PBS signal a job's tasks
        os.kill(pid, signal.SIGTERM)
    rc, so, se, _ = finish(c, p, out, "SIGTERM")
    latency = time.time() - t0
    print(f"SIGTERM -> every rank exited in {latency:.2f} s (bound {STOP_BOUND_S} s)")
    assert rc == EXIT_INTERRUPTED, f"SIGTERM: rc {rc}\n{se}"
    assert latency < STOP_BOUND_S, f"SIGTERM: stopping took {latency:.1f} s"
    resume_matches(c, inp, out, ref, "SIGTERM", opts)


# ---- no runnable record: commits and progress still happen; --claim-records 0 ends -------------
def case_no_runnable_records(c):
    n = 400
    inp = c.path("bad.h5")
    with h5py.File(inp, "w") as f:  # every record invalid; one chunk per record: one read per claim
        f.create_dataset("prompts", data=["alpha beta"] * n, dtype=h5py.string_dtype("utf-8"), chunks=(1,))
        f.create_dataset("max_new_tokens", data=-np.ones(n, np.int32), chunks=(1,))
    out = c.path("out.h5")
    # A slow input file system (each read +10 ms) keeps the job running long enough to look at it.
    p = start(c, inp, out, gen(claim_records=1, commit_seconds=0.1),
              dict(call="pread", path="bad.h5", delay_ms=10), tag="0.3")
    first_commit, t_end = None, time.time() + LIMIT_S
    while p.poll() is None and time.time() < t_end:
        if first_commit is None and committed_bytes(out) > 64:
            first_commit = time.time()
        time.sleep(0.05)
    ended = time.time()
    rc, so, se, _ = finish(c, p, out, "every record invalid")
    # Commits while the job runs, not only the final one at its end.
    grew = first_commit is not None and ended - first_commit > 0.3
    assert rc in (0, 4), f"every record invalid: rc {rc}\n{se}"  # 4 once failed records get their code
    assert grew, "no journal commit while every claimed record was invalid"
    assert "progress" in so, f"no progress line while every claimed record was invalid:\n{so}"
    with h5py.File(out) as f:
        st = f["results/status"][()]
    assert (st == 1).all(), st
    # --claim-records 0 must not loop forever: refused (option checks) or run with claims of 1.
    good = c.make_input("in.h5", 12, emb=False)
    ref = reference(c, good)
    out0 = c.path("out0.h5")
    rc, so, se, dt = finish(c, start(c, good, out0, gen(claim_records=0)), out0, "--claim-records 0")
    assert rc in (0, EXIT_REFUSED), f"--claim-records 0: rc {rc}\n{se}"
    if rc == 0:
        assert_same_results(ref, out0, "--claim-records 0")
    print(f"--claim-records 0: rc {rc} in {dt:.1f} s")


# ---- a tensor-parallel group: a non-leader's failure, the leader's failure, a shard as output ---
def case_tp_group_faults(c):
    inp = chunked_input(c, "in.h5", 60)
    opts = gen(tp=2, threads=1, commit_seconds=0.02)
    ref = reference(c, inp, opts)
    for name, fault, needles in (
            ("tp 2: input read EIO on rank 1 (not the group leader)",
             dict(call="pread", rank=1, errno="EIO", path="in.h5", after=14),
             [r"rank 1 of 2", r"in\.h5", r"/(prompts|seeds)\[\d+", r"Input/output error"]),
            ("tp 2: journal fsync EIO on rank 0 (the leader)",
             dict(call="fsync", rank=0, errno="EIO", path=".journal/rank-0", after=0),
             [r"rank 0 of 2", r"journal fsync failed: Input/output error"])):
        out = c.path(f"out_{fault['call']}.h5")
        rc, so, se = faulty(c, inp, out, opts, fault, name)
        expect(rc, se, EXIT_RUN_FAILED, needles, name)
        resume_matches(c, inp, out, ref, name, opts)
    # Shard files of a tp job are protected like the model.
    sh([c.bin, "shard", c.model, "--tp", 2, "-o", c.path("shards")])
    pattern = c.path("shards/tiny.tp2.rank{tp_rank}.gguf")
    shard1 = c.path("shards/tiny.tp2.rank1.gguf")
    before = digest(shard1)
    rc, so, se, _ = finish(c, start(c, inp, shard1, opts + ["--overwrite"], model=pattern), shard1, "-o a shard")
    expect(rc, se, EXIT_REFUSED, [r"is the job's model shard 1"], "-o a shard")
    assert digest(shard1) == before, "-o a shard: the shard was modified"
    print("-o a shard: refused (rc 2), untouched")


# ---- a corrupt gzip chunk in /prompts, read mid-run -------------------------------------------
def case_corrupt_chunk(c):
    n = 160
    inp = c.path("corrupt.h5")
    with h5py.File(inp, "w") as f:
        f.create_dataset("prompts", data=[f"alpha beta {i}" for i in range(n)], dtype=h5py.string_dtype("utf-8"),
                         chunks=(8,), compression="gzip")
        info = f["prompts"].id.get_chunk_info(15)  # records 120..127: claimed well after the start
    with open(inp, "r+b") as raw:  # garbage in the middle of that chunk's deflate stream
        raw.seek(info.byte_offset + info.size // 2)
        raw.write(b"\xff" * max(4, info.size // 4))
    out = c.path("out.h5")
    rc, so, se, dt = finish(c, start(c, inp, out, gen(claim_records=2, commit_seconds=0.05)), out, "corrupt chunk")
    print(f"corrupt gzip chunk: rc={rc} in {dt:.1f} s")
    # A part-way failure (5, naming the file and dataset), or, where the input reader turns a bad
    # chunk into failed records, a complete job with those records failed (4).
    assert rc in (EXIT_RUN_FAILED, 4), f"corrupt chunk: rc {rc}\n{se}"
    if rc == EXIT_RUN_FAILED:
        expect(rc, se, EXIT_RUN_FAILED, [r"corrupt\.h5", r"/prompts\[\d+:\d+\]"], "corrupt chunk")
    else:
        with h5py.File(out) as f:
            err = [e.decode() if isinstance(e, bytes) else e for e in f["results/error"][120:128]]
        assert all("/prompts" in e for e in err), err


if __name__ == "__main__":
    main({n[5:]: f for n, f in dict(globals()).items() if n.startswith("case_")})
