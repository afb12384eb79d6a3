"""The job scripts in examples/jobs under a fake scheduler (test/scheduler/fake_scheduler.sh):
preempted mid-run by SIGTERM to the batch shell alone (as PBS, or Slurm's --signal=B:TERM, sends
it), they must forward the signal to the launcher through their trap, see it exit 75, resubmit
the user's own script (PBS) or requeue the job (Slurm), and the resubmitted job must finish the
output with --resume, bit for bit equal to an uninterrupted run.

CASE: pbs_preempt (aurora.pbs, polaris.pbs) | slurm_preempt (dgx.sbatch) | pbs_walltime (the PBS
scripts stop themselves before the walltime, from qstat) | gpu_binding (SCI_INFER_DEVICE=gpu: the
device each rank is given) | stop_grace (a launcher that ignores SIGTERM is killed after
SCI_INFER_STOP_GRACE_S and the job is resubmitted all the same)."""
import os
import pwd
import shutil
import signal
import subprocess
import time

import h5py

from launcher_support import assert_same_results, committed_bytes, main

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "..", "scheduler", "fake_scheduler.sh")
JOBS = os.path.join(HERE, "..", "..", "examples", "jobs")
N_RECORDS = 600
GEN = ["--max-new-tokens", "32", "--seed", "9", "--temperature", "0.7", "--ignore-eos", "--claim-records", "4",
       "--max-batch", "8", "--commit-seconds", "0.2"]
RUN_ARGS = " ".join(GEN + ["--progress-seconds", "1"])  # the job scripts' options (Ctx.run adds the last two)


def events(sched):
    with open(os.path.join(sched, "events.log")) as f:
        return f.read()


def queued(sched):
    """The fake's queue: one (kind, script, job id, [NAME=value...]) per job waiting to start."""
    qdir = os.path.join(sched, "queue")
    jobs = []
    for name in sorted(os.listdir(qdir)) if os.path.isdir(qdir) else []:
        out = subprocess.run(["bash", "-c", 'job_vars=(); source "$1"; printf "%s\\n" "$job_kind" "$job_script" '
                              '"$job_id" "${job_vars[@]}"', "sh", os.path.join(qdir, name)],
                             capture_output=True, text=True, check=True).stdout.splitlines()
        jobs.append((out[0], out[1], out[2], out[3:]))
    return jobs


def job_env(c, sched, out):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCI_INFER_", "PBS_", "SLURM_"))}
    env.update(FAKE_SCHED_DIR=sched, FAKE_MPIEXEC=c.mpiexec, FAKE_SLURM_NTASKS="2", FAKE_SLURM_CPUS_PER_TASK="1",
               # What a user would pass with qsub -v / sbatch --export (the scripts' defaults name
               # /lus/flare, /eagle, $SCRATCH): the resubmission must carry these over.
               SCI_INFER_MODEL=c.model, SCI_INFER_INPUT=c.path("in.h5"), SCI_INFER_OUTPUT=out,
               SCI_INFER_RUN_ARGS=RUN_ARGS, SCI_INFER_BIN=c.bin, SCI_INFER_RANKS_PER_NODE="2",
               SCI_INFER_THREADS_PER_RANK="1", SCI_INFER_STAGE_DIR=c.path("node_local"))
    return env


def preempt_and_resume(c, kind, script_name, ref, walltime=None):
    """walltime=None: SIGTERM to the batch shell mid-run; walltime=HH:MM:SS: no signal, the job
    must stop itself SCI_INFER_STOP_MARGIN_S (300 s) before that limit (PBS)."""
    name = script_name.replace(".", "_")
    sched, out = c.path(f"sched_{name}"), c.path(f"{name}.h5")
    user_dir = c.path(f"project_{name}")  # the user's copy of examples/jobs, submitted from there
    shutil.copytree(JOBS, user_dir)
    script = os.path.join(user_dir, script_name)
    env = job_env(c, sched, out)
    if walltime:
        env.update(FAKE_PBS_WALLTIME=walltime, SCI_INFER_STOP_MARGIN_S="300")

    # 1. The job starts; once results are committed, SIGTERM goes to the batch shell alone.
    p = subprocess.Popen([FAKE, "start", kind, script], cwd=user_dir, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    if not walltime:
        deadline = time.time() + 60
        while committed_bytes(out) <= 64 and time.time() < deadline and p.poll() is None:
            time.sleep(0.05)
        time.sleep(0.3)
        assert p.poll() is None, f"{script_name} ended before it could be interrupted:\n{p.communicate()[0]}"
        os.kill(p.pid, signal.SIGTERM)
    log, _ = p.communicate(timeout=120)
    ev = events(sched)
    what = f"{script_name} (interrupted)\n--- job output\n{log}\n--- fake scheduler events\n{ev}"
    assert p.returncode == 75, f"expected exit 75, got {p.returncode}: {what}"
    signalled = "USR1" if walltime else "TERM"  # the stop timer signals the shell with SIGUSR1
    assert f"got SIG{signalled}: forwarding SIGTERM to the launcher" in log, f"the job's trap did not run: {what}"
    if walltime:
        assert "walltime left" in log and f"qstat -f " in ev, f"no stop timer from qstat's walltime: {what}"
    launcher = "mpiexec" if kind == "pbs" else "srun"
    # The fake launcher can only have been signalled by the job's trap: the test signalled the shell.
    forwarded = [ln for ln in ev.splitlines() if ln.startswith(f"{launcher} got SIGTERM: forwarded to ranks")]
    assert forwarded and len(forwarded[0].split("ranks", 1)[1].split()) == 2, f"no SIGTERM reached 2 ranks: {what}"
    assert f"{launcher} exit 75" in ev, f"the launcher did not exit 75: {what}"
    with h5py.File(out, "r") as f:
        done = int((f["results/status"][()] != -1).sum())
    # The stop timer may fire before the first commit on a slow machine: then only "not finished".
    assert (0 if walltime else 1) <= done < n_records(c), f"{done} records done at the interruption: {what}"

    # 2. The scheduler holds exactly one follow-up job: the user's own script, or the same job requeued.
    jobs = queued(sched)
    assert len(jobs) == 1, f"expected one resubmission, got {jobs}: {what}"
    jkind, jscript, jid, jvars = jobs[0]
    if kind == "pbs":
        assert jkind == "pbs" and os.path.samefile(jscript, script), f"resubmitted {jscript}, not {script}: {what}"
        assert "/spool/" not in jscript, what
        assert "SCI_INFER_RESUBMITS=1" in jvars and f"SCI_INFER_OUTPUT={out}" in jvars, f"qsub -v lost settings: {jvars}"
        assert f"SCI_INFER_RUN_ARGS={RUN_ARGS}" in jvars, jvars
    else:
        assert jkind == "slurm-requeue" and f"scontrol requeue {jid}" in ev, f"not requeued: {what}"
        step = [ln for ln in ev.splitlines() if ln.startswith("srun ") and " run --model " in ln]
        assert step and "SRUN_CPUS_PER_TASK=1)" in step[0], f"srun without SRUN_CPUS_PER_TASK: {what}"
    staged = os.path.join(c.path("node_local"), "sci_infer_" + (os.environ.get("USER") or pwd.getpwuid(os.getuid()).pw_name),
                          os.path.basename(c.model))
    assert f"--model {staged} " in ev, f"the launcher did not get the node-local model copy {staged}: {what}"
    with open(staged, "rb") as a, open(c.model, "rb") as b:
        assert a.read() == b.read(), "the staged model differs from the original"

    # 3. The scheduler starts the resubmitted job (without the test's environment: only what the
    #    submission carried); it resumes, finishes, and submits nothing more.
    clean = {k: v for k, v in env.items() if not k.startswith(("SCI_INFER_", "FAKE_PBS_WALLTIME"))}
    r = subprocess.run([FAKE, "start-next"], cwd=c.dir, env=clean, capture_output=True, text=True, timeout=120)
    ev2 = events(sched)[len(ev):]
    what = f"{script_name} (resubmitted)\n--- job output\n{r.stdout}{r.stderr}\n--- fake scheduler events\n{ev2}"
    assert r.returncode == 0, f"expected exit 0, got {r.returncode}: {what}"
    assert " --resume " in ev2, f"the resubmitted job did not pass --resume: {what}"
    assert not queued(sched), f"a finished job resubmitted itself: {queued(sched)}"
    assert not os.path.exists(out + ".journal"), "journal left behind after the job finished"
    assert_same_results(ref, out, f"{script_name}: preempted + resubmitted vs uninterrupted")
    print(f"{script_name}: exit 75 after {done}/{n_records(c)} records, resubmitted, resumed to an identical output")


def n_records(c):
    with h5py.File(c.path("in.h5"), "r") as f:
        return len(f["prompts"])


def reference(c, n=N_RECORDS):
    c.make_input("in.h5", n, emb=False)
    ref = c.path("ref.h5")
    c.run(2, c.path("in.h5"), ref, *GEN)
    return ref


def case_pbs_preempt(c):
    ref = reference(c)
    for script in ("aurora.pbs", "polaris.pbs"):
        preempt_and_resume(c, "pbs", script, ref)


def case_slurm_preempt(c):
    preempt_and_resume(c, "slurm", "dgx.sbatch", reference(c))


def case_pbs_walltime(c):
    # Margin 300 s and a walltime of 300 s plus a third of what the uninterrupted job took here
    # (timed, not assumed: the machine's speed varies 3x): the job stops itself mid-run, with no
    # signal from outside.
    t0 = time.time()
    ref = reference(c, 3000)
    took = time.time() - t0
    stop_after = max(1, int(took / 3))
    assert took >= stop_after + 1.5, f"the reference job took only {took:.1f} s: too short to stop mid-run"
    preempt_and_resume(c, "pbs", "polaris.pbs", ref, walltime=f"00:05:{stop_after:02d}")


def case_gpu_binding(c):
    # The launcher is replaced by a probe that records, per rank, the device variables it was
    # started with. Expected values: Polaris' GPUs are numbered opposite to its CPU cores (local
    # rank 0 -> GPU 3), Aurora gives one tile per rank (FLAT: tile index; COMPOSITE: gpu.tile).
    probe = c.path("probe.sh")
    with open(probe, "w") as f:
        f.write('#!/bin/bash\necho "${CUDA_VISIBLE_DEVICES-unset} ${ZE_AFFINITY_MASK-unset}" > '
                '"$PROBE_DIR/rank$PMI_RANK"\n')
    os.chmod(probe, 0o755)
    cases = [("polaris.pbs", "pbs", {}, ["3 unset", "2 unset"]),
             ("aurora.pbs", "pbs", {}, ["unset 0", "unset 1"]),
             ("aurora.pbs", "pbs", {"ZE_FLAT_DEVICE_HIERARCHY": "COMPOSITE"}, ["unset 0.0", "unset 0.1"]),
             ("dgx.sbatch", "slurm", {}, None)]
    for i, (script_name, kind, extra, want) in enumerate(cases):
        sched, probe_dir, user_dir = c.path(f"sched_gpu{i}"), c.path(f"probe{i}"), c.path(f"project_gpu{i}")
        os.makedirs(probe_dir)
        shutil.copytree(JOBS, user_dir)
        env = job_env(c, sched, c.path(f"gpu{i}.h5"))
        env = {k: v for k, v in env.items() if k not in ("CUDA_VISIBLE_DEVICES", "ZE_AFFINITY_MASK")}
        env.update(SCI_INFER_DEVICE="gpu", SCI_INFER_BIN=probe, PROBE_DIR=probe_dir, **extra)
        r = subprocess.run([FAKE, "start", kind, os.path.join(user_dir, script_name)], cwd=user_dir, env=env,
                           capture_output=True, text=True, timeout=120)
        what = f"{script_name} {extra}: exit {r.returncode}\n{r.stdout}{r.stderr}\n{events(sched)}"
        assert r.returncode == 0, what
        assert "sci-infer has no GPU" in r.stdout, f"the job does not say that ranks still run on CPU: {what}"
        if want is None:  # Slurm binds the GPUs itself: the script must ask srun for one per rank
            step = [ln for ln in events(sched).splitlines() if ln.startswith("srun ") and " run --model " in ln]
            assert step and "--gpus-per-task=1 --gpu-bind=closest" in step[0], what
        else:
            got = [open(os.path.join(probe_dir, f"rank{k}")).read().strip() for k in range(2)]
            assert got == want, f"{script_name} {extra}: rank devices {got}, expected {want}\n{what}"
        print(f"{script_name} {extra}: SCI_INFER_DEVICE=gpu binds {want or 'srun --gpus-per-task=1'}")


def case_stop_grace(c):
    # A stand-in launcher that ignores SIGTERM (a rank stuck in a long step, say): the job must not
    # wait for the scheduler's SIGKILL, which would take the batch shell and its resubmission too.
    stubborn = c.path("stubborn.sh")
    with open(stubborn, "w") as f:
        f.write("#!/bin/bash\ntrap '' TERM\necho started > \"$PROBE_DIR/rank$PMI_RANK\"\nsleep 60\n")
    os.chmod(stubborn, 0o755)
    for script_name, kind in (("polaris.pbs", "pbs"), ("dgx.sbatch", "slurm")):
        name = script_name.replace(".", "_")
        sched, probe_dir, user_dir = c.path(f"sched_{name}"), c.path(f"probe_{name}"), c.path(f"project_{name}")
        os.makedirs(probe_dir)
        shutil.copytree(JOBS, user_dir)
        env = job_env(c, sched, c.path(f"{name}.h5"))
        env.update(SCI_INFER_BIN=stubborn, PROBE_DIR=probe_dir, SCI_INFER_STOP_GRACE_S="2")
        start = time.time()
        p = subprocess.Popen([FAKE, "start", kind, os.path.join(user_dir, script_name)], cwd=user_dir, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        while len(os.listdir(probe_dir)) < 2 and time.time() < start + 30 and p.poll() is None:
            time.sleep(0.05)
        os.kill(p.pid, signal.SIGTERM)
        log, _ = p.communicate(timeout=50)
        took = time.time() - start
        what = f"{script_name}: exit {p.returncode} after {took:.1f} s\n{log}\n{events(sched)}"
        assert p.returncode == 75, what
        assert "did not stop within 2 s: killing it" in log, what
        assert took < 30, f"the job waited for the stubborn launcher (sleep 60): {what}"
        assert len(queued(sched)) == 1, f"not resubmitted: {what}"
        left = subprocess.run(["pgrep", "-f", stubborn], capture_output=True, text=True).stdout.split()
        assert not left, f"processes of the killed launcher still run: {left}"
        print(f"{script_name}: a launcher ignoring SIGTERM was killed after the grace time; resubmitted ({took:.1f} s)")


if __name__ == "__main__":
    main({n[5:]: f for n, f in dict(globals()).items() if n.startswith("case_")})
